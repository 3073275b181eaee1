package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSendsCheckedAgainstMetaLimits: free-form sends that Meta would
// refuse for a reason the engine can see are refused with 400
// VALIDATION_ERROR naming the field, before anything is queued; sends at
// the limits are accepted.
func TestSendsCheckedAgainstMetaLimits(t *testing.T) {
	t.Parallel()
	api := newMetaFake(t)
	cfg := testConfig(t)
	cfg.WhatsAppAccessToken, cfg.WhatsAppAPIURL = "token-under-test", api.srv.URL
	l := startLive(t, cfg)
	admin := l.admin()
	wa := "919811160000"
	l.customerWrites(wa)

	button := func(id, title string) map[string]any {
		return map[string]any{"type": "reply", "reply": map[string]string{"id": id, "title": title}}
	}
	buttons := func(bs ...map[string]any) map[string]any {
		return map[string]any{"type": "button", "body": map[string]string{"text": "Pick one"}, "action": map[string]any{"buttons": bs}}
	}
	row := func(id, title, desc string) map[string]string {
		return map[string]string{"id": id, "title": title, "description": desc}
	}
	list := func(button string, sections ...map[string]any) map[string]any {
		return map[string]any{"type": "list", "body": map[string]string{"text": "Choose"}, "action": map[string]any{"button": button, "sections": sections}}
	}
	section := func(title string, rows ...map[string]string) map[string]any {
		return map[string]any{"title": title, "rows": rows}
	}
	manyRows := func(prefix string, n int) []map[string]string {
		var rs []map[string]string
		for i := range n {
			rs = append(rs, row(prefix+string(rune('a'+i)), "Row", ""))
		}
		return rs
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	interactive := func(obj map[string]any) map[string]any {
		return map[string]any{"type": "interactive", "interactive": obj}
	}
	reaction := func(emoji string) map[string]any {
		return map[string]any{"type": "reaction", "reaction": map[string]string{"messageId": "wamid.in.x", "emoji": emoji}}
	}
	tests := []struct {
		name string
		body map[string]any
		// field is the refused field; "" means the send is accepted.
		field string
	}{
		{name: "three buttons", body: interactive(buttons(button("a", "Yes"), button("b", "No"), button("c", strings.Repeat("x", 20))))},
		{name: "four buttons", body: interactive(buttons(button("a", "1"), button("b", "2"), button("c", "3"), button("d", "4"))), field: "interactive.action.buttons"},
		{name: "no button", body: interactive(buttons()), field: "interactive.action.buttons"},
		{name: "button title 21", body: interactive(buttons(button("a", strings.Repeat("x", 21)))), field: "interactive.action.buttons[0].reply.title"},
		{name: "button id 257", body: interactive(buttons(button(strings.Repeat("i", 257), "Yes"))), field: "interactive.action.buttons[0].reply.id"},
		{name: "duplicate button ids", body: interactive(buttons(button("a", "Yes"), button("a", "No"))), field: "interactive.action.buttons[1].reply.id"},
		{name: "header text 61", body: interactive(with(buttons(button("a", "Yes")), "header", map[string]string{"type": "text", "text": strings.Repeat("h", 61)})),
			field: "interactive.header.text"},
		{name: "footer text 61", body: interactive(with(buttons(button("a", "Yes")), "footer", map[string]string{"text": strings.Repeat("f", 61)})),
			field: "interactive.footer.text"},
		{name: "body 1025", body: interactive(with(buttons(button("a", "Yes")), "body", map[string]string{"text": strings.Repeat("b", 1025)})),
			field: "interactive.body.text"},
		{name: "list of ten rows", body: interactive(list("Options", section("A", manyRows("a", 5)...), section("B", manyRows("b", 5)...)))},
		{name: "list of eleven rows", body: interactive(list("Options", section("A", manyRows("a", 6)...), section("B", manyRows("b", 5)...))), field: "interactive.action.sections"},
		{name: "eleven sections", body: interactive(list("Options", func() []map[string]any {
			var ss []map[string]any
			for range 11 {
				ss = append(ss, section("S", row("r", "Row", "")))
			}
			return ss
		}()...)), field: "interactive.action.sections"},
		{name: "row title 25", body: interactive(list("Options", section("A", row("r", strings.Repeat("t", 25), "")))), field: "interactive.action.sections[0].rows[0].title"},
		{name: "row description 73", body: interactive(list("Options", section("A", row("r", "Row", strings.Repeat("d", 73))))),
			field: "interactive.action.sections[0].rows[0].description"},
		{name: "list button 21", body: interactive(list(strings.Repeat("b", 21), section("A", row("r", "Row", "")))), field: "interactive.action.button"},
		{name: "section title 25", body: interactive(list("Options", section(strings.Repeat("s", 25), row("r", "Row", "")))), field: "interactive.action.sections[0].title"},
		{name: "untitled section among two", body: interactive(list("Options", section("", row("r", "Row", "")), section("B", row("s", "Row", "")))),
			field: "interactive.action.sections[0].title"},
		{name: "cta url", body: interactive(map[string]any{"type": "cta_url", "body": map[string]string{"text": "See"},
			"action": map[string]any{"name": "cta_url", "parameters": map[string]string{"display_text": "Open", "url": "https://example.com/x"}}})},
		{name: "cta url without a URL", body: interactive(map[string]any{"type": "cta_url", "body": map[string]string{"text": "See"},
			"action": map[string]any{"name": "cta_url", "parameters": map[string]string{"display_text": "Open", "url": "example"}}}), field: "interactive.action.parameters.url"},
		{name: "one emoji", body: reaction("\U0001F44D")},
		{name: "one emoji with a skin tone", body: reaction("\U0001F44D\U0001F3FD")},
		{name: "a ZWJ family", body: reaction("\U0001F468\u200D\U0001F469\u200D\U0001F467")},
		{name: "a flag", body: reaction("\U0001F1EE\U0001F1F3")},
		{name: "a keycap", body: reaction("1\uFE0F\u20E3")},
		{name: "removing the reaction", body: reaction("")},
		{name: "two emojis", body: reaction("\U0001F44D\U0001F44D"), field: "reaction.emoji"},
		{name: "a word", body: reaction("ok"), field: "reaction.emoji"},
		{name: "caption on audio", body: map[string]any{"type": "audio", "audio": map[string]string{"link": "https://example.com/a.ogg", "caption": "no"}},
			field: "audio.caption"},
		{name: "caption 1025", body: map[string]any{"type": "image", "image": map[string]string{"link": "https://example.com/a.jpg", "caption": strings.Repeat("c", 1025)}},
			field: "image.caption"},
		{name: "filename on an image", body: map[string]any{"type": "image", "image": map[string]string{"link": "https://example.com/a.jpg", "filename": "a.jpg"}},
			field: "image.filename"},
		{name: "text 4097", body: map[string]any{"type": "text", "text": map[string]string{"body": strings.Repeat("t", 4097)}}, field: "text.body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(api.callsTo(wa))
			tt.body["to"] = "+" + wa
			st, body := l.api("POST", "/api/whatsapp/messages", admin, tt.body)
			if tt.field == "" {
				require.Equal(t, http.StatusAccepted, st, body)
				require.Eventually(t, func() bool { return len(api.callsTo(wa)) == before+1 }, 10*time.Second, 10*time.Millisecond, "sent")
				return
			}
			require.Equal(t, http.StatusBadRequest, st, body)
			assert.Equal(t, "VALIDATION_ERROR", body["code"])
			var fields []string
			for _, e := range body["errors"].([]any) {
				fields = append(fields, e.(map[string]any)["field"].(string))
			}
			assert.Contains(t, fields, tt.field)
			assert.Len(t, api.callsTo(wa), before, "nothing sent")
		})
	}
	// Everything accepted went out; nothing refused did.
	accepted := 0
	for _, tt := range tests {
		if tt.field == "" {
			accepted++
		}
	}
	require.Eventually(t, func() bool { return len(api.callsTo(wa)) == accepted }, 10*time.Second, 20*time.Millisecond)
}

// TestReplyFromTheNumberTheCustomerWroteTo: a customer writes to business
// number B (not the default); an agent's reply that names no number goes
// out from B, into that conversation. A customer with no open conversation
// is answered from the default number (a template).
func TestReplyFromTheNumberTheCustomerWroteTo(t *testing.T) {
	t.Parallel()
	api := newMetaFake(t)
	cfg := testConfig(t)
	cfg.WhatsAppAccessToken, cfg.WhatsAppAPIURL = "token-under-test", api.srv.URL
	l := startLive(t, cfg)
	agentID, agent := l.user("agent")
	admin := l.admin()
	numberB, wa := "100000000000777", "919811170000"
	require.Equal(t, http.StatusOK, l.webhook(textBody(numberB, wa, "wamid.b."+wa, "hi on B", time.Now()), ""))
	c := l.conversationOf(numberB, wa)
	st, body := l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/assign", admin, map[string]any{"agentId": agentID})
	require.Equal(t, http.StatusOK, st, body)

	st, body = l.send(agent, "+"+wa, "reply without a number")
	require.Equal(t, http.StatusAccepted, st, "a reply to a customer who wrote to B is not outside the window: %v", body)
	assert.Equal(t, c.ID, body["data"].(map[string]any)["message"].(map[string]any)["conversationId"])
	require.Eventually(t, func() bool { return len(api.callsTo(wa)) == 1 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, numberB, api.callsTo(wa)[0].phoneNumberID, "sent from B")

	other := "919811170001"
	st, body = l.template(admin, "+"+other, "")
	require.Equal(t, http.StatusAccepted, st, body)
	require.Eventually(t, func() bool { return len(api.callsTo(other)) == 1 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, cfg.WhatsAppPhoneNumberID, api.callsTo(other)[0].phoneNumberID, "no open conversation: the default number")
}
