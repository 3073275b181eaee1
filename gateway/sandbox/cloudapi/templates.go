package cloudapi

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Template statuses, categories, quality scores and parameter formats, as
// Meta's Message Templates API spells them.
const (
	TemplateApproved = "APPROVED"
	TemplatePending  = "PENDING"
	TemplateRejected = "REJECTED"
	TemplatePaused   = "PAUSED"
	TemplateDisabled = "DISABLED"

	CategoryMarketing      = "MARKETING"
	CategoryUtility        = "UTILITY"
	CategoryAuthentication = "AUTHENTICATION"

	QualityGreen   = "GREEN"
	QualityYellow  = "YELLOW"
	QualityRed     = "RED"
	QualityUnknown = "UNKNOWN"

	FormatPositional = "POSITIONAL"
	FormatNamed      = "NAMED"
)

// Errors of the template registry's Go API.
var (
	ErrTemplateNotFound = errors.New("template not found")
	ErrTemplateStatus   = errors.New("invalid template status")
	ErrTemplateQuality  = errors.New("invalid template quality score")
)

// Template is one message template of the WhatsApp Business Account, in
// the shape GET /{waba_id}/message_templates returns it.
type Template struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	Language        string              `json:"language"`
	Status          string              `json:"status"`
	Category        string              `json:"category"`
	ParameterFormat string              `json:"parameter_format,omitempty"`
	Components      []TemplateComponent `json:"components"`
	// QualityScore is GREEN, YELLOW, RED or UNKNOWN (new templates).
	QualityScore string `json:"-"`
	// RejectedReason is Meta's reason for a REJECTED template, else "NONE".
	RejectedReason string `json:"-"`
}

// TemplateComponent is a HEADER, BODY, FOOTER, BUTTONS or CAROUSEL
// component of a template.
type TemplateComponent struct {
	Type                      string           `json:"type"`
	Format                    string           `json:"format,omitempty"` // HEADER: TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION
	Text                      string           `json:"text,omitempty"`
	AddSecurityRecommendation *bool            `json:"add_security_recommendation,omitempty"`
	CodeExpirationMinutes     *int             `json:"code_expiration_minutes,omitempty"`
	Buttons                   []TemplateButton `json:"buttons,omitempty"`
	Cards                     []TemplateCard   `json:"cards,omitempty"`
	Example                   json.RawMessage  `json:"example,omitempty"`
}

// TemplateButton is one button of a BUTTONS component.
type TemplateButton struct {
	Type        string          `json:"type"` // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW
	Text        string          `json:"text,omitempty"`
	URL         string          `json:"url,omitempty"`
	PhoneNumber string          `json:"phone_number,omitempty"`
	OTPType     string          `json:"otp_type,omitempty"` // OTP: COPY_CODE, ONE_TAP, ZERO_TAP
	Example     json.RawMessage `json:"example,omitempty"`
}

// TemplateCard is one card of a CAROUSEL component.
type TemplateCard struct {
	Components []TemplateComponent `json:"components"`
}

// placeholder matches {{1}} and {{first_name}}.
var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// variables returns the distinct placeholders of text in order.
func variables(text string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// registry is the WABA's template store. It is safe for concurrent use.
type registry struct {
	mu        sync.Mutex
	seq       uint64
	templates []*entry             // creation order
	deleted   map[string]time.Time // name -> deleted at (names stay blocked for 30 days)
	byID      map[string]*entry    // id -> template
}

// entry is a registered template and its position for cursor paging.
type entry struct {
	seq uint64
	t   Template
	// review: a created template is PENDING until reviewAt, then becomes
	// decision (APPROVED or REJECTED with reason). Zero when settled.
	reviewAt time.Time
	decision string
	reason   string
}

// settleLocked applies a due review, so that a template is approved or
// rejected on time whether or not its webhook has been posted yet.
func (e *entry) settleLocked(now time.Time) {
	if e.reviewAt.IsZero() || now.Before(e.reviewAt) {
		return
	}
	if e.t.Status == TemplatePending {
		e.t.Status = e.decision
		if e.decision == TemplateRejected {
			e.t.RejectedReason = e.reason
		}
	}
	e.reviewAt = time.Time{}
}

func newRegistry(seed []Template) *registry {
	r := &registry{deleted: map[string]time.Time{}, byID: map[string]*entry{}}
	for _, t := range seed {
		if t.ID == "" {
			t.ID = newTemplateID()
		}
		if t.QualityScore == "" {
			t.QualityScore = QualityUnknown
		}
		if t.RejectedReason == "" {
			t.RejectedReason = "NONE"
		}
		r.addLocked(t)
	}
	return r
}

func (r *registry) addLocked(t Template) *entry {
	r.seq++
	e := &entry{seq: r.seq, t: t}
	r.templates = append(r.templates, e)
	r.byID[t.ID] = e
	return e
}

// find returns a copy of the template name in language, and whether any
// language of name exists.
func (r *registry) find(name, language string) (Template, bool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	anyLanguage := false
	now := time.Now()
	for _, e := range r.templates {
		if e.t.Name != name {
			continue
		}
		e.settleLocked(now)
		anyLanguage = true
		if e.t.Language == language {
			return e.t, true, true
		}
	}
	return Template{}, false, anyLanguage
}

// snapshot returns copies of the templates that match keep, in creation
// order, with their paging positions.
func (r *registry) snapshot(keep func(*Template) bool) []entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	var out []entry
	for _, e := range r.templates {
		e.settleLocked(now)
		if keep(&e.t) {
			out = append(out, *e)
		}
	}
	return out
}

// all returns a copy of every template in creation order.
func (r *registry) all() []Template {
	es := r.snapshot(func(*Template) bool { return true })
	out := make([]Template, len(es))
	for i, e := range es {
		out[i] = e.t
	}
	return out
}

// update applies change to the template with id and returns it before and
// after; false when there is none.
func (r *registry) update(id string, change func(*Template)) (Template, Template, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byID[id]
	if !ok {
		return Template{}, Template{}, false
	}
	e.settleLocked(time.Now())
	before := e.t
	change(&e.t)
	if e.t.Status != before.Status {
		e.reviewAt = time.Time{} // a status set by hand ends the review
	}
	return before, e.t, true
}

// lookupID finds the id of the template name in language ("" when none).
func (r *registry) lookupID(name, language string) string {
	t, ok, _ := r.find(name, language)
	if !ok {
		return ""
	}
	return t.ID
}

// settle applies the template's review if it is due and returns the
// template; false when it was deleted.
func (r *registry) settle(id string) (Template, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byID[id]
	if !ok {
		return Template{}, false
	}
	e.settleLocked(time.Now())
	return e.t, true
}

// remove deletes the templates named name (only the one with hsmID when it
// is not empty) and returns them; the name stays blocked from reuse.
func (r *registry) remove(name, hsmID string, now time.Time) []Template {
	r.mu.Lock()
	defer r.mu.Unlock()
	var removed []Template
	kept := r.templates[:0]
	for _, e := range r.templates {
		if e.t.Name == name && (hsmID == "" || e.t.ID == hsmID) {
			removed = append(removed, e.t)
			delete(r.byID, e.t.ID)
			continue
		}
		kept = append(kept, e)
	}
	clear(r.templates[len(kept):])
	r.templates = kept
	if len(removed) > 0 {
		r.deleted[name] = now
	}
	return removed
}

// nameBlocked reports whether name was deleted less than 30 days before now
// (Meta keeps a deleted template's name for 30 days).
func (r *registry) nameBlocked(name string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.deleted[name]
	return ok && now.Sub(at) < deletedNameHold
}

// create registers t as PENDING, to become decision (with reason) at
// reviewAt, unless name and language exist already.
func (r *registry) create(t Template, reviewAt time.Time, decision, reason string) (Template, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.templates {
		if e.t.Name == t.Name && e.t.Language == t.Language {
			return e.t, false
		}
	}
	t.ID, t.Status, t.QualityScore, t.RejectedReason = newTemplateID(), TemplatePending, QualityUnknown, "NONE"
	e := r.addLocked(t)
	e.reviewAt, e.decision, e.reason = reviewAt, decision, reason
	return e.t, true
}

// deletedNameHold is how long a deleted template's name cannot be reused.
const deletedNameHold = 30 * 24 * time.Hour

// validStatus reports whether s is a status the control endpoint may set.
func validStatus(s string) bool {
	switch s {
	case TemplateApproved, TemplatePending, TemplateRejected, TemplatePaused, TemplateDisabled:
		return true
	}
	return false
}

func validQuality(q string) bool {
	switch q {
	case QualityGreen, QualityYellow, QualityRed, QualityUnknown:
		return true
	}
	return false
}

func upper(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
