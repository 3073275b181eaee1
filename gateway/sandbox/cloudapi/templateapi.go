package cloudapi

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
)

// Paging of GET /{waba_id}/message_templates.
const (
	defaultTemplateLimit = 25
	maxTemplateLimit     = 250
)

// templateFields are the fields a template list may ask for; the default
// (no fields parameter) is Meta's default set.
var (
	allTemplateFields     = []string{"name", "parameter_format", "components", "language", "status", "category", "id", "quality_score", "rejected_reason"}
	defaultTemplateFields = []string{"name", "parameter_format", "components", "language", "status", "category", "id"}
	// unsetTemplateFields are Meta's fields the sandbox's templates never
	// have a value for: asking for them is valid, and they are left out
	// of the answer as Meta leaves out a field without a value.
	unsetTemplateFields = []string{"sub_category", "previous_category", "correct_category", "message_send_ttl_seconds",
		"library_template_name", "cta_url_link_tracking_opted_out"}
)

// templateView is a template as the list returns it: only the fields asked
// for, in Meta's order.
type templateView struct {
	Name            *string             `json:"name,omitempty"`
	ParameterFormat *string             `json:"parameter_format,omitempty"`
	Components      []TemplateComponent `json:"components,omitempty"`
	Language        *string             `json:"language,omitempty"`
	Status          *string             `json:"status,omitempty"`
	Category        *string             `json:"category,omitempty"`
	QualityScore    *struct {
		Score string `json:"score"`
	} `json:"quality_score,omitempty"`
	RejectedReason *string `json:"rejected_reason,omitempty"`
	ID             *string `json:"id,omitempty"`
}

func viewOf(t Template, fields []string) templateView {
	var v templateView
	for _, f := range fields {
		switch f {
		case "name":
			v.Name = &t.Name
		case "parameter_format":
			v.ParameterFormat = &t.ParameterFormat
		case "components":
			v.Components = t.Components
		case "language":
			v.Language = &t.Language
		case "status":
			v.Status = &t.Status
		case "category":
			v.Category = &t.Category
		case "quality_score":
			v.QualityScore = &struct {
				Score string `json:"score"`
			}{Score: t.QualityScore}
		case "rejected_reason":
			v.RejectedReason = &t.RejectedReason
		case "id":
			v.ID = &t.ID
		}
	}
	return v
}

type templatePage struct {
	Data   []templateView `json:"data"`
	Paging *graphPaging   `json:"paging,omitempty"`
}

type graphPaging struct {
	Cursors struct {
		Before string `json:"before"`
		After  string `json:"after"`
	} `json:"cursors"`
	Next     string `json:"next,omitempty"`
	Previous string `json:"previous,omitempty"`
}

func encodeCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(seq, 10)))
}

func decodeCursor(c string) (uint64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	return n, err == nil
}

// checkWABA answers Graph's error when the path's id is not the sandbox's
// WhatsApp Business Account; the token is checked first.
func (w *whatsApp) checkWABA(rw http.ResponseWriter, r *http.Request) bool {
	if e := checkToken(r); e != nil {
		writeAPIError(rw, e)
		return false
	}
	if id := chi.URLParam(r, "id"); id != w.opts.BusinessAccountID {
		writeAPIError(rw, &apiError{status: http.StatusBadRequest, code: CodeInvalidParameter, subcode: 33, title: "Invalid parameter",
			details: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", r.Method, clip(id))})
		return false
	}
	return true
}

// handleTemplateList is GET /{version}/{waba_id}/message_templates: the
// templates, oldest first, filtered by name (contains), status, category
// and language, with the fields asked for and cursor paging (limit,
// after, before; paging.cursors, paging.next, paging.previous).
func (w *whatsApp) handleTemplateList(rw http.ResponseWriter, r *http.Request) {
	if !w.checkWABA(rw, r) {
		return
	}
	q := r.URL.Query()
	limit := defaultTemplateLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeAPIError(rw, invalidParam("Param limit must be a positive integer."))
			return
		}
		limit = min(n, maxTemplateLimit)
	}
	fields := defaultTemplateFields
	if s := q.Get("fields"); s != "" {
		fields = nil
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if slices.Contains(unsetTemplateFields, f) {
				continue
			}
			if !slices.Contains(allTemplateFields, f) {
				writeAPIError(rw, invalidParam("Tried accessing nonexisting field (%s) on node type (WhatsAppBusinessAccountMessageTemplate).", clip(f)))
				return
			}
			fields = append(fields, f)
		}
	}
	name, status, category, language := q.Get("name"), upper(q.Get("status")), upper(q.Get("category")), q.Get("language")
	all := w.templates.snapshot(func(t *Template) bool {
		return (name == "" || strings.Contains(t.Name, name)) && (status == "" || t.Status == status) &&
			(category == "" || t.Category == category) && (language == "" || t.Language == language)
	})
	var from, to int
	switch {
	case q.Get("after") != "":
		after, ok := decodeCursor(q.Get("after"))
		if !ok {
			writeAPIError(rw, invalidParam("Param after is not a valid cursor."))
			return
		}
		from, _ = slices.BinarySearchFunc(all, after+1, func(e entry, seq uint64) int { return cmp.Compare(e.seq, seq) })
		to = min(from+limit, len(all))
	case q.Get("before") != "":
		before, ok := decodeCursor(q.Get("before"))
		if !ok {
			writeAPIError(rw, invalidParam("Param before is not a valid cursor."))
			return
		}
		to, _ = slices.BinarySearchFunc(all, before, func(e entry, seq uint64) int { return cmp.Compare(e.seq, seq) })
		from = max(0, to-limit)
	default:
		to = min(limit, len(all))
	}
	page := templatePage{Data: make([]templateView, 0, to-from)}
	for _, e := range all[from:to] {
		page.Data = append(page.Data, viewOf(e.t, fields))
	}
	if from < to {
		p := &graphPaging{}
		p.Cursors.Before, p.Cursors.After = encodeCursor(all[from].seq), encodeCursor(all[to-1].seq)
		if to < len(all) {
			p.Next = w.pageURL(r, "after", p.Cursors.After)
		}
		if from > 0 {
			p.Previous = w.pageURL(r, "before", p.Cursors.Before)
		}
		page.Paging = p
	}
	writeGraph(rw, http.StatusOK, page)
}

// pageURL is the request's URL with the other cursor replaced.
func (w *whatsApp) pageURL(r *http.Request, key, cursor string) string {
	q := r.URL.Query()
	q.Del("after")
	q.Del("before")
	q.Set(key, cursor)
	return w.publicURL(r) + r.URL.Path + "?" + q.Encode()
}

// handleTemplateCreate is POST /{version}/{waba_id}/message_templates: it
// validates the template as Meta does and answers {id, status: PENDING,
// category}; after Options.TemplateReviewDelay the template is APPROVED,
// or REJECTED (INVALID_FORMAT) when its name starts with "reject_", and a
// message_template_status_update webhook says so.
func (w *whatsApp) handleTemplateCreate(rw http.ResponseWriter, r *http.Request) {
	if !w.checkWABA(rw, r) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxSendBody))
	if err != nil {
		writeAPIError(rw, invalidParam("The request body could not be read or is larger than %d bytes.", maxSendBody))
		return
	}
	t, e := parseTemplateCreate(body)
	if e != nil {
		writeAPIError(rw, e)
		return
	}
	now := w.opts.Now()
	if w.templates.nameBlocked(t.Name, now) {
		writeAPIError(rw, &apiError{status: http.StatusBadRequest, code: CodeInvalidParameter, subcode: 2388023, title: "Invalid parameter",
			details: fmt.Sprintf("Message template language is being deleted: content for %s can't be added while the deleted template's name is held. Try again in 4 weeks or use another name.", t.Name)})
		return
	}
	decision, reason := TemplateApproved, "NONE"
	if strings.HasPrefix(t.Name, "reject_") {
		decision, reason = TemplateRejected, "INVALID_FORMAT"
	}
	created, ok := w.templates.create(t, time.Now().Add(w.opts.TemplateReviewDelay), decision, reason)
	if !ok {
		writeAPIError(rw, &apiError{status: http.StatusBadRequest, code: CodeInvalidParameter, subcode: 2388024, title: "Invalid parameter",
			details: fmt.Sprintf("Message template already exists: there is already %s content for template %s. Create a new template or add another language.", t.Language, t.Name)})
		return
	}
	w.log.Debug("template created", zap.String("template_id", created.ID), zap.String("name", created.Name), zap.String("decision", decision))
	w.scheduleReview(created.ID)
	writeGraph(rw, http.StatusOK, map[string]string{"id": created.ID, "status": created.Status, "category": created.Category})
}

// handleTemplateDelete is DELETE /{version}/{waba_id}/message_templates
// ?name=X (every language of X) [&hsm_id=ID (only that one)]. The name
// cannot be used again for 30 days.
func (w *whatsApp) handleTemplateDelete(rw http.ResponseWriter, r *http.Request) {
	if !w.checkWABA(rw, r) {
		return
	}
	q := r.URL.Query()
	name, hsmID := q.Get("name"), q.Get("hsm_id")
	if name == "" {
		writeAPIError(rw, invalidParam("The parameter name is required."))
		return
	}
	removed := w.templates.remove(name, hsmID, w.opts.Now())
	if len(removed) == 0 {
		what := url.QueryEscape(name)
		if hsmID != "" {
			what += " with hsm_id " + clip(hsmID)
		}
		writeAPIError(rw, &apiError{status: http.StatusBadRequest, code: CodeInvalidParameter, subcode: 2593002, title: "Invalid parameter",
			details: "Message template not found: " + clip(what)})
		return
	}
	writeGraph(rw, http.StatusOK, map[string]bool{"success": true})
}
