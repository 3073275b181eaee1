package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

// Inbox leases.
//
// An entry's lease is two fields of its document, owner and leaseUntil,
// absent while unclaimed. ClaimInbox and RenewInbox are multi-document
// updates, and FerretDB v1 runs an update as a read followed by a write of
// the whole document: two nodes claiming at once could both take an entry,
// and a renewal or an attempt count could write back a lease another node
// took meanwhile. So every write of an entry but its insert (AppendInbox)
// and its delete (MarkInboxDone) runs under one write claim, the inbox
// lock (claim.go), held for the few statements of one claim, renewal or
// count; concurrent writers wait for it (retryClaimed). Under the lock a
// claim reads the ids it may take, sets the lease on them with one
// updateMany whose filter repeats the condition, and reads back the
// entries it holds: no multi-document transaction is needed. Inserts and
// deletes do not take the lock: an insert is a new document and a delete
// of an entry being claimed just leaves it out of the claim.
//
// The lock is abandoned after inboxLockTTL, far shorter than the minute of
// other claims: a node killed while holding it must not stop the others
// from taking its entries over for long. A holder's statements are bounded
// by the same time, so it rarely outlives its lock; if it does, the worst
// is an entry applied by two nodes, which is harmless (duplicate wamids
// are dropped, statuses only move forward).

const (
	inboxLockKey = "inbox/leases"
	inboxLockTTL = 5 * time.Second
	fInboxOwner  = "owner"
	fInboxLease  = "leaseUntil"
)

// underInboxLock runs fn under the inbox lock, waiting for it while
// another writer holds it, with ctx bounded by inboxLockTTL.
func (s *Store) underInboxLock(ctx context.Context, fn func(ctx context.Context) error) error {
	return retryClaimed(ctx, func() error {
		release, err := s.claimFor(ctx, inboxLockKey, inboxLockTTL)
		if err != nil {
			return err
		}
		defer release()
		ctx, cancel := context.WithTimeout(ctx, inboxLockTTL)
		defer cancel()
		return fn(ctx)
	})
}

// ClaimInbox leases to owner, until until, up to limit (defaultLimit when
// below 1, at most maxInboxBatch) entries that are unclaimed, owner's, or
// whose lease ran out before now, and returns them oldest first.
func (s *Store) ClaimInbox(ctx context.Context, owner string, now, until time.Time, limit int) ([]actors.InboxEntry, error) {
	op := "claim inbox entries for " + owner
	if owner == "" {
		return nil, errors.New("claim inbox entries: the owner is empty")
	}
	if limit < 1 {
		limit = defaultLimit
	}
	limit = min(limit, maxInboxBatch)
	now, until = now.UTC(), until.UTC()
	claimable := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: fInboxOwner, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: fInboxOwner, Value: owner}},
		bson.D{{Key: fInboxLease, Value: bson.D{{Key: "$lt", Value: now}}}},
	}}}
	byID := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	var docs []inboxDoc
	err := s.underInboxLock(ctx, func(ctx context.Context) error {
		ids, err := findAll[struct {
			ID string `bson:"_id"`
		}](ctx, s.inbox, claimable, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)).
			SetProjection(bson.D{{Key: "_id", Value: 1}}))
		if err != nil || len(ids) == 0 {
			return err
		}
		in := make(bson.A, len(ids))
		for i, d := range ids {
			in[i] = d.ID
		}
		filter := append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}}}, claimable...)
		if _, err := s.inbox.UpdateMany(ctx, filter, bson.D{{Key: "$set", Value: bson.D{
			{Key: fInboxOwner, Value: owner}, {Key: fInboxLease, Value: until}}}}); err != nil {
			return err
		}
		docs, err = findAll[inboxDoc](ctx, s.inbox, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: in}}},
			{Key: fInboxOwner, Value: owner}, {Key: fInboxLease, Value: until}}, byID)
		return err
	})
	if err != nil {
		return nil, classify(op, err)
	}
	out := make([]actors.InboxEntry, 0, len(docs))
	for _, d := range docs {
		e, err := s.inboxEntry(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// RenewInbox moves to until the live leases (not run out at now) of owner,
// with one updateMany under the inbox lock.
func (s *Store) RenewInbox(ctx context.Context, owner string, now, until time.Time) (int, error) {
	var n int64
	err := s.underInboxLock(ctx, func(ctx context.Context) error {
		res, err := s.inbox.UpdateMany(ctx, bson.D{{Key: fInboxOwner, Value: owner}, {Key: fInboxLease, Value: bson.D{{Key: "$gte", Value: now.UTC()}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: fInboxLease, Value: until.UTC()}}}})
		if err != nil {
			return err
		}
		n = res.MatchedCount
		return nil
	})
	if err != nil {
		return 0, classify("renew inbox leases of "+owner, err)
	}
	return int(n), nil
}
