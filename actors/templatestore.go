package actors

import (
	"context"
	"time"
)

// TemplateFilter selects a page of one business account's templates, by
// name then language ascending. Empty fields do not filter; the others
// match exactly. Page starts at 1.
type TemplateFilter struct {
	BusinessAccountID string
	Status            string
	Name              string
	Language          string
	Category          string
	Page              int
	Limit             int
}

// TemplateUpdate changes part of one stored template; empty fields change
// nothing.
type TemplateUpdate struct {
	// Status, when set, replaces the status, Reason and FailedCode together
	// (a status change settles an earlier failure: FailedCode is usually 0
	// then). Without Status, a non-zero FailedCode marks the template
	// unusable with that Cloud API error code and Reason, leaving the
	// status as it is.
	Status     string
	Reason     string
	FailedCode int
	// Quality, when set, replaces the quality rating.
	Quality string
	At      time.Time
}

// TemplateSync is the record of a business account's last sync.
type TemplateSync struct {
	BusinessAccountID string
	SyncedAt          time.Time
	// Count is how many templates the sync stored.
	Count int
}

// TemplateStore keeps the message templates of business accounts. SQLite
// and MongoDB implement it and pass the same contract suite
// (persistence/storetest, RunTemplates).
type TemplateStore interface {
	// ReplaceTemplates makes ts (each of business account wabaID, keys
	// unique) the whole set of wabaID's templates, synced at at. Readers
	// see the set before or after, never a mix; other accounts are left
	// alone. UpdatedAt of each template is at.
	ReplaceTemplates(ctx context.Context, wabaID string, ts []Template, at time.Time) error
	// Template returns one template, or ErrNotFound.
	Template(ctx context.Context, wabaID, name, language string) (Template, error)
	// ListTemplates returns one page of f's templates and how many match.
	ListTemplates(ctx context.Context, f TemplateFilter) ([]Template, int, error)
	// UpdateTemplate applies u to one template; ErrNotFound when absent.
	UpdateTemplate(ctx context.Context, wabaID, name, language string, u TemplateUpdate) error
	// DeleteTemplate removes one template; a missing one is no error.
	DeleteTemplate(ctx context.Context, wabaID, name, language string) error
	// TemplateSync returns the record of wabaID's last ReplaceTemplates, or
	// ErrNotFound when it was never synced.
	TemplateSync(ctx context.Context, wabaID string) (TemplateSync, error)
}

// Fields of the template webhooks.
const (
	FieldTemplateStatus     = "message_template_status_update"
	FieldTemplateQuality    = "message_template_quality_update"
	FieldTemplateComponents = "message_template_components_update"
	FieldTemplateCategory   = "template_category_update"
)

// TemplateEvent is one template webhook change (entry[].changes[] whose
// field is one of the Field* above): a template's status, quality,
// components or category changed.
type TemplateEvent struct {
	// BusinessAccountID is the entry's id (the WABA).
	BusinessAccountID string
	Field             string
	TemplateID        string
	Name              string
	// Language is the template's language code as the engine keys it
	// (en_US: Meta's en-US is written with an underscore).
	Language string
	// Event is a status event: APPROVED, REJECTED, PENDING, PAUSED,
	// DISABLED, REINSTATED, FLAGGED, IN_APPEAL, ARCHIVED, DELETED,
	// PENDING_DELETION, LOCKED, LIMIT_EXCEEDED, ...
	Event string
	// Reason is the status event's reason (NONE when there is none).
	Reason string
	// Quality is a quality event's new_quality_score.
	Quality string
	// Category is the template's category when the change names it.
	Category  string
	Timestamp time.Time
}
