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
	return d.message(), nil
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
		out = append(out, d.message())
	}
	return out, nil
}

// ClaimIdempotency stores a new in-progress record; ErrDuplicate when the
// key exists.
func (s *Store) ClaimIdempotency(ctx context.Context, rec actors.IdempotencyRecord) error {
	_, err := s.idempotency().InsertOne(ctx, idempotencyDoc{Key: rec.Key, RequestHash: rec.RequestHash, CreatedAt: rec.CreatedAt.UTC(), ExpiresAt: rec.ExpiresAt.UTC()})
	if err != nil {
		return classify("claim idempotency key", err)
	}
	return nil
}

// IdempotencyRecord returns the record of key or ErrNotFound.
func (s *Store) IdempotencyRecord(ctx context.Context, key string) (actors.IdempotencyRecord, error) {
	d, err := findOne[idempotencyDoc](ctx, s.idempotency(), bson.D{{Key: "_id", Value: key}}, nil)
	if err != nil {
		return actors.IdempotencyRecord{}, classify("idempotency key", err)
	}
	return actors.IdempotencyRecord{Key: d.Key, RequestHash: d.RequestHash, Status: int(d.Status), Body: d.Body,
		CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC()}, nil
}

// CompleteIdempotency stores the answer of a claimed key.
func (s *Store) CompleteIdempotency(ctx context.Context, key string, status int, body []byte) error {
	res, err := s.idempotency().UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: int32(status)}, {Key: "body", Value: body}}}})
	if err != nil {
		return classify("complete idempotency key", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("complete idempotency key: %w", actors.ErrNotFound)
	}
	return nil
}

// ReleaseIdempotency deletes an in-progress claim.
func (s *Store) ReleaseIdempotency(ctx context.Context, key string) error {
	_, err := s.idempotency().DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "status", Value: int32(0)}})
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return classify("release idempotency key", err)
	}
	return nil
}

// DeleteExpiredIdempotency removes records that expired before before.
func (s *Store) DeleteExpiredIdempotency(ctx context.Context, before time.Time) (int, error) {
	res, err := s.idempotency().DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: before.UTC()}}}})
	if err != nil {
		return 0, classify("delete expired idempotency keys", err)
	}
	return int(res.DeletedCount), nil
}

// RequeueFailed moves a failed outbound message back to queued. A failed
// message takes no other status update, so the single conditional update
// has no writer to race.
func (s *Store) RequeueFailed(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.messages.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "status", Value: actors.StatusFailed}, {Key: "direction", Value: actors.DirectionOutbound}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "status", Value: actors.StatusQueued}, {Key: "statusRank", Value: int32(actors.StatusRank(actors.StatusQueued))}, {Key: "updatedAt", Value: at.UTC()}}},
			{Key: "$unset", Value: bson.D{{Key: "error", Value: ""}}},
		})
	if err != nil {
		return false, classify("requeue message "+id, err)
	}
	return res.ModifiedCount == 1, nil
}
