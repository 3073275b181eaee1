package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

var _ actors.ConversationsStore = (*Store)(nil)

// conversationDoc is a document of the conversations collection. Optional
// times are absent while zero; updatedAt and createdAt are always stored
// because conversations are listed by updatedAt.
type conversationDoc struct {
	ID             string     `bson:"_id"`
	CustomerID     string     `bson:"customerId"`
	PhoneNumberID  string     `bson:"phoneNumberId"`
	WaID           string     `bson:"waId"`
	State          string     `bson:"state"`
	AssigneeID     string     `bson:"assigneeId"`
	LastInboundAt  *time.Time `bson:"lastInboundAt,omitempty"`
	LastOutboundAt *time.Time `bson:"lastOutboundAt,omitempty"`
	ExpiresAt      *time.Time `bson:"expiresAt,omitempty"`
	NextTimerAt    *time.Time `bson:"nextTimerAt,omitempty"`
	WarnedAt       *time.Time `bson:"warnedAt,omitempty"`
	Unread         int64      `bson:"unread"`
	Seq            int64      `bson:"seq"`
	Version        int64      `bson:"version"`
	CreatedAt      time.Time  `bson:"createdAt"`
	UpdatedAt      time.Time  `bson:"updatedAt"`
	ClosedAt       *time.Time `bson:"closedAt,omitempty"`
	// Epoch is the newest epoch of the key that wrote or acquired the
	// conversation (fence.go); absent when written unfenced.
	Epoch int64 `bson:"epoch,omitempty"`
}

var conversationProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "customerId", Value: 1}, {Key: "phoneNumberId", Value: 1},
	{Key: "waId", Value: 1}, {Key: "state", Value: 1}, {Key: "assigneeId", Value: 1},
	{Key: "lastInboundAt", Value: 1}, {Key: "lastOutboundAt", Value: 1}, {Key: "expiresAt", Value: 1},
	{Key: "nextTimerAt", Value: 1}, {Key: "warnedAt", Value: 1}, {Key: "unread", Value: 1},
	{Key: "seq", Value: 1}, {Key: "version", Value: 1}, {Key: "createdAt", Value: 1},
	{Key: "updatedAt", Value: 1}, {Key: "closedAt", Value: 1},
}

// conversationState is the part of a conversation SaveConversation and the
// open-conversation guard check.
type conversationState struct {
	PhoneNumberID string `bson:"phoneNumberId"`
	WaID          string `bson:"waId"`
	State         string `bson:"state"`
	Version       int64  `bson:"version"`
	Epoch         int64  `bson:"epoch"`
}

var conversationStateProjection = bson.D{
	{Key: "phoneNumberId", Value: 1}, {Key: "waId", Value: 1}, {Key: "state", Value: 1}, {Key: "version", Value: 1},
	{Key: "epoch", Value: 1},
}

// conversationSort is the listing order: most recently updated first.
var conversationSort = bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: -1}}

// notClosed selects conversations that can still take messages.
var notClosed = bson.D{{Key: "$ne", Value: actors.StateClosed}}

// openKey is the open_conversations key of a (business number, customer).
// Neither part contains '/': both are digit strings from WhatsApp.
func openKey(phoneNumberID, waID string) string { return phoneNumberID + "/" + waID }

func conversationClaimKey(id string, version int64) string {
	return fmt.Sprintf("conversation/%s/%d", id, version)
}

func toConversationDoc(c actors.Conversation) conversationDoc {
	return conversationDoc{
		ID:             c.ID,
		CustomerID:     c.CustomerID,
		PhoneNumberID:  c.PhoneNumberID,
		WaID:           c.WaID,
		State:          c.State,
		AssigneeID:     c.AssigneeID,
		LastInboundAt:  optTime(c.LastInboundAt),
		LastOutboundAt: optTime(c.LastOutboundAt),
		ExpiresAt:      optTime(c.ExpiresAt),
		NextTimerAt:    optTime(c.NextTimerAt),
		WarnedAt:       optTime(c.WarnedAt),
		Unread:         int64(c.Unread),
		Seq:            c.Seq,
		Version:        c.Version,
		CreatedAt:      c.CreatedAt,
		UpdatedAt:      c.UpdatedAt,
		ClosedAt:       optTime(c.ClosedAt),
		Epoch:          c.Epoch,
	}
}

func (d conversationDoc) conversation() actors.Conversation {
	return actors.Conversation{
		ID:             d.ID,
		CustomerID:     d.CustomerID,
		PhoneNumberID:  d.PhoneNumberID,
		WaID:           d.WaID,
		State:          d.State,
		AssigneeID:     d.AssigneeID,
		LastInboundAt:  fromOpt(d.LastInboundAt),
		LastOutboundAt: fromOpt(d.LastOutboundAt),
		ExpiresAt:      fromOpt(d.ExpiresAt),
		NextTimerAt:    fromOpt(d.NextTimerAt),
		WarnedAt:       fromOpt(d.WarnedAt),
		Unread:         int(d.Unread),
		Seq:            d.Seq,
		Version:        d.Version,
		CreatedAt:      utc(d.CreatedAt),
		UpdatedAt:      utc(d.UpdatedAt),
		ClosedAt:       fromOpt(d.ClosedAt),
	}
}

// CreateConversation inserts c with Version 1. actors.ErrDuplicate when the
// id is taken or another conversation of the same (PhoneNumberID, WaID) is
// not closed. A conversation that is not closed first takes the
// open_conversations guard of its (PhoneNumberID, WaID) (see guard.go) and
// gives it back when the insert fails.
func (s *Store) CreateConversation(ctx context.Context, c actors.Conversation) error {
	op := "create conversation " + c.ID
	c.Version = 1
	if err := s.checkEpoch(ctx, op, c.PhoneNumberID, c.WaID, c.Epoch); err != nil {
		return err
	}
	if !c.Open() {
		if _, err := s.conversations.InsertOne(ctx, toConversationDoc(c)); err != nil {
			return classify(op, err)
		}
		return nil
	}
	key := openKey(c.PhoneNumberID, c.WaID)
	at, err := s.take(ctx, s.openGuard(), key, c.ID, false)
	if errors.Is(err, errTaken) {
		return fmt.Errorf("%s: customer has an open conversation on this number: %w", op, actors.ErrDuplicate)
	}
	if err != nil {
		return classify(op+": take open guard", err)
	}
	if _, err := s.conversations.InsertOne(ctx, toConversationDoc(c)); err != nil {
		s.drop(ctx, s.openGuard(), key, c.ID, at)
		return classify(op, err)
	}
	if c.Epoch != 0 {
		if err := s.fenceCreated(ctx, c); err != nil {
			return classify(op+": raise its epoch", err)
		}
	}
	return nil
}

// Conversation returns the conversation or actors.ErrNotFound.
func (s *Store) Conversation(ctx context.Context, id string) (actors.Conversation, error) {
	return s.findConversation(ctx, "conversation "+id, bson.D{{Key: "_id", Value: id}})
}

// OpenConversation returns the (phoneNumberID, waID) conversation that is
// not closed, or actors.ErrNotFound.
func (s *Store) OpenConversation(ctx context.Context, phoneNumberID, waID string) (actors.Conversation, error) {
	filter := bson.D{
		{Key: "phoneNumberId", Value: phoneNumberID},
		{Key: "waId", Value: waID},
		{Key: "state", Value: notClosed},
	}
	return s.findConversation(ctx, "open conversation of number "+phoneNumberID, filter)
}

func (s *Store) findConversation(ctx context.Context, op string, filter bson.D) (actors.Conversation, error) {
	d, err := findOne[conversationDoc](ctx, s.conversations, filter, options.Find().SetProjection(conversationProjection))
	if err != nil {
		return actors.Conversation{}, classify(op, err)
	}
	return d.conversation(), nil
}

// SaveConversation replaces the conversation c.ID with c if its stored
// Version is c.Version-1; otherwise it changes nothing and returns
// actors.ErrConflict (actors.ErrNotFound when absent). The write is one
// replace filtered on {_id, version}, taken under the conversation's write
// claim for that version (see claim.go), so of concurrent saves from one
// version exactly one wins.
//
// Saving it closed gives up its open_conversations guard after the write;
// saving a closed conversation open again (or moving an open one to another
// number) takes the guard first, and is actors.ErrDuplicate when another
// open conversation holds it.
func (s *Store) SaveConversation(ctx context.Context, c actors.Conversation) error {
	op := fmt.Sprintf("save conversation %s (version %d)", c.ID, c.Version)
	prev := c.Version - 1
	release, err := s.claim(ctx, conversationClaimKey(c.ID, prev))
	if errors.Is(err, errClaimed) {
		return fmt.Errorf("%s: concurrent save: %w", op, actors.ErrConflict)
	}
	if err != nil {
		return classify(op, err)
	}
	defer release()

	cur, err := findOne[conversationState](ctx, s.conversations, bson.D{{Key: "_id", Value: c.ID}},
		options.Find().SetProjection(conversationStateProjection))
	if err != nil {
		return classify(op, err)
	}
	if c.Epoch != 0 && cur.Epoch > c.Epoch {
		return fmt.Errorf("%s: epoch %d is older than the stored %d: %w", op, c.Epoch, cur.Epoch, actors.ErrFenced)
	}
	if cur.Version != prev {
		return fmt.Errorf("%s: stored version is %d: %w", op, cur.Version, actors.ErrConflict)
	}

	g := s.openGuard()
	oldKey, newKey := openKey(cur.PhoneNumberID, cur.WaID), openKey(c.PhoneNumberID, c.WaID)
	wasOpen, isOpen := cur.State != actors.StateClosed, c.Open()
	keeps := wasOpen && isOpen && oldKey == newKey
	var takenAt time.Time
	if isOpen && !keeps {
		// Under our claim, a guard of our own is stale: we are not open on
		// newKey yet.
		takenAt, err = s.take(ctx, g, newKey, c.ID, true)
		if errors.Is(err, errTaken) {
			return fmt.Errorf("%s: customer has an open conversation on this number: %w", op, actors.ErrDuplicate)
		}
		if err != nil {
			return classify(op+": take open guard", err)
		}
	}

	filter := bson.D{{Key: "_id", Value: c.ID}, {Key: "version", Value: prev}}
	if c.Epoch != 0 {
		filter = append(filter, epochFilter(c.Epoch))
	}
	res, err := s.conversations.ReplaceOne(ctx, filter, toConversationDoc(c))
	if err == nil && res.MatchedCount == 0 {
		err = s.saveMissed(ctx, c)
	}
	if err != nil {
		if !takenAt.IsZero() {
			s.drop(ctx, g, newKey, c.ID, takenAt)
		}
		return classify(op, err)
	}
	if wasOpen && !keeps {
		s.drop(ctx, g, oldKey, c.ID, time.Time{})
	}
	return nil
}

// ListConversations returns one page, most recently updated first, and the
// total matching f. The page and the total are two reads, not one snapshot.
func (s *Store) ListConversations(ctx context.Context, f actors.ConversationFilter) ([]actors.Conversation, int, error) {
	op := fmt.Sprintf("list conversations (page %d, limit %d)", f.Page, f.Limit)
	filter := conversationFilter(f)
	return findPage(ctx, op, s.conversations, filter, conversationProjection, conversationSort, f.Page, f.Limit, conversationDoc.conversation)
}

// conversationFilter builds the query of f from its typed fields only.
// Unassigned wins over AssigneeID.
func conversationFilter(f actors.ConversationFilter) bson.D {
	filter := bson.D{}
	if len(f.States) > 0 {
		filter = append(filter, bson.E{Key: "state", Value: bson.D{{Key: "$in", Value: f.States}}})
	}
	switch {
	case f.Unassigned:
		filter = append(filter, bson.E{Key: "assigneeId", Value: ""})
	case f.AssigneeID != "":
		filter = append(filter, bson.E{Key: "assigneeId", Value: f.AssigneeID})
	}
	if f.CustomerID != "" {
		filter = append(filter, bson.E{Key: "customerId", Value: f.CustomerID})
	}
	if f.PhoneNumberID != "" {
		filter = append(filter, bson.E{Key: "phoneNumberId", Value: f.PhoneNumberID})
	}
	return filter
}

// DueConversations returns up to limit (defaultLimit when below 1) open
// conversations whose NextTimerAt is set and not after at, earliest first
// (then by id).
func (s *Store) DueConversations(ctx context.Context, at time.Time, limit int) ([]actors.Conversation, error) {
	op := "due conversations at " + at.UTC().Format(time.RFC3339Nano)
	if limit < 1 {
		limit = defaultLimit
	}
	filter := bson.D{
		{Key: "nextTimerAt", Value: bson.D{{Key: "$lte", Value: at}}},
		{Key: "state", Value: notClosed},
	}
	opts := options.Find().
		SetProjection(conversationProjection).
		SetSort(bson.D{{Key: "nextTimerAt", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(limit))
	docs, err := findAll[conversationDoc](ctx, s.conversations, filter, opts)
	if err != nil {
		return nil, classify(op, err)
	}
	out := make([]actors.Conversation, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.conversation())
	}
	return out, nil
}

// NextTimer returns the earliest NextTimerAt of open conversations; ok is
// false when none is set.
func (s *Store) NextTimer(ctx context.Context) (time.Time, bool, error) {
	filter := bson.D{
		{Key: "nextTimerAt", Value: bson.D{{Key: "$exists", Value: true}}},
		{Key: "state", Value: notClosed},
	}
	opts := options.Find().
		SetProjection(bson.D{{Key: "nextTimerAt", Value: 1}}).
		SetSort(bson.D{{Key: "nextTimerAt", Value: 1}})
	d, err := findOne[struct {
		NextTimerAt *time.Time `bson:"nextTimerAt"`
	}](ctx, s.conversations, filter, opts)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, classify("next conversation timer", err)
	case d.NextTimerAt == nil:
		return time.Time{}, false, nil
	}
	return utc(*d.NextTimerAt), true, nil
}

// CountOpenByAssignee counts conversations in state new or active per
// assignee (unassigned ones under ""), with one $match/$group aggregation.
func (s *Store) CountOpenByAssignee(ctx context.Context) (map[string]int, error) {
	const op = "count open conversations by assignee"
	pipeline := mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{actors.StateNew, actors.StateActive}}}}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$assigneeId"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	}
	cur, err := s.conversations.Aggregate(ctx, pipeline)
	if err != nil {
		return nil, classify(op, err)
	}
	var rows []struct {
		AssigneeID string `bson:"_id"`
		N          int64  `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, classify(op, err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.AssigneeID] += int(r.N)
	}
	return out, nil
}
