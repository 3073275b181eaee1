package mongostore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/sealed"
)

var _ actors.Store = (*Store)(nil)

// Collection names.
const (
	usersColl     = "users"
	familiesColl  = "refresh_families"
	customersColl = "customers"
	auditColl     = "audit"
	claimsColl    = "write_claims"

	conversationsColl = "conversations"
	messagesColl      = "messages"
	pendingColl       = "pending_statuses"
	inboxColl         = "inbox"
	notificationsColl = "notifications"
	openConvsColl     = "open_conversations"
	wamidsColl        = "message_wamids"
	webhookErrorsColl = "webhook_errors"
)

// Client-wide limits. Every operation is bounded by opTimeout even when the
// caller's context has no deadline; a server that cannot be selected within
// selectTimeout makes the operation fail with actors.ErrUnavailable.
const (
	connectTimeout = 5 * time.Second
	selectTimeout  = 5 * time.Second
	opTimeout      = 10 * time.Second
	closeTimeout   = 5 * time.Second
)

// Page sizes for ListCustomers and ListAudit: a limit below 1 is
// defaultLimit, above maxLimit is maxLimit.
const (
	defaultLimit = 20
	maxLimit     = 100
)

// Store keeps users, refresh-token families, customers and the audit log in
// one MongoDB database. It is safe for concurrent use; see the package
// documentation for its guarantees.
type Store struct {
	client    *mongo.Client
	users     *mongo.Collection
	families  *mongo.Collection
	customers *mongo.Collection
	audit     *mongo.Collection
	claims    *mongo.Collection

	conversations *mongo.Collection
	messages      *mongo.Collection
	pending       *mongo.Collection
	inbox         *mongo.Collection
	notifications *mongo.Collection
	// openConvs and wamids are the uniqueness guards (see guard.go).
	openConvs *mongo.Collection
	wamids    *mongo.Collection
	// epochs are the conversation keys' epochs (fence.go).
	epochs *mongo.Collection
	// webhookErrors keeps value-level webhook errors (webhookerror.go).
	webhookErrors *mongo.Collection
	// media keeps media records (media.go).
	media *mongo.Collection
	// calls, callEvents and callAgents keep calls, their callbacks and the
	// guard of one live call per agent (call.go).
	calls      *mongo.Collection
	callEvents *mongo.Collection
	callAgents *mongo.Collection

	log *zap.Logger

	// keys seal customer and message fields and media bytes at rest; nil
	// is encryption off (see sealing.go).
	keys *sealed.Keyring

	// now is the store's clock for write claims (see claim.go).
	now func() time.Time
	// beforeFencedSave, when set (tests only), runs in a fenced
	// AppendMessageAndSave between taking the wamid guard and the
	// conversation save: an acquisition made there is one racing the write.
	beforeFencedSave func()

	closeOnce sync.Once
	closeErr  error
}

// Open connects to the MongoDB server at uri with at most poolSize
// connections, checks that it answers, and creates the indexes the store
// needs in database (each only when missing, so reopening is cheap). An
// unreachable server is actors.ErrUnavailable.
func Open(ctx context.Context, uri, database string, poolSize uint64, log *zap.Logger, opts ...Option) (*Store, error) {
	if database == "" {
		return nil, errors.New("open mongodb store: empty database name")
	}
	if poolSize == 0 {
		return nil, errors.New("open mongodb store: pool size must be positive")
	}
	if log == nil {
		log = zap.NewNop()
	}
	client, err := mongo.Connect(clientOptions(uri, poolSize))
	if err != nil {
		return nil, fmt.Errorf("open mongodb store %s: %w", database, err)
	}
	db := client.Database(database)
	s := &Store{
		client:    client,
		users:     db.Collection(usersColl),
		families:  db.Collection(familiesColl),
		customers: db.Collection(customersColl),
		audit:     db.Collection(auditColl),
		claims:    db.Collection(claimsColl),

		conversations: db.Collection(conversationsColl),
		messages:      db.Collection(messagesColl),
		pending:       db.Collection(pendingColl),
		inbox:         db.Collection(inboxColl),
		notifications: db.Collection(notificationsColl),
		openConvs:     db.Collection(openConvsColl),
		wamids:        db.Collection(wamidsColl),
		epochs:        db.Collection(epochsColl),
		webhookErrors: db.Collection(webhookErrorsColl),
		media:         db.Collection(mediaColl),
		calls:         db.Collection(callsColl),
		callEvents:    db.Collection(callEventsColl),
		callAgents:    db.Collection(callAgentsColl),

		log: log.With(zap.String("store", "mongodb"), zap.String("database", database)),
		now: time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open mongodb store %s: %w", database, err)
	}
	if err := s.backfillSkeletons(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open mongodb store %s: %w", database, err)
	}
	if err := s.ensureIndexes(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open mongodb store %s: %w", database, err)
	}
	if err := s.carrySendClaims(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open mongodb store %s: %w", database, err)
	}
	s.log.Info("mongodb store opened", zap.Uint64("pool_size", poolSize), zap.Bool("encryption_at_rest", s.keys.On()))
	return s, nil
}

// clientOptions are the driver options of a store on uri.
func clientOptions(uri string, poolSize uint64) *options.ClientOptions {
	return options.Client().
		ApplyURI(uri).
		SetAppName("wacc-engine").
		SetMaxPoolSize(poolSize).
		SetConnectTimeout(connectTimeout).
		SetServerSelectionTimeout(selectTimeout).
		SetTimeout(opTimeout)
}

// index is one secondary index the store relies on.
type index struct {
	coll   string
	name   string
	keys   bson.D
	unique bool
}

// indexes lists every secondary index by collection. Names are fixed so
// that reopening finds them; the query each one serves is beside it.
var indexes = []index{
	// UserByEmail; uniqueness of emails.
	{coll: usersColl, name: "email_unique", keys: bson.D{{Key: "email", Value: 1}}, unique: true},
	// UserByEmailSkeleton; uniqueness of skeletons (look-alike addresses).
	{coll: usersColl, name: "emailSkeleton_unique", keys: bson.D{{Key: "emailSkeleton", Value: 1}}, unique: true},
	// ListUsers, all roles or one.
	{coll: usersColl, name: "createdAt_id", keys: bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}},
	{coll: usersColl, name: "role_createdAt_id", keys: bson.D{{Key: "role", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}},
	// RevokeUserFamilies.
	{coll: familiesColl, name: "userId", keys: bson.D{{Key: "userId", Value: 1}}},
	// DeleteExpiredFamilies.
	{coll: familiesColl, name: "expiresAt", keys: bson.D{{Key: "expiresAt", Value: 1}}},
	// CustomerByPhone; uniqueness of phones.
	{coll: customersColl, name: "phone_unique", keys: bson.D{{Key: "phone", Value: 1}}, unique: true},
	// ListCustomers, newest first.
	{coll: customersColl, name: "createdAt_id", keys: bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}},
	// ListCustomers by tag (multikey).
	{coll: customersColl, name: "tags", keys: bson.D{{Key: "tags", Value: 1}}},
	// ListAudit: unfiltered, by actor, by action; newest first.
	{coll: auditColl, name: "at_id", keys: bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}},
	{coll: auditColl, name: "actorId_at_id", keys: bson.D{{Key: "actorId", Value: 1}, {Key: "at", Value: -1}, {Key: "_id", Value: -1}}},
	{coll: auditColl, name: "action_at_id", keys: bson.D{{Key: "action", Value: 1}, {Key: "at", Value: -1}, {Key: "_id", Value: -1}}},
	// OpenConversation (the open one of a number and customer).
	{coll: conversationsColl, name: "phoneNumberId_waId", keys: bson.D{{Key: "phoneNumberId", Value: 1}, {Key: "waId", Value: 1}}},
	// DueConversations and NextTimer.
	{coll: conversationsColl, name: "nextTimerAt", keys: bson.D{{Key: "nextTimerAt", Value: 1}}},
	// CountOpenByAssignee; ListConversations by assignee and state.
	{coll: conversationsColl, name: "assigneeId_state", keys: bson.D{{Key: "assigneeId", Value: 1}, {Key: "state", Value: 1}}},
	// ListConversations, most recently updated first: unfiltered, by customer;
	// OpenConversationsSince (rehydration after a restart) walks updatedAt_id.
	{coll: conversationsColl, name: "updatedAt_id", keys: bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: -1}}},
	{coll: conversationsColl, name: "customerId_updatedAt", keys: bson.D{{Key: "customerId", Value: 1}, {Key: "updatedAt", Value: -1}}},
	// ListMessages, newest first.
	{coll: messagesColl, name: "conversationId_createdAt_id", keys: bson.D{{Key: "conversationId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}},
	// MessageByWaID (uniqueness is the message_wamids guard's: FerretDB has
	// no partial or sparse unique index).
	{coll: messagesColl, name: "waMessageId", keys: bson.D{{Key: "waMessageId", Value: 1}}},
	// TakePendingStatuses.
	{coll: pendingColl, name: "waMessageId", keys: bson.D{{Key: "waMessageId", Value: 1}}},
	// CountPricing: the priced messages of a time range.
	{coll: messagesColl, name: "pricing_createdAt", keys: bson.D{{Key: "pricing.phoneNumberId", Value: 1}, {Key: "createdAt", Value: 1}}},
	// ListWebhookErrors: newest first, of every number or of one.
	{coll: webhookErrorsColl, name: "receivedAt_id", keys: bson.D{{Key: "receivedAt", Value: -1}, {Key: "_id", Value: -1}}},
	{coll: webhookErrorsColl, name: "phoneNumberId_receivedAt_id", keys: bson.D{{Key: "phoneNumberId", Value: 1}, {Key: "receivedAt", Value: -1}, {Key: "_id", Value: -1}}},
	// ListNotifications, newest first.
	{coll: notificationsColl, name: "userId_createdAt_id", keys: bson.D{{Key: "userId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}},
}

// ensureIndexes creates the indexes that do not exist yet. Each index gets its
// own createIndexes command: creating an identical index again is a no-op on
// MongoDB and FerretDB alike, whereas FerretDB v1.24 fails a command that
// repeats several existing indexes at once.
func (s *Store) ensureIndexes(ctx context.Context) error {
	db := s.users.Database()
	for _, ix := range indexes {
		opts := options.Index().SetName(ix.name)
		if ix.unique {
			opts.SetUnique(true)
		}
		model := mongo.IndexModel{Keys: ix.keys, Options: opts}
		if _, err := db.Collection(ix.coll).Indexes().CreateOne(ctx, model); err != nil {
			return classify(fmt.Sprintf("create index %s.%s", ix.coll, ix.name), err)
		}
	}
	return nil
}

// Ping reports whether the server answers; actors.ErrUnavailable when not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return classify("ping mongodb", err)
	}
	return nil
}

// Close disconnects from the server, waiting up to closeTimeout for
// operations in flight. It is safe to call twice; later calls return the
// first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := s.client.Disconnect(ctx); err != nil {
			s.closeErr = fmt.Errorf("close mongodb store: %w", err)
			return
		}
		s.log.Info("mongodb store closed")
	})
	return s.closeErr
}

// classify wraps err from the driver with op and the matching actors
// sentinel. Not-found and duplicate-key errors drop the driver's text, which
// can quote the offending key (an email or phone number).
func classify(op string, err error) error {
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%s: %w", op, actors.ErrDuplicate)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", op, actors.ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// internalErrorCode is the server error InternalError. FerretDB v1 answers
// with it whenever its backend (PostgreSQL or SQLite) fails a command: a
// broken or timed-out backend connection, a busy database (see doc.go,
// "FerretDB on PostgreSQL").
const internalErrorCode = 1

// unavailable reports whether err means the server could not be reached,
// did not answer in time, or could not carry out the command (an
// InternalError). The outcome of a write that failed so is unknown.
func unavailable(err error) bool {
	var sel topology.ServerSelectionError
	var srv mongo.ServerError
	return mongo.IsNetworkError(err) ||
		mongo.IsTimeout(err) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.As(err, &sel) ||
		(errors.As(err, &srv) && srv.HasErrorCode(internalErrorCode))
}

// pageWindow turns a 1-based page and a limit into a limit and a skip. Page
// below 1 is 1; limit is clamped to [1, maxLimit], defaulting to
// defaultLimit.
func pageWindow(page, limit int) (lim, skip int64) {
	if page < 1 {
		page = 1
	}
	if limit < 1 {
		limit = defaultLimit
	}
	if limit > maxLimit {
		limit = maxLimit
	}
	return int64(limit), int64(page-1) * int64(limit)
}

// utc returns t in UTC, or the zero time for a zero t.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// findAll runs a find and decodes every document (All closes the cursor).
func findAll[T any](ctx context.Context, c *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder) ([]T, error) {
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	docs := []T{}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	return docs, nil
}

// findOne decodes the first document of c matching filter (in the sort
// order of opts, with its projection), like FindOne; mongo.ErrNoDocuments
// when none matches. It is a find with limit 1 rather than FindOne because
// the driver sends maxTimeMS with FindOne (whenever ctx has a deadline, and
// the client-wide opTimeout gives every operation one) but never with Find,
// and FerretDB v1 answers a find carrying maxTimeMS in a way that can break
// the next command of another client (see doc.go, "FerretDB on
// PostgreSQL"). The operation stays bounded by ctx on the client side.
func findOne[T any](ctx context.Context, c *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder) (T, error) {
	var doc T
	if opts == nil {
		opts = options.Find()
	}
	cur, err := c.Find(ctx, filter, opts.SetLimit(1))
	if err != nil {
		return doc, err
	}
	defer func() { _ = cur.Close(ctx) }()
	if !cur.Next(ctx) {
		if err := cur.Err(); err != nil {
			return doc, err
		}
		return doc, mongo.ErrNoDocuments
	}
	err = cur.Decode(&doc)
	return doc, err
}

// findPage reads one page of c (sorted, projected, paged) and the total
// matching filter, and converts each document with record. The page and
// the total are two reads, not one snapshot.
func findPage[D, R any](ctx context.Context, op string, c *mongo.Collection, filter bson.D, projection, sort bson.D, page, limit int, record func(D) R) ([]R, int, error) {
	lim, skip := pageWindow(page, limit)
	opts := options.Find().SetProjection(projection).SetSort(sort).SetSkip(skip).SetLimit(lim)
	docs, err := findAll[D](ctx, c, filter, opts)
	if err != nil {
		return nil, 0, classify(op, err)
	}
	total, err := c.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, classify(op+": count", err)
	}
	out := make([]R, 0, len(docs))
	for _, d := range docs {
		out = append(out, record(d))
	}
	return out, int(total), nil
}
