package mongostore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

// openStates are the states OpenConversationsSince returns.
var openStates = bson.D{{Key: "$in", Value: bson.A{actors.StateNew, actors.StateActive}}}

// OpenConversationsSince returns up to limit conversations in state new or
// active updated at or after since, most recently updated first (UpdatedAt
// descending, then ID descending), after the keyset cursor (afterUpdatedAt,
// afterID): the first page passes afterID "", each next one the UpdatedAt and
// ID of the last conversation of the page before. It walks the updatedAt_id
// index from the newest entry (or the cursor) down to since and checks the
// state per document.
func (s *Store) OpenConversationsSince(ctx context.Context, since, afterUpdatedAt time.Time, afterID string, limit int) ([]actors.Conversation, error) {
	op := fmt.Sprintf("open conversations since %s after %q", since.UTC().Format(time.RFC3339), afterID)
	if limit < 1 {
		return []actors.Conversation{}, nil
	}
	updated := bson.D{{Key: "$gte", Value: since}}
	filter := bson.D{{Key: "state", Value: openStates}}
	if afterID != "" {
		// (updatedAt, _id) < (afterUpdatedAt, afterID), with the range on
		// updatedAt alone so the index bounds the walk.
		updated = append(updated, bson.E{Key: "$lte", Value: afterUpdatedAt})
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "updatedAt", Value: bson.D{{Key: "$lt", Value: afterUpdatedAt}}}},
			bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: afterID}}}},
		}})
	}
	filter = append(bson.D{{Key: "updatedAt", Value: updated}}, filter...)
	opts := options.Find().
		SetProjection(conversationProjection).
		SetSort(conversationSort).
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
