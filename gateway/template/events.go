package template

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Cloud API errors that say a template cannot be sent as it is.
const (
	ErrCodeParameterCount  = 132000
	ErrCodeMissing         = 132001
	ErrCodeTextTooLong     = 132005
	ErrCodeFormatPolicy    = 132007
	ErrCodeParameterFormat = 132012
	ErrCodePaused          = 132015
	ErrCodeDisabled        = 132016
)

// statusOfEvent maps a status webhook's event to the status it sets; ok is
// false for events that leave the status as it is (FLAGGED, LOCKED,
// UNLOCKED, LIMIT_EXCEEDED, UNARCHIVED and newer ones: a sync follows).
func statusOfEvent(event string) (status string, ok bool) {
	switch e := strings.ToUpper(event); e {
	case actors.TemplateApproved, "REINSTATED":
		return actors.TemplateApproved, true
	case actors.TemplatePaused, actors.TemplateDisabled, actors.TemplateRejected, actors.TemplatePending, actors.TemplateInAppeal,
		actors.TemplateArchived, actors.TemplateDeleted, actors.TemplatePendingDeletion:
		return e, true
	}
	return "", false
}

// ApplyTemplateEvent applies a template webhook of the registry's account:
// a status event sets the status (and settles any failure of a send, so a
// template paused by 132015 is usable again once APPROVED or REINSTATED
// arrives), a quality event the quality rating. Every template event of the
// account also asks Run for a sync (a new template, changed components or
// category). An event of another account, or of a template the registry
// does not hold, changes nothing here. An error means the store failed and
// the webhook should be applied again.
func (r *Registry) ApplyTemplateEvent(ctx context.Context, ev actors.TemplateEvent) error {
	if ev.BusinessAccountID != "" && ev.BusinessAccountID != r.waba {
		r.log.Debug("template webhook of another business account ignored", zap.String("event_account", ev.BusinessAccountID))
		return nil
	}
	defer r.RequestSync()
	u := actors.TemplateUpdate{At: r.now().UTC()}
	switch ev.Field {
	case actors.FieldTemplateStatus:
		status, ok := statusOfEvent(ev.Event)
		if !ok {
			return nil
		}
		u.Status = status
		if status != actors.TemplateApproved && ev.Reason != "" && !strings.EqualFold(ev.Reason, "NONE") {
			u.Reason = ev.Reason
		}
	case actors.FieldTemplateQuality:
		if ev.Quality == "" {
			return nil
		}
		u.Quality = strings.ToUpper(ev.Quality)
	default:
		return nil
	}
	err := r.store.UpdateTemplate(ctx, r.waba, ev.Name, normalizeLanguage(ev.Language), u)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		r.log.Debug("template webhook for a template not in the registry; the sync brings it", zap.String("template", ev.Name))
		return nil
	case err != nil:
		return fmt.Errorf("apply %s of template %s/%s: %w", ev.Field, ev.Name, ev.Language, err)
	}
	r.log.Info("template changed by webhook", zap.String("template", ev.Name), zap.String("language", ev.Language),
		zap.String("status", u.Status), zap.String("quality", u.Quality))
	return nil
}

// TemplateFailed records that Meta refused a send of the template name in
// language from the business number phoneNumberID with werr (late or at
// once): 132015 marks it PAUSED, 132016 DISABLED, 132001 removes it (it
// does not exist in that language), any other code flags it with that code.
// Later sends of it are then refused before they are queued, until a sync
// or a status webhook says it is usable again. A template the registry does
// not hold is left alone; an error means the store failed. A nil Registry
// (no business account configured) records nothing.
func (r *Registry) TemplateFailed(ctx context.Context, phoneNumberID, name, language string, werr actors.WhatsAppError) error {
	if r == nil || werr.Code == 0 || name == "" {
		return nil
	}
	lang := normalizeLanguage(language)
	reason := strconv.Itoa(werr.Code)
	if werr.Title != "" {
		reason += " " + werr.Title
	}
	u := actors.TemplateUpdate{Reason: reason, FailedCode: werr.Code, At: r.now().UTC()}
	var err error
	switch werr.Code {
	case ErrCodeMissing:
		err = r.store.DeleteTemplate(ctx, r.waba, name, lang)
	case ErrCodePaused:
		u.Status = actors.TemplatePaused
		err = r.store.UpdateTemplate(ctx, r.waba, name, lang, u)
	case ErrCodeDisabled:
		u.Status = actors.TemplateDisabled
		err = r.store.UpdateTemplate(ctx, r.waba, name, lang, u)
	default:
		err = r.store.UpdateTemplate(ctx, r.waba, name, lang, u)
	}
	switch {
	case errors.Is(err, actors.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("mark template %s/%s unusable after %d from %s: %w", name, language, werr.Code, phoneNumberID, err)
	}
	r.marked.WithLabelValues(strconv.Itoa(werr.Code)).Inc()
	r.log.Warn("template marked unusable by a failed send", zap.String("phone_number_id", phoneNumberID), zap.String("template", name),
		zap.String("language", lang), zap.Int("code", werr.Code))
	return nil
}
