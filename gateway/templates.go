package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/template"
)

// Templates is the template registry behind the template routes and the
// check of every template send.
type Templates interface {
	// Resolve looks up the template a send from phoneNumberID names.
	Resolve(ctx context.Context, phoneNumberID, name, language string) (template.Resolution, error)
	// List returns a page of the registry and its last sync.
	List(ctx context.Context, f actors.TemplateFilter) ([]actors.Template, int, actors.TemplateSync, error)
	// Sync lists the templates at Meta and replaces the registry's.
	Sync(ctx context.Context) (template.SyncResult, error)
}

// Error codes of template sends (422).
const (
	CodeTemplateNotFound    = "TEMPLATE_NOT_FOUND"
	CodeTemplateNotApproved = "TEMPLATE_NOT_APPROVED"
	CodeTemplateParameters  = "TEMPLATE_PARAMETERS"
)

// templatesPage is the data of GET /api/whatsapp/templates: the contract's
// list envelope, with the account and when it was last synced.
type templatesPage struct {
	Items             []actors.TemplateView `json:"items"`
	Total             int                   `json:"total"`
	Page              int                   `json:"page"`
	Limit             int                   `json:"limit"`
	BusinessAccountID string                `json:"businessAccountId"`
	// SyncedAt is when the registry was last synced from Meta; null
	// before the first sync.
	SyncedAt *time.Time `json:"syncedAt"`
}

var upperWord = regexp.MustCompile(`^[A-Z_]{1,32}$`)

// noRegistry answers the template routes of an engine that keeps no
// templates.
func noRegistry() *apiError {
	return errf(http.StatusNotFound, CodeNotFound, "templates are not kept: no WhatsApp Business Account is configured (WHATSAPP_BUSINESS_ACCOUNT_ID)")
}

func (s *Server) handleListTemplates(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "status", "name", "language", "category", "page", "limit")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	if s.engine.Templates == nil {
		writeError(w, r, noRegistry())
		return
	}
	ve := &validationError{}
	page, limit := q.paging(ve)
	f := actors.TemplateFilter{Status: strings.ToUpper(q.get("status")), Name: q.get("name"), Language: q.get("language"),
		Category: strings.ToUpper(q.get("category")), Page: page, Limit: limit}
	if f.Status != "" && !upperWord.MatchString(f.Status) {
		ve.add("status", "INVALID_VALUE", "must be a template status such as APPROVED, PAUSED or DISABLED")
	}
	if f.Category != "" && !upperWord.MatchString(f.Category) {
		ve.add("category", "INVALID_VALUE", "must be MARKETING, UTILITY or AUTHENTICATION")
	}
	if f.Name != "" && !templateName.MatchString(f.Name) {
		ve.add("name", "INVALID_VALUE", "must be a template name: lower-case letters, digits and _")
	}
	if f.Language != "" && !languageCode.MatchString(f.Language) {
		ve.add("language", "INVALID_VALUE", "must be a language code such as en_US")
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	ts, total, sync, err := s.engine.Templates.List(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := templatesPage{Items: make([]actors.TemplateView, 0, len(ts)), Total: total, Page: page, Limit: limit, BusinessAccountID: sync.BusinessAccountID}
	for _, t := range ts {
		out.Items = append(out.Items, t.View())
	}
	if !sync.SyncedAt.IsZero() {
		at := sync.SyncedAt
		out.SyncedAt = &at
	}
	writeData(w, http.StatusOK, out)
}

func (s *Server) handleSyncTemplates(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > 0 {
		var empty struct{}
		if e := decodeJSON(r, &empty); e != nil {
			writeError(w, r, e)
			return
		}
	}
	if s.engine.Templates == nil {
		writeError(w, r, noRegistry())
		return
	}
	res, err := s.engine.Templates.Sync(r.Context())
	if err != nil {
		// Meta's refusal or silence, or the store's: the registry keeps
		// what it had, and the caller may try again.
		s.log.Warn("template sync on demand failed", zap.String("request_id", requestIDFrom(r.Context())), zap.Error(err))
		s.audit(r, "templates.sync", "templates", actors.OutcomeFailure, "")
		writeError(w, r, errf(http.StatusServiceUnavailable, CodeUnavailable,
			"the templates could not be synced from WhatsApp; the registry keeps its last content, retry later"))
		return
	}
	s.audit(r, "templates.sync", "templates", actors.OutcomeSuccess, fmt.Sprintf("total=%d", res.Total))
	writeData(w, http.StatusOK, res)
}

// refuseTemplate checks a template send against the registry before
// anything is done for it, and answers 422 when the template does not
// exist in that language, is not usable (paused, disabled, pending,
// rejected, or marked by a failed send) or the components do not fit it.
// It reports whether it answered. An account never synced cannot tell:
// the send goes on unchecked.
func (s *Server) refuseTemplate(w http.ResponseWriter, r *http.Request, phoneID, name, lang string, components json.RawMessage) bool {
	if s.engine.Templates == nil {
		return false
	}
	res, err := s.engine.Templates.Resolve(r.Context(), phoneID, name, lang)
	if err != nil {
		s.fail(w, r, err)
		return true
	}
	if !res.Synced {
		return false
	}
	var ae *apiError
	switch {
	case !res.Found && len(res.Languages) == 0:
		ae = errf(http.StatusUnprocessableEntity, CodeTemplateNotFound, fmt.Sprintf("the business account has no template named %q", name))
		ae.Fields = []FieldError{{Field: "template.name", Code: "UNKNOWN_TEMPLATE", Message: "no template of this name"}}
	case !res.Found:
		ae = errf(http.StatusUnprocessableEntity, CodeTemplateNotFound,
			fmt.Sprintf("template %q has no %s translation; it exists in %s", name, lang, strings.Join(res.Languages, ", ")))
		ae.Fields = []FieldError{{Field: "template.language", Code: "UNKNOWN_LANGUAGE", Message: "the template exists in " + strings.Join(res.Languages, ", ")}}
	case !res.Template.Usable():
		ae = errf(http.StatusUnprocessableEntity, CodeTemplateNotApproved, notUsable(res.Template))
		ae.Fields = []FieldError{{Field: "template.name", Code: res.Template.Status, Message: notUsable(res.Template)}}
	default:
		problems := template.Check(res.Template, components)
		if len(problems) == 0 {
			return false
		}
		ae = errf(http.StatusUnprocessableEntity, CodeTemplateParameters,
			fmt.Sprintf("the components do not fit template %q (%s): %s", name, res.Template.Language, problems[0].Message))
		for _, p := range problems {
			ae.Fields = append(ae.Fields, FieldError{Field: p.Field, Code: p.Code, Message: p.Message})
		}
	}
	s.audit(r, "messages.send", "template:"+name+"/"+lang, actors.OutcomeDenied, ae.Code)
	writeError(w, r, ae)
	return true
}

// notUsable says why t cannot be sent.
func notUsable(t actors.Template) string {
	msg := fmt.Sprintf("template %q (%s) is %s", t.Name, t.Language, strings.ToLower(strings.ReplaceAll(t.Status, "_", " ")))
	if t.Status == actors.TemplateApproved && t.FailedCode != 0 {
		msg = fmt.Sprintf("template %q (%s) was refused by WhatsApp (%d) and is held back until the next template sync", t.Name, t.Language, t.FailedCode)
	}
	if t.Reason != "" {
		msg += ": " + t.Reason
	}
	return msg
}
