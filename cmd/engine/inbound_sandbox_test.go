package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryInboundTypeThroughTheSandbox simulates each inbound message type
// with the built-in sandbox (POST /sandbox/whatsapp/inbound), which posts it
// to the engine as Meta would (escaped, signed): each is stored with its
// type, a readable text for agents and, where sent, its reply context and
// referral; GET .../messages shows it.
func TestEveryInboundTypeThroughTheSandbox(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	admin := l.admin()
	phone := l.cfg.WhatsAppPhoneNumberID
	cases := []struct {
		name string
		// req is the simulation's body besides from and phoneNumberId.
		req      map[string]any
		wantType string
		wantText string
	}{
		{name: "text with an emoji and a slash", req: map[string]any{"text": "née 😀 a/b"}, wantType: "text", wantText: "née 😀 a/b"},
		{name: "reply with context", req: map[string]any{"text": "that one", "context": map[string]any{"id": "wamid.ORIGINAL"}}, wantType: "text", wantText: "that one"},
		{name: "click-to-WhatsApp referral", req: map[string]any{"text": "I saw your ad", "referral": map[string]any{"source_url": "https://fb.me/ad", "source_id": "120",
			"source_type": "ad", "headline": "Sale"}}, wantType: "text", wantText: "I saw your ad"},
		{name: "image", req: map[string]any{"type": "image", "image": map[string]any{"caption": "my receipt"}}, wantType: "image", wantText: "my receipt"},
		{name: "voice", req: map[string]any{"type": "audio", "audio": map[string]any{"voice": true}}, wantType: "audio", wantText: "[voice message]"},
		{name: "audio", req: map[string]any{"type": "audio", "audio": map[string]any{"mime_type": "audio/mpeg"}}, wantType: "audio", wantText: "[audio]"},
		{name: "video", req: map[string]any{"type": "video", "video": map[string]any{"caption": "unboxing"}}, wantType: "video", wantText: "unboxing"},
		{name: "document", req: map[string]any{"type": "document", "document": map[string]any{"filename": "invoice.pdf"}}, wantType: "document", wantText: "invoice.pdf"},
		{name: "sticker", req: map[string]any{"type": "sticker", "sticker": map[string]any{"animated": true}}, wantType: "sticker", wantText: "[sticker]"},
		{name: "location", req: map[string]any{"type": "location", "location": map[string]any{"latitude": 37.46, "longitude": -122.21, "name": "HQ", "address": "1 Hacker Way"}},
			wantType: "location", wantText: "HQ, 1 Hacker Way"},
		{name: "contacts", req: map[string]any{"type": "contacts", "contacts": []any{map[string]any{"name": map[string]any{"formatted_name": "Chandler Bing", "first_name": "Chandler"}}}},
			wantType: "contacts", wantText: "Chandler Bing"},
		{name: "button reply", req: map[string]any{"type": "interactive", "interactive": map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": "yes", "title": "Yes"}}},
			wantType: "interactive", wantText: "Yes"},
		{name: "list reply", req: map[string]any{"type": "interactive", "interactive": map[string]any{"type": "list_reply", "list_reply": map[string]any{"id": "r1", "title": "Row one"}}},
			wantType: "interactive", wantText: "Row one"},
		{name: "flow reply", req: map[string]any{"type": "interactive", "interactive": map[string]any{"type": "nfm_reply", "nfm_reply": map[string]any{"name": "flow", "body": "Sent",
			"response_json": `{"flow_token":"t"}`}}}, wantType: "interactive", wantText: "Sent"},
		{name: "template quick reply", req: map[string]any{"type": "button", "button": map[string]any{"payload": "STOP", "text": "Stop promotions"}}, wantType: "button", wantText: "Stop promotions"},
		{name: "reaction", req: map[string]any{"type": "reaction", "reaction": map[string]any{"message_id": "wamid.OUT", "emoji": "❤️"}}, wantType: "reaction", wantText: "❤️"},
		{name: "reaction removed", req: map[string]any{"type": "reaction", "reaction": map[string]any{"message_id": "wamid.OUT", "emoji": ""}}, wantType: "reaction", wantText: "[reaction removed]"},
		{name: "order", req: map[string]any{"type": "order", "order": map[string]any{"catalog_id": "354160437058781", "text": "",
			"product_items": []any{map[string]any{"product_retailer_id": "BURGER", "quantity": 3, "item_price": 30, "currency": "INR"}}}}, wantType: "order", wantText: "order (1 item)"},
		{name: "number changed", req: map[string]any{"name": "Asha", "type": "system", "system": map[string]any{"type": "user_changed_number", "wa_id": "919876599999"}},
			wantType: "system", wantText: "changed from"},
		{name: "unsupported", req: map[string]any{"type": "unsupported"}, wantType: "unsupported", wantText: "[unsupported message]"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wa := fmt.Sprintf("9198765%05d", 40000+i)
			req := map[string]any{"from": wa, "phoneNumberId": phone}
			for k, v := range tc.req {
				req[k] = v
			}
			st, body := l.sandboxControl("/sandbox/whatsapp/inbound", req)
			require.Equal(t, 202, st, "simulation refused: %v", body)
			wamid := body["data"].(map[string]any)["waMessageId"].(string)

			c := l.conversationOf(phone, wa)
			st, res := l.api("GET", "/api/whatsapp/conversations/"+c.ID+"/messages", admin, nil)
			require.Equal(t, 200, st, res)
			items := res["data"].(map[string]any)["items"].([]any)
			require.Len(t, items, 1)
			m := items[0].(map[string]any)
			assert.Equal(t, "inbound", m["direction"])
			assert.Equal(t, tc.wantType, m["type"])
			assert.Equal(t, wamid, m["waMessageId"])

			stored, err := l.e.store.MessageByWaID(context.Background(), wamid)
			require.NoError(t, err)
			assert.Contains(t, stored.Text, tc.wantText, "readable for agents")
			assert.NotEmpty(t, stored.Raw, "kept whole")
			if ctx, ok := tc.req["context"].(map[string]any); ok {
				assert.Contains(t, string(stored.Raw), ctx["id"].(string), "the reply's context is kept")
			}
			if _, ok := tc.req["referral"]; ok {
				assert.Contains(t, string(stored.Raw), "https:\\/\\/fb.me\\/ad", "the referral is kept as Meta sent it (escaped)")
			}
		})
	}
}
