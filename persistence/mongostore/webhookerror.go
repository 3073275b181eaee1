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

// webhookErrorDoc is a document of the webhook_errors collection.
type webhookErrorDoc struct {
	ID            string         `bson:"_id"`
	PhoneNumberID string         `bson:"phoneNumberId"`
	Error         whatsAppErrDoc `bson:"error"`
	ReceivedAt    time.Time      `bson:"receivedAt"`
}

// AddWebhookErrors stores the records with one unordered insertMany; a
// record whose id is stored already is skipped, the others are stored.
func (s *Store) AddWebhookErrors(ctx context.Context, rs []actors.WebhookErrorRecord) error {
	if len(rs) == 0 {
		return nil
	}
	docs := make([]webhookErrorDoc, 0, len(rs))
	for _, r := range rs {
		docs = append(docs, webhookErrorDoc{ID: r.ID, PhoneNumberID: r.PhoneNumberID, Error: *toErrDoc(&r.Error), ReceivedAt: r.ReceivedAt})
	}
	_, err := s.webhookErrors.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil {
		if err = classify(fmt.Sprintf("add %d webhook errors", len(rs)), err); !errors.Is(err, actors.ErrDuplicate) {
			return err
		}
	}
	return nil
}

// ListWebhookErrors returns up to limit records, newest first.
func (s *Store) ListWebhookErrors(ctx context.Context, phoneNumberID string, limit int) ([]actors.WebhookErrorRecord, error) {
	op := "list webhook errors"
	filter := bson.D{}
	if phoneNumberID != "" {
		filter = bson.D{{Key: "phoneNumberId", Value: phoneNumberID}}
	}
	cur, err := s.webhookErrors.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "receivedAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, classify(op, err)
	}
	defer cur.Close(ctx)
	out := []actors.WebhookErrorRecord{}
	for cur.Next(ctx) {
		var d webhookErrorDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("%s: decode: %w", op, err)
		}
		out = append(out, actors.WebhookErrorRecord{ID: d.ID, PhoneNumberID: d.PhoneNumberID, Error: d.Error.whatsAppError(), ReceivedAt: utc(d.ReceivedAt)})
	}
	if err := cur.Err(); err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}
