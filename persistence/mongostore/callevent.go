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

// callEventDoc is a document of the call_events collection. applied is
// false until the call's actor applied (or ignored) the callback, and
// orders the unapplied ones first in their index; dateUpdated and
// appliedAt are absent while zero; body is BSON binary, byte for byte.
type callEventDoc struct {
	ID           string     `bson:"_id"`
	CallID       string     `bson:"callId"`
	CallSid      string     `bson:"callSid"`
	EventType    string     `bson:"eventType"`
	Status       string     `bson:"status"`
	DurationSec  int64      `bson:"durationSec"`
	RecordingURL string     `bson:"recordingUrl"`
	DateUpdated  *time.Time `bson:"dateUpdated,omitempty"`
	Body         []byte     `bson:"body"`
	ReceivedAt   time.Time  `bson:"receivedAt"`
	AppliedAt    *time.Time `bson:"appliedAt,omitempty"`
	Applied      bool       `bson:"applied"`
}

func toCallEventDoc(e actors.CallEvent) callEventDoc {
	body := e.Body
	if body == nil {
		body = []byte{}
	}
	return callEventDoc{
		ID: e.ID, CallID: e.CallID, CallSid: e.CallSid, EventType: e.EventType, Status: e.Status,
		DurationSec: int64(e.DurationSec), RecordingURL: e.RecordingURL, DateUpdated: optTime(e.DateUpdated),
		Body: body, ReceivedAt: e.ReceivedAt, AppliedAt: optTime(e.AppliedAt), Applied: !e.AppliedAt.IsZero(),
	}
}

func (d callEventDoc) callEvent() actors.CallEvent {
	return actors.CallEvent{
		ID: d.ID, CallID: d.CallID, CallSid: d.CallSid, EventType: d.EventType, Status: d.Status,
		DurationSec: int(d.DurationSec), RecordingURL: d.RecordingURL, DateUpdated: fromOpt(d.DateUpdated),
		Body: d.Body, ReceivedAt: utc(d.ReceivedAt), AppliedAt: fromOpt(d.AppliedAt),
	}
}

// AddCallEvent stores e unless a callback with its ID is stored (then it
// changes nothing and inserted is false): one insert, whose duplicate _id
// is the repeat.
func (s *Store) AddCallEvent(ctx context.Context, e actors.CallEvent) (bool, error) {
	if _, err := s.callEvents.InsertOne(ctx, toCallEventDoc(e)); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return false, nil
		}
		return false, classify("add call event "+e.ID, err)
	}
	return true, nil
}

// MarkCallEventApplied sets the callback's AppliedAt to at unless it is set
// already (the first mark wins, but for two marks at once on FerretDB,
// where the later write of the two may win); actors.ErrNotFound when there
// is no such callback.
func (s *Store) MarkCallEventApplied(ctx context.Context, id string, at time.Time) error {
	op := "mark call event " + id + " applied"
	res, err := s.callEvents.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "applied", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "applied", Value: true}, {Key: "appliedAt", Value: at}}}})
	if err != nil {
		return classify(op, err)
	}
	if res.MatchedCount > 0 {
		return nil
	}
	_, err = findOne[struct {
		ID string `bson:"_id"`
	}](ctx, s.callEvents, bson.D{{Key: "_id", Value: id}}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	if err != nil {
		return classify(op, err)
	}
	return nil
}

// UnappliedCallEvents returns up to limit callbacks not applied yet, oldest
// ReceivedAt first (then by id); a limit below 1 gives none.
func (s *Store) UnappliedCallEvents(ctx context.Context, limit int) ([]actors.CallEvent, error) {
	if limit < 1 {
		return []actors.CallEvent{}, nil
	}
	docs, err := findAll[callEventDoc](ctx, s.callEvents, bson.D{{Key: "applied", Value: false}},
		options.Find().SetSort(bson.D{{Key: "receivedAt", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, classify("unapplied call events", err)
	}
	out := make([]actors.CallEvent, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.callEvent())
	}
	return out, nil
}
