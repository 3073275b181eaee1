package mongostore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

// pendingStatusDoc is a document of the pending_statuses collection: a
// delivery status whose message is not stored yet. The _id is
// "<wamid>/<status>", so the same status of a wamid is kept once; statuses
// never contain '/'. addedAt is the store's clock at arrival and breaks
// ties between equal timestamps and ranks.
type pendingStatusDoc struct {
	Key                   string           `bson:"_id"`
	WaMessageID           string           `bson:"waMessageId"`
	PhoneNumberID         string           `bson:"phoneNumberId"`
	RecipientID           string           `bson:"recipientId"`
	Status                string           `bson:"status"`
	StatusRank            int32            `bson:"statusRank"`
	Timestamp             *time.Time       `bson:"timestamp,omitempty"`
	Errors                []whatsAppErrDoc `bson:"errors"`
	BizOpaqueCallbackData string           `bson:"bizOpaqueCallbackData"`
	Raw                   []byte           `bson:"raw,omitempty"`
	AddedAt               time.Time        `bson:"addedAt"`
}

// pendingSort is the order pending statuses are taken in: oldest timestamp
// first, then the lower rank, then arrival.
var pendingSort = bson.D{{Key: "timestamp", Value: 1}, {Key: "statusRank", Value: 1}, {Key: "addedAt", Value: 1}, {Key: "_id", Value: 1}}

func pendingKey(waMessageID, status string) string { return waMessageID + "/" + status }

func toPendingStatusDoc(u actors.StatusUpdate, addedAt time.Time) pendingStatusDoc {
	errs := make([]whatsAppErrDoc, 0, len(u.Errors))
	for _, e := range u.Errors {
		errs = append(errs, *toErrDoc(&e))
	}
	return pendingStatusDoc{
		Key:                   pendingKey(u.WaMessageID, u.Status),
		WaMessageID:           u.WaMessageID,
		PhoneNumberID:         u.PhoneNumberID,
		RecipientID:           u.RecipientID,
		Status:                u.Status,
		StatusRank:            int32(actors.StatusRank(u.Status)),
		Timestamp:             optTime(u.Timestamp),
		Errors:                errs,
		BizOpaqueCallbackData: u.BizOpaqueCallbackData,
		Raw:                   []byte(u.Raw),
		AddedAt:               addedAt,
	}
}

func (d pendingStatusDoc) statusUpdate() actors.StatusUpdate {
	u := actors.StatusUpdate{
		PhoneNumberID:         d.PhoneNumberID,
		WaMessageID:           d.WaMessageID,
		RecipientID:           d.RecipientID,
		Status:                d.Status,
		Timestamp:             fromOpt(d.Timestamp),
		BizOpaqueCallbackData: d.BizOpaqueCallbackData,
		Raw:                   rawJSON(d.Raw),
	}
	for _, e := range d.Errors {
		u.Errors = append(u.Errors, e.whatsAppError())
	}
	return u
}

// AddPendingStatus keeps a status whose message is not known yet. Keeping
// the same (wamid, status) twice stores it once: the second insert hits the
// _id and is ignored, and the first version is kept.
func (s *Store) AddPendingStatus(ctx context.Context, u actors.StatusUpdate) error {
	_, err := s.pending.InsertOne(ctx, toPendingStatusDoc(u, s.now()))
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return classify("keep pending status "+u.Status, err)
	}
	return nil
}

// TakePendingStatuses returns and deletes the pending statuses of a wamid,
// oldest first. Each is deleted on its own and returned only when this call
// deleted it, so two concurrent takers never both return the same status.
// On an error the statuses taken so far are returned with it.
func (s *Store) TakePendingStatuses(ctx context.Context, waMessageID string) ([]actors.StatusUpdate, error) {
	const op = "take pending statuses"
	docs, err := findAll[pendingStatusDoc](ctx, s.pending, bson.D{{Key: "waMessageId", Value: waMessageID}},
		options.Find().SetSort(pendingSort))
	if err != nil {
		return nil, classify(op, err)
	}
	out := make([]actors.StatusUpdate, 0, len(docs))
	for _, d := range docs {
		res, err := s.pending.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.Key}, {Key: "addedAt", Value: d.AddedAt}})
		if err != nil {
			return out, classify(fmt.Sprintf("%s: delete %s", op, d.Status), err)
		}
		if res.DeletedCount == 1 {
			out = append(out, d.statusUpdate())
		}
	}
	return out, nil
}
