package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// pricedStatusBody is a status webhook for wamid with a pricing object
// (per-message pricing when typ is set, an old CBP body otherwise).
func pricedStatusBody(phoneNumberID, waID, wamid, status, model, category, typ string, billable bool) []byte {
	pricing := fmt.Sprintf(`{"billable":%t,"pricing_model":%q,"category":%q}`, billable, model, category)
	conv := ""
	if typ != "" {
		pricing = fmt.Sprintf(`{"billable":%t,"pricing_model":%q,"category":%q,"type":%q}`, billable, model, category, typ)
	}
	if typ == "free_entry_point" || model == actors.PricingConversation {
		conv = `"conversation":{"id":"CONV","expiration_timestamp":"1752072802","origin":{"type":"service"}},`
	}
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},`+
		`"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q,%s"pricing":%s}]},"field":"messages"}]}]}`,
		phoneNumberID, wamid, status, time.Now().Unix(), waID, conv, pricing))
}

// TestPricingPerMessage: status webhooks' pricing (PMP, and an old CBP
// body) is stored per outbound message, shown in the message view, and
// counted by category and billable for supervisors (not agents).
func TestPricingPerMessage(t *testing.T) {
	t.Parallel()
	api := newMetaFake(t)
	cfg := testConfig(t)
	cfg.WhatsAppAccessToken, cfg.WhatsAppAPIURL = "token-under-test", api.srv.URL
	l := startLive(t, cfg)
	admin := l.admin()
	_, supervisor := l.user(actors.RoleSupervisor)
	_, agent := l.user(actors.RoleAgent)
	number := cfg.WhatsAppPhoneNumberID
	start := time.Now().UTC().Add(-time.Second)

	prices := []struct {
		model, category, typ string
		billable             bool
	}{
		{actors.PricingPerMessage, "service", "free_customer_service", false},
		{actors.PricingPerMessage, "marketing", "regular", true},
		{actors.PricingPerMessage, "marketing", "regular", true},
		{actors.PricingPerMessage, "utility", "free_entry_point", false},
		{actors.PricingConversation, "service", "", true},
	}
	var lastConv, lastID string
	for i, p := range prices {
		wa := fmt.Sprintf("91981180000%d", i)
		c := l.customerWrites(wa)
		id := l.sendKind(admin, wa, "text")
		require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusSent }, 10*time.Second, 10*time.Millisecond)
		wamid := api.callsTo(wa)[0].wamid
		for _, st := range []string{actors.StatusSent, actors.StatusDelivered} {
			require.Equal(t, 200, l.webhook(pricedStatusBody(number, wa, wamid, st, p.model, p.category, p.typ, p.billable), ""))
		}
		require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusDelivered }, 10*time.Second, 10*time.Millisecond)
		lastConv, lastID = c.ID, id
	}
	v := l.messageView(admin, lastConv, lastID)
	assert.Equal(t, map[string]any{"billable": true, "pricingModel": "CBP", "category": "service"}, v["pricing"], "an old CBP body still parses")

	st, body := l.api("GET", "/api/whatsapp/pricing?from="+start.Format(time.RFC3339Nano)+"&phoneNumberId="+number, supervisor, nil)
	require.Equal(t, http.StatusOK, st, body)
	data := body["data"].(map[string]any)
	assert.Equal(t, []any{
		map[string]any{"category": "marketing", "billable": true, "count": 2.0},
		map[string]any{"category": "service", "billable": false, "count": 1.0},
		map[string]any{"category": "service", "billable": true, "count": 1.0},
		map[string]any{"category": "utility", "billable": false, "count": 1.0},
	}, data["items"])
	assert.EqualValues(t, 5, data["total"])
	assert.EqualValues(t, 3, data["billable"])

	st, body = l.api("GET", "/api/whatsapp/pricing?phoneNumberId=other", admin, nil)
	require.Equal(t, http.StatusOK, st, body)
	assert.Empty(t, body["data"].(map[string]any)["items"])
	st, _ = l.api("GET", "/api/whatsapp/pricing", agent, nil)
	assert.Equal(t, http.StatusForbidden, st, "agents do not see the bill")
	st, body = l.api("GET", "/api/whatsapp/pricing?from=yesterday", admin, nil)
	assert.Equal(t, http.StatusBadRequest, st, body)
	st, body = l.api("GET", "/api/whatsapp/pricing?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", admin, nil)
	assert.Equal(t, http.StatusBadRequest, st, body)
}

// TestWebhookErrorsSurfaced: a webhook whose change carries only
// value-level errors (no statuses, no messages) is stored, counted and
// listed for admins and supervisors.
func TestWebhookErrorsSurfaced(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	admin := l.admin()
	_, supervisor := l.user(actors.RoleSupervisor)
	_, agent := l.user(actors.RoleAgent)
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",` +
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":"100000000000888"},` +
		`"errors":[{"code":131042,"title":"Business eligibility payment issue","message":"Business eligibility payment issue",` +
		`"error_data":{"details":"Message failed to send because there were one or more errors related to your payment method."},` +
		`"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]},"field":"messages"}]}]}`)
	require.Equal(t, 200, l.webhook(body, ""))
	require.Equal(t, 200, l.webhook(body, ""), "Meta's redelivery")

	for _, tok := range []string{admin, supervisor} {
		require.Eventually(t, func() bool {
			st, res := l.api("GET", "/api/whatsapp/webhook-errors?phoneNumberId=100000000000888", tok, nil)
			return st == http.StatusOK && len(res["data"].(map[string]any)["items"].([]any)) >= 1
		}, 10*time.Second, 20*time.Millisecond)
	}
	st, res := l.api("GET", "/api/whatsapp/webhook-errors?limit=10", admin, nil)
	require.Equal(t, http.StatusOK, st, res)
	items := res["data"].(map[string]any)["items"].([]any)
	require.NotEmpty(t, items)
	first := items[0].(map[string]any)
	assert.Equal(t, "100000000000888", first["phoneNumberId"])
	e := first["error"].(map[string]any)
	assert.EqualValues(t, 131042, e["code"])
	assert.Contains(t, e["details"], "payment method")
	assert.GreaterOrEqual(t, l.metric(`engine_webhook_errors_total{code="131042"}`), 1.0)
	st, _ = l.api("GET", "/api/whatsapp/webhook-errors", agent, nil)
	assert.Equal(t, http.StatusForbidden, st)
	st, _ = l.api("GET", "/api/whatsapp/webhook-errors?limit=zero", admin, nil)
	assert.Equal(t, http.StatusBadRequest, st)
}
