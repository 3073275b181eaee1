package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Uniqueness guards.
//
// Two rules of the conversation engine are uniqueness over part of a
// collection: at most one conversation per (phoneNumberId, waId) is not
// closed, and a non-empty waMessageId belongs to one message. MongoDB would
// express them as partial unique indexes; FerretDB v1.24 rejects
// partialFilterExpression and silently ignores sparse (a "sparse" unique
// index is a plain unique index there, so every message without a wamid
// would collide). So each rule has a guard collection whose _id is the
// unique key (open_conversations: "<phoneNumberId>/<waId>"; message_wamids:
// the wamid) and whose owner field names the record holding it. Inserting a
// duplicate _id fails atomically on every server.
//
// A writer inserts the guard first and then writes the record; when the
// record write fails it deletes the guard it inserted. A record giving the
// key up (a conversation saved closed, a message whose wamid changes)
// deletes the guard after its own write.
//
// A crash between the two writes leaves a guard whose owner does not carry
// the key (the record is missing, closed, or names another key). Such a
// guard is stale: the next writer that needs the key finds it, checks the
// owner, and once the guard is older than guardGrace deletes it (only that
// instance: the filter names its _id, owner and insertion time) and inserts
// its own. The grace protects a guard whose owner's write is still in
// flight; it is far longer than opTimeout. A guard taken under a context
// with a deadline protects its writer only until claimMargin after that
// deadline (Until), as a write claim does. Until then the key stays taken
// (actors.ErrDuplicate), so a crash between the two writes of a create can
// block new conversations of that customer, or that wamid, for up to
// guardGrace (the conversation actors' writes, bounded by their IO
// timeout: about 10 s). A writer already holding the owner's write claim knows the
// owner's state and may replace a stale guard of its own at once.

// errTaken means another record holds the guard key.
var errTaken = errors.New("key held by another record")

const (
	// guardGrace is how long a guard is protected even when its owner does
	// not (yet) carry the key.
	guardGrace = claimTTL
	// guardAttempts bounds the insert/replace loop of one guard.
	guardAttempts = 3
)

// guardDoc is a document of a guard collection.
type guardDoc struct {
	Key   string    `bson:"_id"`
	Owner string    `bson:"owner"`
	At    time.Time `bson:"at"`
	// Until, when set, is when the guard's writer gave up at the latest:
	// its context's deadline plus claimMargin (as for write claims, see
	// claim.go). Past it, a guard whose owner does not carry the key is
	// stale even within guardGrace: a writer killed between its guard and
	// its record (a node that died) blocks its key for seconds, not a
	// minute.
	Until *time.Time `bson:"until,omitempty"`
}

// protectedUntil is when g stops protecting a writer in flight.
func (g guardDoc) protectedUntil() time.Time {
	end := g.At.Add(guardGrace)
	if g.Until != nil && g.Until.Before(end) {
		end = *g.Until
	}
	return end
}

// guard is one uniqueness guard collection.
type guard struct {
	coll *mongo.Collection
	// carries reports whether the record owner exists and still holds key.
	carries func(ctx context.Context, owner, key string) (bool, error)
}

// take inserts the guard key for owner and returns its insertion time (for
// drop). It returns errTaken when a live guard of another record, or a
// fresh one of owner itself, holds the key. With ownStale the caller holds
// owner's write claim and knows owner does not carry the key yet, so a guard
// naming owner is stale and replaced at once.
func (s *Store) take(ctx context.Context, g guard, key, owner string, ownStale bool) (time.Time, error) {
	for range guardAttempts {
		at := s.now()
		doc := guardDoc{Key: key, Owner: owner, At: at}
		if dl, ok := ctx.Deadline(); ok && dl.Add(claimMargin).Before(at.Add(guardGrace)) {
			until := dl.Add(claimMargin).UTC()
			doc.Until = &until
		}
		_, err := g.coll.InsertOne(ctx, doc)
		if err == nil {
			return at, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return time.Time{}, err
		}
		held, err := findOne[guardDoc](ctx, g.coll, bson.D{{Key: "_id", Value: key}}, nil)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			continue // dropped in the meantime
		case err != nil:
			return time.Time{}, err
		}
		if !(ownStale && held.Owner == owner) {
			if at.Before(held.protectedUntil()) {
				return time.Time{}, errTaken
			}
			carried, err := g.carries(ctx, held.Owner, key)
			if err != nil {
				return time.Time{}, err
			}
			if carried {
				return time.Time{}, errTaken
			}
			s.log.Warn("replacing stale uniqueness guard", zap.String("collection", g.coll.Name()),
				zap.String("owner", held.Owner), zap.Duration("duration", at.Sub(held.At)))
		}
		if _, err := g.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: held.Owner}, {Key: "at", Value: held.At}}); err != nil {
			return time.Time{}, err
		}
	}
	return time.Time{}, errTaken
}

// drop deletes owner's guard on key: the instance inserted at at, or any
// instance of owner when at is zero. A guard that cannot be deleted is stale
// and replaced later (see above), so the failure is only logged. It runs
// even when ctx is cancelled.
func (s *Store) drop(ctx context.Context, g guard, key, owner string, at time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	filter := bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: owner}}
	if !at.IsZero() {
		filter = append(filter, bson.E{Key: "at", Value: at})
	}
	if _, err := g.coll.DeleteOne(ctx, filter); err != nil {
		s.log.Warn("uniqueness guard not dropped", zap.String("collection", g.coll.Name()), zap.String("owner", owner), zap.Error(err))
	}
}

// openGuard is the guard of "one conversation per (phoneNumberId, waId) is
// not closed".
func (s *Store) openGuard() guard {
	return guard{coll: s.openConvs, carries: func(ctx context.Context, owner, key string) (bool, error) {
		st, err := findOne[conversationState](ctx, s.conversations, bson.D{{Key: "_id", Value: owner}},
			options.Find().SetProjection(conversationStateProjection))
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return false, nil
		case err != nil:
			return false, err
		}
		return st.State != actors.StateClosed && openKey(st.PhoneNumberID, st.WaID) == key, nil
	}}
}

// wamidGuard is the guard of "a non-empty waMessageId is unique".
func (s *Store) wamidGuard() guard {
	return guard{coll: s.wamids, carries: func(ctx context.Context, owner, key string) (bool, error) {
		st, err := s.messageState(ctx, owner)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return false, nil
		case err != nil:
			return false, err
		}
		return st.WaMessageID == key, nil
	}}
}

// Writers that need a claim another writer holds, and whose write must
// still happen after it (a status further forward, an attempt counter, a
// read mark), retry with a growing pause, at most revokeAttempts times.

// retryClaimed calls try until it returns anything but errClaimed, pausing
// between attempts. Running out of attempts is actors.ErrConflict.
func retryClaimed(ctx context.Context, try func() error) error {
	pause := revokePause
	for range revokeAttempts {
		err := try()
		if !errors.Is(err, errClaimed) {
			return err
		}
		if err := wait(ctx, pause); err != nil {
			return err
		}
		pause = min(2*pause, revokeMaxPause)
	}
	return fmt.Errorf("kept losing to concurrent writes: %w", actors.ErrConflict)
}

// optTime returns a pointer to t, or nil for a zero t: zero times are stored
// as absent fields.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromOpt returns *p in UTC, or the zero time for nil.
func fromOpt(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return utc(*p)
}
