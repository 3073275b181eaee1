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
)

// Write claims.
//
// The conditional writes of this store (RotateFamily, UpdateCustomer, the
// revocations, the take-over, answer and release of an Idempotency-Key
// claim) are single-document updates whose filter carries the
// expected state: on MongoDB such an update is atomic and alone enough. On
// FerretDB v1 it is not: an update reads the matching document and then
// writes the whole document back by _id, so concurrent updates presenting
// the same expected state can all match and all "win", and a slower writer
// can overwrite a revocation that landed in between.
//
// So before a conditional write the writer inserts a claim document whose
// _id names the record and the state it expects ("family/<id>/<generation>",
// "customer/<id>/<version>"). Inserting a duplicate _id fails atomically on
// every server (FerretDB enforces it with a unique constraint in SQLite or
// PostgreSQL), so at most one writer holds a claim; the others see
// errClaimed. The holder performs its conditional update and deletes the
// claim. A writer that claims the same key after the release reads the
// record after the holder's write, so its expected state no longer matches.
//
// A claim left behind by a crashed writer is abandoned once it is older than
// claimTTL and is then broken by the next writer that needs it; claims older
// than claimSweepAge are swept by DeleteExpiredFamilies. A claim taken under
// a context with a deadline is abandoned sooner: claimMargin after that
// deadline, when its holder's writes have been given up (its Until); a
// holder whose work runs past its deadline (blob cleanups) takes
// claimPastDeadline, which keeps claimTTL. In a
// cluster this is what bounds how long a node killed in a write holds up
// the node that takes its conversations over: the actors' writes run under
// a 5 s deadline, so their claims last ~10 s, not claimTTL.

// errClaimed means another writer holds the claim.
var errClaimed = errors.New("write claimed by another writer")

const (
	// claimTTL is how long a claim protects its holder. It is far longer than
	// opTimeout, the longest a holder's own writes can take.
	claimTTL = time.Minute
	// claimSweepAge is the age beyond which leftover claims are swept.
	claimSweepAge = time.Hour
	// claimAttempts bounds the insert/break loop of one claim.
	claimAttempts = 3
	// claimMargin is how long after its holder's deadline a claim still
	// protects it: a write sent just before the deadline may still land.
	claimMargin = 5 * time.Second
)

// claimDoc is a document of the write_claims collection.
type claimDoc struct {
	Key string    `bson:"_id"`
	At  time.Time `bson:"at"`
	// Until is when the claim is abandoned when its holder had a deadline
	// (the deadline plus claimMargin, if before At+ttl); absent: At+ttl.
	Until *time.Time `bson:"until,omitempty"`
}

func familyClaimKey(id string, generation int64) string {
	return fmt.Sprintf("family/%s/%d", id, generation)
}

func customerClaimKey(id string, version int64) string {
	return fmt.Sprintf("customer/%s/%d", id, version)
}

// claim takes the write claim key. It returns errClaimed when another writer
// holds it, and otherwise a release function the caller must call (with
// defer) once its write is done. Release runs even when ctx is cancelled.
func (s *Store) claim(ctx context.Context, key string) (release func(), err error) {
	return s.claimFor(ctx, key, claimTTL)
}

// claimFor is claim with a claim abandoned after ttl instead of claimTTL.
func (s *Store) claimFor(ctx context.Context, key string, ttl time.Duration) (release func(), err error) {
	return s.claimWith(ctx, key, ttl, true)
}

// claimPastDeadline is claim for a holder whose claimed work may go on past
// ctx's deadline (cleanups that run even when ctx is done): its claim
// keeps claimTTL whatever that deadline.
func (s *Store) claimPastDeadline(ctx context.Context, key string) (release func(), err error) {
	return s.claimWith(ctx, key, claimTTL, false)
}

// claimWith takes the claim; with byDeadline, a claim taken under a
// deadline is abandoned claimMargin after it (if before ttl).
func (s *Store) claimWith(ctx context.Context, key string, ttl time.Duration, byDeadline bool) (release func(), err error) {
	for range claimAttempts {
		at := s.now()
		doc := claimDoc{Key: key, At: at}
		if dl, ok := ctx.Deadline(); ok && byDeadline && dl.Add(claimMargin).Before(at.Add(ttl)) {
			until := dl.Add(claimMargin).UTC()
			doc.Until = &until
		}
		_, err := s.claims.InsertOne(ctx, doc)
		if err == nil {
			return func() { s.release(ctx, key, at) }, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, err
		}
		held, err := findOne[claimDoc](ctx, s.claims, bson.D{{Key: "_id", Value: key}},
			options.Find().SetProjection(bson.D{{Key: "at", Value: 1}, {Key: "until", Value: 1}}))
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			continue // released in the meantime
		case err != nil:
			return nil, err
		}
		age := at.Sub(held.At)
		abandoned := age >= ttl
		if held.Until != nil && !at.Before(*held.Until) {
			abandoned = true
		}
		if !abandoned {
			return nil, errClaimed
		}
		s.log.Warn("breaking abandoned write claim", zap.String("claim", key), zap.Duration("duration", age))
		if _, err := s.claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "at", Value: held.At}}); err != nil {
			return nil, err
		}
	}
	return nil, errClaimed
}

// release deletes the claim key taken at at. A claim that cannot be deleted
// is abandoned and broken after claimTTL, so the failure is only logged.
func (s *Store) release(ctx context.Context, key string, at time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if _, err := s.claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "at", Value: at}}); err != nil {
		s.log.Warn("write claim not released", zap.String("claim", key), zap.Error(err))
	}
}

// sweepClaims deletes claims older than claimSweepAge and returns how many.
func (s *Store) sweepClaims(ctx context.Context) (int64, error) {
	res, err := s.claims.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: s.now().Add(-claimSweepAge)}}}})
	if err != nil {
		return 0, err
	}
	return res.DeletedCount, nil
}

// wait pauses for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
