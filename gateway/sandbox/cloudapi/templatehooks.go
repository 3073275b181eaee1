package cloudapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// The change fields of Meta's template webhooks.
const (
	fieldTemplateStatus  = "message_template_status_update"
	fieldTemplateQuality = "message_template_quality_update"
)

// templateStatusValue is the value of a message_template_status_update
// change, in Meta's key order.
type templateStatusValue struct {
	Event                   string `json:"event"`
	MessageTemplateID       int64  `json:"message_template_id"`
	MessageTemplateName     string `json:"message_template_name"`
	MessageTemplateLanguage string `json:"message_template_language"`
	Reason                  string `json:"reason"`
	MessageTemplateCategory string `json:"message_template_category,omitempty"`
	DisableInfo             *struct {
		DisableDate string `json:"disable_date"`
	} `json:"disable_info,omitempty"`
	OtherInfo *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"other_info,omitempty"`
}

// templateQualityValue is the value of a message_template_quality_update
// change.
type templateQualityValue struct {
	PreviousQualityScore    string `json:"previous_quality_score"`
	NewQualityScore         string `json:"new_quality_score"`
	MessageTemplateID       int64  `json:"message_template_id"`
	MessageTemplateName     string `json:"message_template_name"`
	MessageTemplateLanguage string `json:"message_template_language"`
}

func templateIDNumber(id string) int64 {
	n, _ := strconv.ParseInt(id, 10, 64)
	return n
}

// statusEvent is the message_template_status_update update announcing t's
// status (reason: Meta's reason, "NONE" when there is none).
func (w *whatsApp) statusEvent(t Template, reason string, at time.Time) update {
	v := templateStatusValue{Event: t.Status, MessageTemplateID: templateIDNumber(t.ID), MessageTemplateName: t.Name,
		MessageTemplateLanguage: t.Language, Reason: reason, MessageTemplateCategory: t.Category}
	switch t.Status {
	case TemplateDisabled:
		v.DisableInfo = &struct {
			DisableDate string `json:"disable_date"`
		}{DisableDate: unixString(at)}
	case TemplatePaused:
		v.OtherInfo = &struct {
			Title       string `json:"title"`
			Description string `json:"description"`
		}{Title: "FIRST_PAUSE", Description: "Your WhatsApp message template has been paused for 3 hours because of low quality."}
	}
	return update{wabaID: w.opts.BusinessAccountID, field: fieldTemplateStatus, value: v, at: at}
}

func (w *whatsApp) qualityEvent(before, after Template, at time.Time) update {
	return update{wabaID: w.opts.BusinessAccountID, field: fieldTemplateQuality, at: at, value: templateQualityValue{
		PreviousQualityScore: before.QualityScore, NewQualityScore: after.QualityScore, MessageTemplateID: templateIDNumber(after.ID),
		MessageTemplateName: after.Name, MessageTemplateLanguage: after.Language}}
}

// scheduleReview posts the review webhook of a created template after the
// review delay. The registry settles the template on its own at that
// time, so it is approved or rejected even when nothing is posted.
func (w *whatsApp) scheduleReview(id string) {
	st := step{name: "template review", build: func(now time.Time) []update {
		t, ok := w.templates.settle(id)
		if !ok || t.Status == TemplatePending {
			return nil // deleted, or reviewed by hand meanwhile: nothing to announce
		}
		reason := t.RejectedReason
		if t.Status != TemplateRejected {
			reason = "NONE"
		}
		return []update{w.statusEvent(t, reason, now)}
	}}
	if err := w.disp.enqueue([]step{st}, w.opts.TemplateReviewDelay, zap.String("template_id", id)); err != nil {
		w.log.Warn("template review webhook dropped: callback queue is full", zap.String("template_id", id))
	}
}

// TemplateUpdate changes a template by hand, as Meta's reviewers and
// quality ratings do: an empty field is left as it is.
type TemplateUpdate struct {
	// Status: APPROVED, PENDING, REJECTED, PAUSED or DISABLED.
	Status string `json:"status,omitempty"`
	// Quality: GREEN, YELLOW, RED or UNKNOWN.
	Quality string `json:"quality,omitempty"`
	// Reason is the status webhook's reason (default "NONE", or
	// INVALID_FORMAT for a rejection).
	Reason string `json:"reason,omitempty"`
}

// updateTemplate applies u to the template id and posts the
// message_template_status_update and message_template_quality_update
// webhooks of what changed, in that order.
func (w *whatsApp) updateTemplate(id string, u TemplateUpdate) (Template, error) {
	status, quality := upper(u.Status), upper(u.Quality)
	if status != "" && !validStatus(status) {
		return Template{}, fmt.Errorf("update template %s: status %q: %w", id, u.Status, ErrTemplateStatus)
	}
	if quality != "" && !validQuality(quality) {
		return Template{}, fmt.Errorf("update template %s: quality %q: %w", id, u.Quality, ErrTemplateQuality)
	}
	reason := u.Reason
	if reason == "" {
		reason = "NONE"
		if status == TemplateRejected {
			reason = "INVALID_FORMAT"
		}
	}
	before, after, ok := w.templates.update(id, func(t *Template) {
		if status != "" {
			t.Status = status
			if status == TemplateRejected {
				t.RejectedReason = reason
			}
		}
		if quality != "" {
			t.QualityScore = quality
		}
	})
	if !ok {
		return Template{}, fmt.Errorf("update template %s: %w", id, ErrTemplateNotFound)
	}
	var steps []step
	if after.Status != before.Status {
		steps = append(steps, step{name: "template status", build: func(now time.Time) []update { return []update{w.statusEvent(after, reason, now)} }})
	}
	if after.QualityScore != before.QualityScore {
		steps = append(steps, step{name: "template quality", build: func(now time.Time) []update { return []update{w.qualityEvent(before, after, now)} }})
	}
	if err := w.disp.enqueue(steps, 0, zap.String("template_id", id)); err != nil {
		w.log.Warn("template webhooks dropped: callback queue is full", zap.String("template_id", id))
	}
	return after, nil
}

// templateUpdateRequest is the body of POST /sandbox/whatsapp/templates/update.
type templateUpdateRequest struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Language string `json:"language"`
	TemplateUpdate
}

// handleTemplateUpdate is POST /sandbox/whatsapp/templates/update
// {"id" | "name"+"language", "status"?, "quality"?, "reason"?}: it pauses,
// disables, approves or rejects a template, or changes its quality
// score, and posts the webhooks Meta would.
func (w *whatsApp) handleTemplateUpdate(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxControlBody))
	if err != nil {
		writeValidation(rw, "", "request body is too large or unreadable")
		return
	}
	var req templateUpdateRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeValidation(rw, "", "request body must be a JSON object with id (or name and language), and status, quality or reason: "+strings.TrimPrefix(err.Error(), "json: "))
		return
	}
	id := req.ID
	if id == "" {
		if req.Name == "" || req.Language == "" {
			writeValidation(rw, "id", "id, or name and language, name the template")
			return
		}
		id = w.templates.lookupID(req.Name, req.Language)
	}
	if req.Status == "" && req.Quality == "" {
		writeValidation(rw, "status", "status or quality is required")
		return
	}
	t, err := w.updateTemplate(id, req.TemplateUpdate)
	switch {
	case err == nil:
		writeJSON(rw, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"template": viewOf(t, allTemplateFields)}})
	case errors.Is(err, ErrTemplateNotFound):
		writeJSON(rw, http.StatusNotFound, controlError{Status: "error", Code: "NOT_FOUND", Message: "no such template"})
	case errors.Is(err, ErrTemplateStatus):
		writeValidation(rw, "status", "status must be APPROVED, PENDING, REJECTED, PAUSED or DISABLED")
	default:
		writeValidation(rw, "quality", "quality must be GREEN, YELLOW, RED or UNKNOWN")
	}
}
