package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wacc/engine/actors"
)

// WhatsAppReports are the operators' views of what WhatsApp reported: the
// pricing of outbound messages and the value-level webhook errors.
type WhatsAppReports interface {
	CountPricing(ctx context.Context, f actors.PricingFilter) ([]actors.PricingCount, error)
	ListWebhookErrors(ctx context.Context, phoneNumberID string, limit int) ([]actors.WebhookErrorRecord, error)
}

// pricingReport is GET /api/whatsapp/pricing's data: priced outbound
// messages by category and billable, and the totals.
type pricingReport struct {
	From          *time.Time            `json:"from"`
	To            *time.Time            `json:"to"`
	PhoneNumberID string                `json:"phoneNumberId,omitempty"`
	Items         []actors.PricingCount `json:"items"`
	Total         int                   `json:"total"`
	Billable      int                   `json:"billable"`
}

type webhookErrorsPage struct {
	Items []actors.WebhookErrorRecord `json:"items"`
	Total int                         `json:"total"`
	Limit int                         `json:"limit"`
}

// phoneNumberParam reads an optional phoneNumberId query parameter.
func phoneNumberParam(q query, ve *validationError) string {
	v := q.get("phoneNumberId")
	if len(v) > 64 || strings.ContainsAny(v, "/?#") {
		ve.add("phoneNumberId", "INVALID_VALUE", "is not a phone number id")
		return ""
	}
	return v
}

func (s *Server) handlePricing(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "from", "to", "phoneNumberId")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	ve := &validationError{}
	f := actors.PricingFilter{From: q.time(ve, "from"), To: q.time(ve, "to"), PhoneNumberID: phoneNumberParam(q, ve)}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		ve.add("to", "INVALID_RANGE", "must be after from")
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	counts, err := s.engine.Reports.CountPricing(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rep := pricingReport{PhoneNumberID: f.PhoneNumberID, Items: counts}
	if rep.Items == nil {
		rep.Items = []actors.PricingCount{}
	}
	if !f.From.IsZero() {
		rep.From = &f.From
	}
	if !f.To.IsZero() {
		rep.To = &f.To
	}
	for _, c := range counts {
		rep.Total += c.Count
		if c.Billable {
			rep.Billable += c.Count
		}
	}
	writeData(w, http.StatusOK, rep)
}

func (s *Server) handleWebhookErrors(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "limit", "phoneNumberId")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	ve := &validationError{}
	number := phoneNumberParam(q, ve)
	limit := 50
	if v := q.get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			ve.add("limit", "INVALID_NUMBER", "must be a whole number from 1 to 100")
		} else {
			limit = min(n, maxLimit)
		}
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	items, err := s.engine.Reports.ListWebhookErrors(r.Context(), number, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if items == nil {
		items = []actors.WebhookErrorRecord{}
	}
	writeData(w, http.StatusOK, webhookErrorsPage{Items: items, Total: len(items), Limit: limit})
}
