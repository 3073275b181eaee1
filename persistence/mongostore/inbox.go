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
	"github.com/wacc/engine/persistence/sealed"
)

// inboxDoc is a document of the inbox collection: one accepted webhook
// body, kept (as BSON binary) until it is marked done, which deletes it.
type inboxDoc struct {
	ID         string     `bson:"_id"`
	Body       []byte     `bson:"body"`
	ReceivedAt *time.Time `bson:"receivedAt,omitempty"`
	Attempts   int64      `bson:"attempts"`
	// Owner and LeaseUntil are the lease (see inboxlease.go), absent
	// while unclaimed.
	Owner      string     `bson:"owner,omitempty"`
	LeaseUntil *time.Time `bson:"leaseUntil,omitempty"`
}

// entry is d as an actors.InboxEntry, its body opened.
func (s *Store) inboxEntry(d inboxDoc) (actors.InboxEntry, error) {
	// A body that does not open stops the batch: handing it on would set an
	// accepted webhook aside as unreadable.
	body, err := s.keys.Open(sealed.AAD(inboxColl, "body", d.ID), d.Body)
	if err != nil {
		return actors.InboxEntry{}, fmt.Errorf("open body of entry %s: %w", d.ID, err)
	}
	return actors.InboxEntry{ID: d.ID, Body: body, ReceivedAt: fromOpt(d.ReceivedAt), Attempts: int(d.Attempts),
		Owner: d.Owner, LeaseUntil: fromOpt(d.LeaseUntil)}, nil
}

// maxInboxBatch bounds PendingInbox.
const maxInboxBatch = 1000

// AppendInbox stores the entries with one ordered insertMany.
// actors.ErrDuplicate when an id is already stored (or repeated in the
// batch): the entries before it are stored, the ones from it on are not.
func (s *Store) AppendInbox(ctx context.Context, entries []actors.InboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	docs := make([]inboxDoc, 0, len(entries))
	for _, e := range entries {
		body := s.keys.SealBytes(sealed.AAD(inboxColl, "body", e.ID), e.Body)
		docs = append(docs, inboxDoc{ID: e.ID, Body: body, ReceivedAt: optTime(e.ReceivedAt), Attempts: int64(e.Attempts),
			Owner: e.Owner, LeaseUntil: optTime(e.LeaseUntil)})
	}
	if _, err := s.inbox.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true)); err != nil {
		return classify(fmt.Sprintf("append %d inbox entries", len(entries)), err)
	}
	return nil
}

// PendingInbox returns up to limit (defaultLimit when below 1, at most
// maxInboxBatch) entries not yet done, oldest first by id.
func (s *Store) PendingInbox(ctx context.Context, limit int) ([]actors.InboxEntry, error) {
	if limit < 1 {
		limit = defaultLimit
	}
	limit = min(limit, maxInboxBatch)
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit))
	docs, err := findAll[inboxDoc](ctx, s.inbox, bson.D{}, opts)
	if err != nil {
		return nil, classify("pending inbox entries", err)
	}
	out := make([]actors.InboxEntry, 0, len(docs))
	for _, d := range docs {
		e, err := s.inboxEntry(d)
		if err != nil {
			return nil, fmt.Errorf("pending inbox entries: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// MarkInboxDone deletes the entries; ids not stored are ignored.
func (s *Store) MarkInboxDone(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.inbox.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
		return classify(fmt.Sprintf("mark %d inbox entries done", len(ids)), err)
	}
	return nil
}

// RecordInboxAttempt increments an entry's Attempts; actors.ErrNotFound
// when absent. FerretDB's $inc is a read followed by a write of the whole
// document, so the increment is a $set from the count just read, filtered
// on it and taken under the inbox lock (see inboxlease.go), which every
// write of an entry but its insert and delete takes: no increment is lost
// and no lease written meanwhile is overwritten.
func (s *Store) RecordInboxAttempt(ctx context.Context, id string) error {
	op := "record attempt of inbox entry " + id
	err := s.underInboxLock(ctx, func(ctx context.Context) error {
		d, err := findOne[struct {
			Attempts int64 `bson:"attempts"`
		}](ctx, s.inbox, bson.D{{Key: "_id", Value: id}}, options.Find().SetProjection(bson.D{{Key: "attempts", Value: 1}}))
		if err != nil {
			return err
		}
		res, err := s.inbox.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "attempts", Value: d.Attempts}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "attempts", Value: d.Attempts + 1}}}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return mongo.ErrNoDocuments // deleted since read
		}
		return nil
	})
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	if err != nil {
		return classify(op, err)
	}
	return nil
}
