package actors

import (
	"context"
	"time"
)

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// AuditRecord says who did what, when, from where, to which resource, and how
// it ended. ID is unique, so appending the same record twice stores it once.
type AuditRecord struct {
	ID        string
	ActorID   string
	Action    string
	Resource  string
	Outcome   string
	IP        string
	UserAgent string
	RequestID string
	Detail    string
	At        time.Time
}

// AuditFilter selects a page of audit records, newest first (At descending,
// then ID descending). Empty fields and zero times do not filter. From is
// inclusive, To exclusive. Page starts at 1.
type AuditFilter struct {
	ActorID string
	Action  string
	From    time.Time
	To      time.Time
	Page    int
	Limit   int
}

// AuditStore keeps the audit log. It is append-only.
type AuditStore interface {
	// AppendAudit stores the records in one batch. Records whose ID is
	// already stored are skipped, so a retried batch is safe.
	AppendAudit(ctx context.Context, recs []AuditRecord) error
	// ListAudit returns one page and the total matching the filter.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditRecord, int, error)
}
