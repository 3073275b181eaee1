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

// duplicateKeyCode is the server error code of a unique-index violation.
const duplicateKeyCode = 11000

// auditDoc is a document of the audit collection.
type auditDoc struct {
	ID        string    `bson:"_id"`
	ActorID   string    `bson:"actorId"`
	Action    string    `bson:"action"`
	Resource  string    `bson:"resource"`
	Outcome   string    `bson:"outcome"`
	IP        string    `bson:"ip"`
	UserAgent string    `bson:"userAgent"`
	RequestID string    `bson:"requestId"`
	Detail    string    `bson:"detail"`
	At        time.Time `bson:"at"`
}

var auditProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "actorId", Value: 1}, {Key: "action", Value: 1},
	{Key: "resource", Value: 1}, {Key: "outcome", Value: 1}, {Key: "ip", Value: 1},
	{Key: "userAgent", Value: 1}, {Key: "requestId", Value: 1}, {Key: "detail", Value: 1},
	{Key: "at", Value: 1},
}

// auditSort is the listing order: newest first, then id descending.
var auditSort = bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}

func toAuditDoc(r actors.AuditRecord) auditDoc {
	return auditDoc{
		ID:        r.ID,
		ActorID:   r.ActorID,
		Action:    r.Action,
		Resource:  r.Resource,
		Outcome:   r.Outcome,
		IP:        r.IP,
		UserAgent: r.UserAgent,
		RequestID: r.RequestID,
		Detail:    r.Detail,
		At:        r.At,
	}
}

func (d auditDoc) record() actors.AuditRecord {
	return actors.AuditRecord{
		ID:        d.ID,
		ActorID:   d.ActorID,
		Action:    d.Action,
		Resource:  d.Resource,
		Outcome:   d.Outcome,
		IP:        d.IP,
		UserAgent: d.UserAgent,
		RequestID: d.RequestID,
		Detail:    d.Detail,
		At:        utc(d.At),
	}
}

// AppendAudit stores the records with one unordered insert. Records whose ID
// is already stored (or repeated in recs) are skipped and keep their first
// version, so a retried batch is safe; any other failure is returned, and the
// records before and after the failing one may have been stored.
func (s *Store) AppendAudit(ctx context.Context, recs []actors.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	docs := make([]auditDoc, 0, len(recs))
	for _, r := range recs {
		docs = append(docs, toAuditDoc(r))
	}
	_, err := s.audit.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil || onlyDuplicates(err) {
		return nil
	}
	op := fmt.Sprintf("append %d audit records", len(recs))
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, actors.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// onlyDuplicates reports whether err is a bulk write failure made only of
// duplicate-key errors.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != duplicateKeyCode {
			return false
		}
	}
	return true
}

// ListAudit returns one page, newest first, and the total matching f. The
// page and the total are two reads, not one snapshot.
func (s *Store) ListAudit(ctx context.Context, f actors.AuditFilter) ([]actors.AuditRecord, int, error) {
	op := fmt.Sprintf("list audit (page %d, limit %d)", f.Page, f.Limit)
	filter := auditFilter(f)
	return findPage(ctx, op, s.audit, filter, auditProjection, auditSort, f.Page, f.Limit, auditDoc.record)
}

// auditFilter builds the query of f from its typed fields only. From is
// inclusive, To exclusive; empty fields and zero times do not filter.
func auditFilter(f actors.AuditFilter) bson.D {
	filter := bson.D{}
	if f.ActorID != "" {
		filter = append(filter, bson.E{Key: "actorId", Value: f.ActorID})
	}
	if f.Action != "" {
		filter = append(filter, bson.E{Key: "action", Value: f.Action})
	}
	at := bson.D{}
	if !f.From.IsZero() {
		at = append(at, bson.E{Key: "$gte", Value: f.From})
	}
	if !f.To.IsZero() {
		at = append(at, bson.E{Key: "$lt", Value: f.To})
	}
	if len(at) > 0 {
		filter = append(filter, bson.E{Key: "at", Value: at})
	}
	return filter
}
