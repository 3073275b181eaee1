package mongostore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

// notificationDoc is a document of the notifications collection. readAt is
// absent while unread.
type notificationDoc struct {
	ID             string     `bson:"_id"`
	UserID         string     `bson:"userId"`
	Kind           string     `bson:"kind"`
	Title          string     `bson:"title"`
	Body           string     `bson:"body"`
	ConversationID string     `bson:"conversationId"`
	CreatedAt      time.Time  `bson:"createdAt"`
	ReadAt         *time.Time `bson:"readAt,omitempty"`
}

var notificationProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "userId", Value: 1}, {Key: "kind", Value: 1}, {Key: "title", Value: 1},
	{Key: "body", Value: 1}, {Key: "conversationId", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "readAt", Value: 1},
}

// notificationSort is the listing order: newest first, then id descending.
var notificationSort = bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}

func notificationsClaimKey(userID string) string { return "notifications/" + userID }

func toNotificationDoc(n actors.Notification) notificationDoc {
	return notificationDoc{
		ID:             n.ID,
		UserID:         n.UserID,
		Kind:           n.Kind,
		Title:          n.Title,
		Body:           n.Body,
		ConversationID: n.ConversationID,
		CreatedAt:      n.CreatedAt,
		ReadAt:         optTime(n.ReadAt),
	}
}

func (d notificationDoc) notification() actors.Notification {
	return actors.Notification{
		ID:             d.ID,
		UserID:         d.UserID,
		Kind:           d.Kind,
		Title:          d.Title,
		Body:           d.Body,
		ConversationID: d.ConversationID,
		CreatedAt:      utc(d.CreatedAt),
		ReadAt:         fromOpt(d.ReadAt),
	}
}

// AddNotifications stores the batch with one ordered insertMany;
// actors.ErrDuplicate when an id is already stored (the notifications
// before it are stored).
func (s *Store) AddNotifications(ctx context.Context, ns []actors.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	docs := make([]notificationDoc, 0, len(ns))
	for _, n := range ns {
		docs = append(docs, toNotificationDoc(n))
	}
	if _, err := s.notifications.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true)); err != nil {
		return classify(fmt.Sprintf("add %d notifications", len(ns)), err)
	}
	return nil
}

// notificationFilter selects the user's notifications, only the unread
// ones (readAt absent or null) when unreadOnly.
func notificationFilter(userID string, unreadOnly bool) bson.D {
	filter := bson.D{{Key: "userId", Value: userID}}
	if unreadOnly {
		filter = append(filter, bson.E{Key: "readAt", Value: nil})
	}
	return filter
}

// ListNotifications returns one page of the user's notifications, newest
// first, and the total; unreadOnly filters read ones out. The page and the
// total are two reads, not one snapshot.
func (s *Store) ListNotifications(ctx context.Context, userID string, unreadOnly bool, page, limit int) ([]actors.Notification, int, error) {
	op := fmt.Sprintf("list notifications of user %s (page %d, limit %d)", userID, page, limit)
	filter := notificationFilter(userID, unreadOnly)
	return findPage(ctx, op, s.notifications, filter, notificationProjection, notificationSort, page, limit, notificationDoc.notification)
}

// MarkNotificationsRead marks the user's unread notifications among ids
// (all of the user's when ids is empty) read at at and returns how many
// changed; other users' notifications are never touched. The update is one
// updateMany filtered on {userId, readAt: null}, taken under the user's
// write claim so that concurrent marks (which FerretDB would run as
// overlapping read-then-write passes) wait for each other and each
// notification is counted once.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error) {
	op := fmt.Sprintf("mark notifications of user %s read", userID)
	filter := notificationFilter(userID, true)
	if len(ids) > 0 {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}})
	}
	var changed int64
	err := retryClaimed(ctx, func() error {
		release, err := s.claim(ctx, notificationsClaimKey(userID))
		if err != nil {
			return err
		}
		defer release()
		res, err := s.notifications.UpdateMany(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: "readAt", Value: optTime(at)}}}})
		if err != nil {
			return err
		}
		changed = res.ModifiedCount
		return nil
	})
	if err != nil {
		return 0, classify(op, err)
	}
	return int(changed), nil
}
