package cloudapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSendAcceptsEveryType(t *testing.T) {
	h := newHarness(t, Options{}, true)
	cases := []struct {
		name     string
		to       string // as sent
		wantWaID string
		body     string // the message fields after messaging_product and to
		wantType string
		template bool // the answer carries message_status "accepted"
	}{
		{name: "text", to: "919876543210", wantWaID: "919876543210", wantType: "text",
			body: `"recipient_type":"individual","type":"text","text":{"preview_url":false,"body":"Hello"}`},
		{name: "text with plus and context", to: "+919876543211", wantWaID: "919876543211", wantType: "text",
			body: `"type":"text","context":{"message_id":"wamid.abc"},"text":{"body":"reply"},"biz_opaque_callback_data":"t-1"`},
		{name: "null context and other objects", to: "919876543212", wantWaID: "919876543212", wantType: "text",
			body: `"type":"text","context":null,"image":null,"text":{"body":"nulls"}`},
		{name: "type omitted defaults to text", to: "919876543212", wantWaID: "919876543212", wantType: "text",
			body: `"text":{"body":"no type"}`},
		{name: "image by link", to: "919876543213", wantWaID: "919876543213", wantType: "image",
			body: `"type":"image","image":{"link":"https://example.com/a.jpg","caption":"look"}`},
		{name: "image by id", to: "919876543213", wantWaID: "919876543213", wantType: "image",
			body: `"type":"image","image":{"id":"1234567890"}`},
		{name: "audio", to: "919876543214", wantWaID: "919876543214", wantType: "audio",
			body: `"type":"audio","audio":{"id":"55"}`},
		{name: "video", to: "919876543215", wantWaID: "919876543215", wantType: "video",
			body: `"type":"video","video":{"link":"http://example.com/v.mp4","caption":"clip"}`},
		{name: "document", to: "919876543216", wantWaID: "919876543216", wantType: "document",
			body: `"type":"document","document":{"link":"https://example.com/a.pdf","filename":"a.pdf","caption":"invoice"}`},
		{name: "sticker", to: "919876543217", wantWaID: "919876543217", wantType: "sticker",
			body: `"type":"sticker","sticker":{"id":"77"}`},
		{name: "location with numbers", to: "919876543218", wantWaID: "919876543218", wantType: "location",
			body: `"type":"location","location":{"latitude":12.97,"longitude":77.59,"name":"Office","address":"MG Road"}`},
		{name: "location with strings", to: "919876543218", wantWaID: "919876543218", wantType: "location",
			body: `"type":"location","location":{"latitude":"-33.86","longitude":"151.2"}`},
		{name: "contacts", to: "919876543219", wantWaID: "919876543219", wantType: "contacts",
			body: `"type":"contacts","contacts":[{"name":{"formatted_name":"Asha Rao","first_name":"Asha"},"phones":[{"phone":"+919800000000","type":"WORK","wa_id":"919800000000"}],"emails":[{"email":"a@example.com","type":"WORK"}],"org":{"company":"Acme"}}]`},
		{name: "interactive button", to: "919876543220", wantWaID: "919876543220", wantType: "interactive",
			body: `"type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"Hi"},"body":{"text":"Pick one"},"footer":{"text":"thanks"},"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},{"type":"reply","reply":{"id":"no","title":"No"}}]}}`},
		{name: "interactive list", to: "919876543221", wantWaID: "919876543221", wantType: "interactive",
			body: `"type":"interactive","interactive":{"type":"list","body":{"text":"Choose"},"action":{"button":"Options","sections":[{"title":"A","rows":[{"id":"a1","title":"First","description":"one"}]},{"title":"B","rows":[{"id":"b1","title":"Second"}]}]}}`},
		{name: "template", to: "919876543222", wantWaID: "919876543222", wantType: "template", template: true,
			body: `"type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"42"}]}]}`},
		{name: "to with plus, spaces, hyphens and parentheses", to: "+91 (98765) 432-23", wantWaID: "919876543223", wantType: "text",
			body: `"type":"text","text":{"body":"formatted number"}`},
		{name: "unknown top-level field ignored", to: "919876543224", wantWaID: "919876543224", wantType: "text",
			body: `"type":"text","text":{"body":"x"},"priority":"high","preview_url":true`},
		{name: "contacts as a JSON-encoded string", to: "919876543225", wantWaID: "919876543225", wantType: "contacts",
			body: `"type":"contacts","contacts":"[{\"name\":{\"formatted_name\":\"Asha Rao\"},\"phones\":[{\"phone\":\"+919800000000\"}]}]"`},
		{name: "audio as a voice message", to: "919876543226", wantWaID: "919876543226", wantType: "audio",
			body: `"type":"audio","audio":{"id":"55","voice":true}`},
		{name: "interactive cta_url", to: "919876543227", wantWaID: "919876543227", wantType: "interactive",
			body: `"type":"interactive","interactive":{"type":"cta_url","header":{"type":"text","text":"Offer"},"body":{"text":"Tap to see our menu"},"footer":{"text":"Open daily"},"action":{"name":"cta_url","parameters":{"display_text":"See menu","url":"https://example.com/menu?table=4"}}}`},
		{name: "interactive location_request_message", to: "919876543228", wantWaID: "919876543228", wantType: "interactive",
			body: `"type":"interactive","interactive":{"type":"location_request_message","body":{"text":"Where should we deliver?"},"action":{"name":"send_location"}}`},
		{name: "interactive flow (navigate)", to: "919876543229", wantWaID: "919876543229", wantType: "interactive",
			body: `"type":"interactive","interactive":{"type":"flow","body":{"text":"Book a table"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_token":"tok-1","flow_id":"1234567890","flow_cta":"Book now","flow_action":"navigate","flow_action_payload":{"screen":"BOOKING","data":{"party":2}}}}}`},
		{name: "interactive flow (data_exchange by name)", to: "919876543229", wantWaID: "919876543229", wantType: "interactive",
			body: `"type":"interactive","interactive":{"type":"flow","body":{"text":"Sign up"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_name":"signup","flow_cta":"Sign up","flow_action":"data_exchange","mode":"draft"}}}`},
		{name: "template with named parameters", to: "919876543230", wantWaID: "919876543230", wantType: "template", template: true,
			body: `"type":"template","template":{"name":"reservation_confirmation","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"day","text":"Saturday"},{"type":"text","parameter_name":"number_of_guests","text":"4"}]}]}`},
		{name: "template with an image header", to: "919876543231", wantWaID: "919876543231", wantType: "template", template: true,
			body: `"type":"template","template":{"name":"package_photo","language":{"code":"en_US"},"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/p.jpg"}}]},{"type":"body","parameters":[{"type":"text","text":"#1042"}]}]}`},
		{name: "template with a URL button suffix", to: "919876543232", wantWaID: "919876543232", wantType: "template", template: true,
			body: `"type":"template","template":{"name":"track_order","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"#1042"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"ABC123"}]}]}`},
		{name: "authentication template with copy code", to: "919876543233", wantWaID: "919876543233", wantType: "template", template: true,
			body: `"type":"template","template":{"name":"otp_login","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"123456"}]},{"type":"button","sub_type":"url","index":0,"parameters":[{"type":"text","text":"123456"}]}]}`},
		{name: "template carousel", to: "919876543234", wantWaID: "919876543234", wantType: "template", template: true,
			body: `"type":"template","template":{"name":"plant_carousel","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"Pablo"}]},` +
				`{"type":"carousel","cards":[` +
				`{"card_index":0,"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"1111"}}]},{"type":"body","parameters":[{"type":"text","text":"Monstera"}]},{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"more-monstera"}]}]},` +
				`{"card_index":1,"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/c.jpg"}}]},{"type":"body","parameters":[{"type":"text","text":"Calathea"}]}]}]}]}`},
		{name: "reaction", to: "919876543223", wantWaID: "919876543223", wantType: "reaction",
			body: `"type":"reaction","reaction":{"message_id":"wamid.xyz","emoji":"👍"}`},
		{name: "reaction removed", to: "919876543223", wantWaID: "919876543223", wantType: "reaction",
			body: `"type":"reaction","reaction":{"message_id":"wamid.xyz","emoji":""}`},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"messaging_product":"whatsapp","to":"` + tc.to + `",` + tc.body + `}`
			res := h.send(t, body)
			require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)

			var got struct {
				MessagingProduct string              `json:"messaging_product"`
				Contacts         []map[string]string `json:"contacts"`
				Messages         []map[string]string `json:"messages"`
			}
			require.NoError(t, json.Unmarshal(res.raw, &got))
			assert.Len(t, res.json, 3, "exactly messaging_product, contacts, messages: %s", res.raw)
			assert.Equal(t, "whatsapp", got.MessagingProduct)
			assert.Equal(t, []map[string]string{{"input": tc.to, "wa_id": tc.wantWaID}}, got.Contacts)
			require.Len(t, got.Messages, 1)
			id := got.Messages[0]["id"]
			assert.True(t, strings.HasPrefix(id, "wamid."), "id %q", id)
			assert.False(t, seen[id], "wamid %s repeated", id)
			seen[id] = true
			if tc.template {
				assert.Equal(t, map[string]string{"id": id, "message_status": "accepted"}, got.Messages[0])
			} else {
				assert.Equal(t, map[string]string{"id": id}, got.Messages[0])
			}

			sent := h.sb.Sent()
			require.NotEmpty(t, sent)
			last := sent[len(sent)-1]
			assert.Equal(t, id, last.WaMessageID)
			assert.Equal(t, tc.wantWaID, last.To)
			assert.Equal(t, tc.wantType, last.Type)
			assert.Equal(t, testPhoneID, last.PhoneNumberID)
			assert.JSONEq(t, body, string(last.Body))
		})
	}
}

func TestWamidCarriesTheRecipient(t *testing.T) {
	id := newWamid("16505076520")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(id, "wamid."))
	require.NoError(t, err)
	assert.Contains(t, string(raw), "16505076520")
	assert.True(t, strings.HasPrefix(id, "wamid.HBg"), "shaped like Meta's ids: %s", id)
	assert.NotEqual(t, id, newWamid("16505076520"))
}

func TestMarkAsRead(t *testing.T) {
	h := newHarness(t, Options{}, true)
	res := h.send(t, `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.in1","typing_indicator":{"type":"text"}}`)
	require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
	assert.JSONEq(t, `{"success":true}`, string(res.raw))
	assert.Empty(t, h.sb.Sent(), "a read receipt is not a sent message")

	res = h.send(t, `{"messaging_product":"whatsapp","status":"read"}`)
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Contains(t, res.errorObject(t)["error_data"].(map[string]any)["details"], "message_id")
}

func TestSendValidation(t *testing.T) {
	h := newHarness(t, Options{}, true)
	long := strings.Repeat("a", 4097)
	cases := []struct {
		name      string
		body      string
		wantField string // the parameter error_data.details must name
	}{
		{name: "not JSON", body: `{"messaging_product":`, wantField: "JSON"},
		{name: "not an object", body: `[1,2]`, wantField: "body"},
		{name: "missing messaging_product", body: `{"to":"919876543210","type":"text","text":{"body":"x"}}`, wantField: "messaging_product"},
		{name: "wrong messaging_product", body: `{"messaging_product":"sms","to":"919876543210","type":"text","text":{"body":"x"}}`, wantField: "messaging_product"},
		{name: "missing to", body: `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`, wantField: "to"},
		{name: "to with letters", body: `{"messaging_product":"whatsapp","to":"91987abc210","type":"text","text":{"body":"x"}}`, wantField: "to"},
		{name: "to too short", body: `{"messaging_product":"whatsapp","to":"123456","type":"text","text":{"body":"x"}}`, wantField: "to"},
		{name: "to too long", body: `{"messaging_product":"whatsapp","to":"1234567890123456","type":"text","text":{"body":"x"}}`, wantField: "to"},
		{name: "to is a number", body: `{"messaging_product":"whatsapp","to":919876543210,"type":"text","text":{"body":"x"}}`, wantField: "to"},
		{name: "recipient_type group", body: `{"messaging_product":"whatsapp","recipient_type":"group","to":"919876543210","text":{"body":"x"}}`, wantField: "recipient_type"},
		{name: "unknown type", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"poll","text":{"body":"x"}}`, wantField: "type"},
		{name: "to with letters after the digits", body: `{"messaging_product":"whatsapp","to":"+91 98765 4321x","type":"text","text":{"body":"x"}}`, wantField: "to"},
		{name: "to starting with a hyphen", body: `{"messaging_product":"whatsapp","to":"-919876543210","type":"text","text":{"body":"x"}}`, wantField: "to"},
		{name: "unknown field in a JSON-encoded object", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":"{\"body\":\"x\",\"bold\":1}"}`, wantField: `"bold" on param text`},
		{name: "voice on an image", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"image","image":{"id":"1","voice":true}}`, wantField: `"voice"`},
		{name: "cta_url without url", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"cta_url","body":{"text":"x"},"action":{"name":"cta_url","parameters":{"display_text":"Go"}}}}`, wantField: "['url']"},
		{name: "cta_url with a long display text", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"cta_url","body":{"text":"x"},"action":{"name":"cta_url","parameters":{"display_text":"A display text that is far too long","url":"https://example.com"}}}}`, wantField: "display_text"},
		{name: "location request with another action", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"location_request_message","body":{"text":"x"},"action":{"name":"send_contact"}}}`, wantField: "send_location"},
		{name: "flow without version", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"flow","body":{"text":"x"},"action":{"name":"flow","parameters":{"flow_id":"1","flow_cta":"Go","flow_action":"data_exchange"}}}}`, wantField: "flow_message_version"},
		{name: "flow navigate without screen", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"flow","body":{"text":"x"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"1","flow_cta":"Go","flow_action_payload":{}}}}}`, wantField: "screen"},
		{name: "template text parameter empty", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":""}]}]}}`, wantField: "Parameter 'text' is mandatory"},
		{name: "template button without index", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"template","template":{"name":"track_order","language":{"code":"en_US"},"components":[{"type":"button","sub_type":"url","parameters":[{"type":"text","text":"x"}]}]}}`, wantField: "['index']"},
		{name: "template carousel card without card_index", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"template","template":{"name":"plant_carousel","language":{"code":"en_US"},"components":[{"type":"carousel","cards":[{"components":[]}]}]}}`, wantField: "card_index"},
		{name: "text object missing", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"text"}`, wantField: "text"},
		{name: "other type's object present", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":"x"},"image":{"id":"1"}}`, wantField: "image"},
		{name: "text body missing", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{}}`, wantField: "text['body']"},
		{name: "text body blank", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":"  "}}`, wantField: "text['body']"},
		{name: "text body too long", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":"` + long + `"}}`, wantField: "text['body']"},
		{name: "unknown field in text", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":"x","bold":true}}`, wantField: `"bold" on param text`},
		{name: "text body not a string", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":5}}`, wantField: "text['body']"},
		{name: "context without message_id", body: `{"messaging_product":"whatsapp","to":"919876543210","context":{},"text":{"body":"x"}}`, wantField: "context['message_id']"},
		{name: "image with id and link", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"image","image":{"id":"1","link":"https://example.com/a.jpg"}}`, wantField: "image"},
		{name: "image with neither id nor link", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"image","image":{"caption":"x"}}`, wantField: "image"},
		{name: "image link not http", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"image","image":{"link":"ftp://example.com/a.jpg"}}`, wantField: "image['link']"},
		{name: "audio with caption", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"audio","audio":{"id":"1","caption":"x"}}`, wantField: "audio['caption']"},
		{name: "video with filename", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"video","video":{"id":"1","filename":"v.mp4"}}`, wantField: "video['filename']"},
		{name: "location without latitude", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"location","location":{"longitude":1}}`, wantField: "location['latitude']"},
		{name: "location longitude out of range", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"location","location":{"latitude":1,"longitude":200}}`, wantField: "location['longitude']"},
		{name: "contacts empty", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"contacts","contacts":[]}`, wantField: "contacts"},
		{name: "contact without formatted_name", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"contacts","contacts":[{"name":{"first_name":"A"}}]}`, wantField: "contacts[0]['name']['formatted_name']"},
		{name: "interactive type product", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"product","body":{"text":"x"},"action":{}}}`, wantField: "interactive['type']"},
		{name: "interactive without action", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"button","body":{"text":"x"}}}`, wantField: "interactive['action']"},
		{name: "interactive without body", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"button","action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}}`, wantField: "interactive['body']['text']"},
		{name: "four buttons", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"button","body":{"text":"x"},"action":{"buttons":[` +
			`{"type":"reply","reply":{"id":"a","title":"A"}},{"type":"reply","reply":{"id":"b","title":"B"}},{"type":"reply","reply":{"id":"c","title":"C"}},{"type":"reply","reply":{"id":"d","title":"D"}}]}}}`,
			wantField: "interactive['action']['buttons']"},
		{name: "button title too long", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"button","body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"This title is far too long"}}]}}}`,
			wantField: "interactive['action']['buttons'][0]['reply']['title']"},
		{name: "list without sections", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"list","body":{"text":"x"},"action":{"button":"Go"}}}`, wantField: "interactive['action']['sections']"},
		{name: "list without button", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"interactive","interactive":{"type":"list","body":{"text":"x"},"action":{"sections":[{"rows":[{"id":"a","title":"A"}]}]}}}`, wantField: "interactive['action']['button']"},
		{name: "template without name", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"template","template":{"language":{"code":"en"}}}`, wantField: "template['name']"},
		{name: "template without language", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"template","template":{"name":"hello"}}`, wantField: "template['language']['code']"},
		{name: "template without language code", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"template","template":{"name":"hello","language":{}}}`, wantField: "template['language']['code']"},
		{name: "reaction without message_id", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"reaction","reaction":{"emoji":"👍"}}`, wantField: "reaction['message_id']"},
		{name: "reaction without emoji", body: `{"messaging_product":"whatsapp","to":"919876543210","type":"reaction","reaction":{"message_id":"wamid.x"}}`, wantField: "reaction['emoji']"},
		{name: "biz_opaque_callback_data too long", body: `{"messaging_product":"whatsapp","to":"919876543210","text":{"body":"x"},"biz_opaque_callback_data":"` + strings.Repeat("b", 513) + `"}`, wantField: "biz_opaque_callback_data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := h.send(t, tc.body)
			require.Equal(t, http.StatusBadRequest, res.status, "answer: %s", res.raw)
			e := res.errorObject(t)
			assert.Equal(t, float64(CodeInvalidParameter), e["code"])
			assert.Equal(t, "(#100) Invalid parameter", e["message"])
			assert.Equal(t, "OAuthException", e["type"])
			assert.NotEmpty(t, e["fbtrace_id"])
			data, ok := e["error_data"].(map[string]any)
			require.True(t, ok, "error_data: %s", res.raw)
			assert.Equal(t, "whatsapp", data["messaging_product"])
			assert.Contains(t, data["details"], tc.wantField)
		})
	}
	assert.Empty(t, h.sb.Sent(), "no refused message is recorded")
}

func TestTokens(t *testing.T) {
	h := newHarness(t, Options{}, true)
	paths := []struct{ method, path string }{
		{http.MethodPost, "/v21.0/" + testPhoneID + "/messages"},
		{http.MethodPost, "/v23.0/" + testPhoneID + "/media"},
		{http.MethodGet, "/v21.0/123456"},
		{http.MethodDelete, "/v21.0/123456"},
		{http.MethodGet, "/media/123456"},
	}
	cases := []struct {
		name        string
		header      string // Authorization
		wantSubcode any
	}{
		{name: "missing token", header: ""},
		{name: "not a bearer token", header: "Basic dXNlcjpwYXNz"},
		{name: "empty bearer token", header: "Bearer "},
		{name: "expired token", header: "Bearer expired", wantSubcode: float64(SubcodeSessionExpired)},
	}
	for _, p := range paths {
		for _, tc := range cases {
			t.Run(p.method+" "+p.path+" "+tc.name, func(t *testing.T) {
				req, err := http.NewRequest(p.method, h.srv.URL+p.path, strings.NewReader(`{"messaging_product":"whatsapp","to":"919876543210","text":{"body":"x"}}`))
				require.NoError(t, err)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				resp, err := h.srv.Client().Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				var body graphErrorBody
				var raw map[string]map[string]any
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
				b, _ := json.Marshal(raw)
				require.NoError(t, json.Unmarshal(b, &body))
				assert.Equal(t, CodeAccessToken, body.Error.Code)
				assert.True(t, strings.HasPrefix(body.Error.Message, "(#190) "), body.Error.Message)
				assert.Equal(t, tc.wantSubcode, raw["error"]["error_subcode"])
				assert.Equal(t, "whatsapp", body.Error.ErrorData.MessagingProduct)
			})
		}
	}
	assert.Empty(t, h.sb.Sent())
}
