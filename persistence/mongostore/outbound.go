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

var _ actors.OutboundStore = (*Store)(nil)

const idempotencyColl = "idempotency_keys"

func init() {
	indexes = append(indexes,
		// QueuedOutbound: queued outbound messages, oldest first.
		index{coll: messagesColl, name: "status_direction_createdAt", keys: bson.D{{Key: "status", Value: 1}, {Key: "direction", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}},
		// DeleteExpiredIdempotency.
		index{coll: idempotencyColl, name: "expiresAt", keys: bson.D{{Key: "expiresAt", Value: 1}}},
	)
}

// idempotencyDoc is a document of idempotency_keys; _id is the key, so a
// claim is one atomic unique insert.
type idempotencyDoc struct {
	Key         string    `bson:"_id"`
	RequestHash string    `bson:"requestHash"`
	Status      int32     `bson:"status"`
	Body        []byte    `bson:"body,omitempty"`
	CreatedAt   time.Time `bson:"createdAt"`
	ExpiresAt   time.Time `bson:"expiresAt"`
	// Owner and LeaseUntil are absent on claims written before leases
	// existed: such a claim's lease is out.
	Owner      string    `bson:"owner,omitempty"`
	LeaseUntil time.Time `bson:"leaseUntil,omitempty"`
}

func (d idempotencyDoc) record() actors.IdempotencyRecord {
	r := actors.IdempotencyRecord{Key: d.Key, RequestHash: d.RequestHash, Status: int(d.Status), Body: d.Body,
		CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(), Owner: d.Owner}
	if !d.LeaseUntil.IsZero() {
		r.LeaseUntil = d.LeaseUntil.UTC()
	}
	return r
}

func (s *Store) idempotency() *mongo.Collection {
	return s.messages.Database().Collection(idempotencyColl)
}

// Message returns the message with that id, or ErrNotFound.
func (s *Store) Message(ctx context.Context, id string) (actors.Message, error) {
	d, err := findOne[messageDoc](ctx, s.messages, bson.D{{Key: "_id", Value: id}}, options.Find().SetProjection(messageProjection))
	if err != nil {
		return actors.Message{}, classify("message "+id, err)
	}
	m, err := s.openMessageDoc(d)
	if err != nil {
		return actors.Message{}, fmt.Errorf("message %s: %w", id, err)
	}
	return m, nil
}

// QueuedOutbound returns up to limit outbound messages still queued,
// oldest first.
func (s *Store) QueuedOutbound(ctx context.Context, limit int) ([]actors.Message, error) {
	const op = "queued outbound messages"
	cur, err := s.messages.Find(ctx, bson.D{{Key: "status", Value: actors.StatusQueued}, {Key: "direction", Value: actors.DirectionOutbound}},
		options.Find().SetProjection(messageProjection).SetSort(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, classify(op, err)
	}
	var docs []messageDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, classify(op, err)
	}
	out := make([]actors.Message, 0, len(docs))
	for _, d := range docs {
		m, err := s.openMessageDoc(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// idempotencyClaimKey is the write claim (see claim.go) of a change to
// key's record while owner holds it: a take-over, the answer or the
// release.
func idempotencyClaimKey(key, owner string) string {
	return "idempotency/" + owner + "/" + key
}

// ClaimIdempotency claims rec.Key for rec.Owner. A new key is one atomic
// unique insert. An existing one is read, and taken over when its claimant
// died (unanswered, same request, lease out: it keeps createdAt and
// expiresAt) or it expired (replaced by rec), by one update guarded by the
// owner it was read with under that owner's write claim, so of concurrent
// repeats one takes it and the others get ErrDuplicate.
func (s *Store) ClaimIdempotency(ctx context.Context, rec actors.IdempotencyRecord) (actors.IdempotencyRecord, error) {
	const op = "claim idempotency key"
	doc := idempotencyDoc{Key: rec.Key, RequestHash: rec.RequestHash, CreatedAt: rec.CreatedAt.UTC(), ExpiresAt: rec.ExpiresAt.UTC(),
		Owner: rec.Owner, LeaseUntil: rec.LeaseUntil.UTC()}
	_, err := s.idempotency().InsertOne(ctx, doc)
	if err == nil {
		return doc.record(), nil
	}
	if err = classify(op, err); !errors.Is(err, actors.ErrDuplicate) {
		return actors.IdempotencyRecord{}, err
	}
	var cur idempotencyDoc
	if err := s.idempotency().FindOne(ctx, bson.D{{Key: "_id", Value: rec.Key}}).Decode(&cur); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			// Deleted (released) between the two calls: the caller's
			// repeat will find it free.
			return actors.IdempotencyRecord{}, fmt.Errorf("%s: %w", op, actors.ErrDuplicate)
		}
		return actors.IdempotencyRecord{}, classify(op, err)
	}
	now := rec.CreatedAt.UTC()
	switch {
	case cur.ExpiresAt.Before(now):
	case cur.Status == 0 && cur.RequestHash == rec.RequestHash && cur.LeaseUntil.Before(now):
		doc.CreatedAt, doc.ExpiresAt = cur.CreatedAt.UTC(), cur.ExpiresAt.UTC()
	default:
		return actors.IdempotencyRecord{}, fmt.Errorf("%s: %w", op, actors.ErrDuplicate)
	}
	release, err := s.claim(ctx, idempotencyClaimKey(rec.Key, cur.Owner))
	if errors.Is(err, errClaimed) {
		return actors.IdempotencyRecord{}, fmt.Errorf("%s: taken by another repeat: %w", op, actors.ErrDuplicate)
	}
	if err != nil {
		return actors.IdempotencyRecord{}, classify(op, err)
	}
	defer release()
	guard := bson.D{{Key: "_id", Value: rec.Key}, {Key: "status", Value: cur.Status}, {Key: "expiresAt", Value: cur.ExpiresAt}}
	if cur.Owner == "" {
		guard = append(guard, bson.E{Key: "owner", Value: bson.D{{Key: "$exists", Value: false}}})
	} else {
		guard = append(guard, bson.E{Key: "owner", Value: cur.Owner})
	}
	res, err := s.idempotency().ReplaceOne(ctx, guard, doc)
	if err != nil {
		return actors.IdempotencyRecord{}, classify(op, err)
	}
	if res.MatchedCount == 0 {
		return actors.IdempotencyRecord{}, fmt.Errorf("%s: taken by another repeat: %w", op, actors.ErrDuplicate)
	}
	return doc.record(), nil
}

// IdempotencyRecord returns the record of key or ErrNotFound.
func (s *Store) IdempotencyRecord(ctx context.Context, key string) (actors.IdempotencyRecord, error) {
	d, err := findOne[idempotencyDoc](ctx, s.idempotency(), bson.D{{Key: "_id", Value: key}}, nil)
	if err != nil {
		return actors.IdempotencyRecord{}, classify("idempotency key", err)
	}
	if len(d.Body) > 0 {
		if d.Body, err = s.keys.Open(sealed.AAD(idempotencyColl, "body", key), d.Body); err != nil {
			return actors.IdempotencyRecord{}, fmt.Errorf("idempotency key: open stored answer: %w", err)
		}
	}
	return d.record(), nil
}

// CompleteIdempotency stores the answer of owner's unanswered claim of key.
func (s *Store) CompleteIdempotency(ctx context.Context, key, owner string, status int, body []byte) error {
	release, err := s.claim(ctx, idempotencyClaimKey(key, owner))
	if errors.Is(err, errClaimed) {
		return fmt.Errorf("complete idempotency key: being taken over: %w", actors.ErrNotFound)
	}
	if err != nil {
		return classify("complete idempotency key", err)
	}
	defer release()
	res, err := s.idempotency().UpdateOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: owner}, {Key: "status", Value: int32(0)}},
		// The stored answer repeats what the request returned (a customer,
		// a message): sealed like the records it shows.
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: int32(status)},
			{Key: "body", Value: s.keys.SealBytes(sealed.AAD(idempotencyColl, "body", key), body)}}}})
	if err != nil {
		return classify("complete idempotency key", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("complete idempotency key: no unanswered claim of this owner: %w", actors.ErrNotFound)
	}
	return nil
}

// ReleaseIdempotency deletes owner's unanswered claim of key.
func (s *Store) ReleaseIdempotency(ctx context.Context, key, owner string) error {
	release, err := s.claim(ctx, idempotencyClaimKey(key, owner))
	if errors.Is(err, errClaimed) {
		return nil // being taken over: no longer owner's to release
	}
	if err != nil {
		return classify("release idempotency key", err)
	}
	defer release()
	_, err = s.idempotency().DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: owner}, {Key: "status", Value: int32(0)}})
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return classify("release idempotency key", err)
	}
	return nil
}

// SettleIdempotencyClaims ends the lease of every unanswered claim.
func (s *Store) SettleIdempotencyClaims(ctx context.Context) (int, error) {
	res, err := s.idempotency().UpdateMany(ctx, bson.D{{Key: "status", Value: int32(0)}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "leaseUntil", Value: ""}}}})
	if err != nil {
		return 0, classify("settle idempotency claims", err)
	}
	return int(res.ModifiedCount), nil
}

// DeleteExpiredIdempotency removes records that expired before before.
func (s *Store) DeleteExpiredIdempotency(ctx context.Context, before time.Time) (int, error) {
	res, err := s.idempotency().DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: before.UTC()}}}})
	if err != nil {
		return 0, classify("delete expired idempotency keys", err)
	}
	return int(res.DeletedCount), nil
}

// RequeueFailed moves a failed outbound message back to queued, its error
// and any send claim unset. A failed message takes no other status update,
// so the single conditional update has no writer to race.
func (s *Store) RequeueFailed(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.messages.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: actors.StatusFailed}, {Key: "direction", Value: actors.DirectionOutbound}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: actors.StatusQueued}, {Key: "statusRank", Value: int32(actors.StatusRank(actors.StatusQueued))}, {Key: "updatedAt", Value: at.UTC()}}},
			{Key: "$unset", Value: append(bson.D{{Key: "error", Value: ""}}, unsetSendClaim...)},
		})
	if err != nil {
		return false, classify("requeue message "+id, err)
	}
	return res.ModifiedCount == 1, nil
}
