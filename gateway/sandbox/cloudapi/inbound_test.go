package cloudapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inboundValue is the value of a simulated message's webhook.
type inboundValue struct {
	Contacts []map[string]any `json:"contacts"`
	Messages []map[string]any `json:"messages"`
}

// simulate posts one simulated message (fields after from and
// phoneNumberId) and returns the message and contacts of its webhook.
func (h *harness) simulate(t *testing.T, from, fields string) (map[string]any, []map[string]any, apiResult) {
	t.Helper()
	before := len(h.rcv.allBodies())
	res := h.inbound(t, `{"from":"`+from+`","phoneNumberId":"`+testPhoneID+`"`+fields+`}`)
	require.Equal(t, http.StatusAccepted, res.status, "answer: %s", res.raw)
	require.Eventually(t, func() bool { return len(h.rcv.allBodies()) > before }, waitFor, tick)
	var wb struct {
		Entry []struct {
			Changes []struct {
				Value inboundValue `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(h.rcv.allBodies()[before], &wb))
	v := wb.Entry[0].Changes[0].Value
	require.Len(t, v.Messages, 1)
	return v.Messages[0], v.Contacts, res
}

// testInboundEveryType: every inbound type Meta sends can be simulated,
// in Meta's shape, with reply context and click-to-WhatsApp referral;
// simulated media can be fetched through the media endpoints.
func testInboundEveryType(t *testing.T) {
	clock := &fakeClock{}
	clock.Set(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	h := newHarness(t, Options{Now: clock.Now, DisplayPhoneNumbers: map[string]string{testPhoneID: "15550001111"}}, false)
	cases := []struct {
		name   string
		fields string         // after from and phoneNumberId
		want   map[string]any // message fields besides from, id, timestamp (media: the object's id and sha256 are checked apart)
		media  string         // the media object's key
	}{
		{name: "text", fields: `,"text":"hi there"`,
			want: map[string]any{"type": "text", "text": map[string]any{"body": "hi there"}}},
		{name: "reply with context", fields: `,"text":"yes, that one","context":{"id":"wamid.ORIGINAL"}`,
			want: map[string]any{"type": "text", "text": map[string]any{"body": "yes, that one"}, "context": map[string]any{"from": "15550001111", "id": "wamid.ORIGINAL"}}},
		{name: "forwarded many times", fields: `,"text":"fwd","context":{"forwarded":true,"frequently_forwarded":true}`,
			want: map[string]any{"type": "text", "text": map[string]any{"body": "fwd"}, "context": map[string]any{"forwarded": true, "frequently_forwarded": true}}},
		{name: "click-to-WhatsApp referral", fields: `,"text":"I saw your ad","referral":{"source_url":"https://fb.me/ad","source_id":"120","source_type":"ad","headline":"Sale","body":"Half price","media_type":"image","image_url":"https://example.com/ad.jpg","ctwa_clid":"ARxx"}`,
			want: map[string]any{"type": "text", "text": map[string]any{"body": "I saw your ad"}, "referral": map[string]any{"source_url": "https://fb.me/ad", "source_id": "120",
				"source_type": "ad", "headline": "Sale", "body": "Half price", "media_type": "image", "image_url": "https://example.com/ad.jpg", "ctwa_clid": "ARxx"}}},
		{name: "image with caption", fields: `,"type":"image","image":{"caption":"my receipt","data":"` + base64.StdEncoding.EncodeToString([]byte("\xff\xd8 jpeg bytes")) + `"}`,
			media: "image", want: map[string]any{"type": "image", "image": map[string]any{"caption": "my receipt", "mime_type": "image/jpeg"}}},
		{name: "audio", fields: `,"type":"audio","audio":{"mime_type":"audio/mpeg"}`,
			media: "audio", want: map[string]any{"type": "audio", "audio": map[string]any{"mime_type": "audio/mpeg", "voice": false}}},
		{name: "voice", fields: `,"type":"audio","audio":{"voice":true}`,
			media: "audio", want: map[string]any{"type": "audio", "audio": map[string]any{"mime_type": "audio/ogg; codecs=opus", "voice": true}}},
		{name: "video", fields: `,"type":"video","video":{"caption":"unboxing"}`,
			media: "video", want: map[string]any{"type": "video", "video": map[string]any{"caption": "unboxing", "mime_type": "video/mp4"}}},
		{name: "document", fields: `,"type":"document","document":{"filename":"invoice.pdf","caption":"as asked"}`,
			media: "document", want: map[string]any{"type": "document", "document": map[string]any{"filename": "invoice.pdf", "caption": "as asked", "mime_type": "application/pdf"}}},
		{name: "animated sticker", fields: `,"type":"sticker","sticker":{"animated":true}`,
			media: "sticker", want: map[string]any{"type": "sticker", "sticker": map[string]any{"mime_type": "image/webp", "animated": true}}},
		{name: "location", fields: `,"type":"location","location":{"latitude":37.46,"longitude":-122.21,"name":"HQ","address":"1 Hacker Way"}`,
			want: map[string]any{"type": "location", "location": map[string]any{"latitude": 37.46, "longitude": -122.21, "name": "HQ", "address": "1 Hacker Way"}}},
		{name: "contacts", fields: `,"type":"contacts","contacts":[{"name":{"formatted_name":"Chandler Bing","first_name":"Chandler"},"phones":[{"phone":"+1 555-555-5555","wa_id":"15555555555","type":"CELL"}]}]`,
			want: map[string]any{"type": "contacts", "contacts": []any{map[string]any{"name": map[string]any{"formatted_name": "Chandler Bing", "first_name": "Chandler"},
				"phones": []any{map[string]any{"phone": "+1 555-555-5555", "wa_id": "15555555555", "type": "CELL"}}}}}},
		{name: "interactive button reply", fields: `,"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"yes","title":"Yes"}},"context":{"id":"wamid.Q"}`,
			want: map[string]any{"type": "interactive", "interactive": map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": "yes", "title": "Yes"}},
				"context": map[string]any{"from": "15550001111", "id": "wamid.Q"}}},
		{name: "interactive list reply", fields: `,"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"r1","title":"Row","description":"first"}}`,
			want: map[string]any{"type": "interactive", "interactive": map[string]any{"type": "list_reply", "list_reply": map[string]any{"id": "r1", "title": "Row", "description": "first"}}}},
		{name: "interactive Flow response", fields: `,"type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"{\"flow_token\":\"t\",\"party\":2}"}}`,
			want: map[string]any{"type": "interactive", "interactive": map[string]any{"type": "nfm_reply", "nfm_reply": map[string]any{"name": "flow", "body": "Sent", "response_json": `{"flow_token":"t","party":2}`}}}},
		{name: "template quick-reply button", fields: `,"type":"button","button":{"payload":"STOP","text":"Stop promotions"},"context":{"id":"wamid.TPL"}`,
			want: map[string]any{"type": "button", "button": map[string]any{"payload": "STOP", "text": "Stop promotions"}, "context": map[string]any{"from": "15550001111", "id": "wamid.TPL"}}},
		{name: "reaction", fields: `,"type":"reaction","reaction":{"message_id":"wamid.OUT","emoji":"❤️"}`,
			want: map[string]any{"type": "reaction", "reaction": map[string]any{"message_id": "wamid.OUT", "emoji": "❤️"}}},
		{name: "reaction removed", fields: `,"type":"reaction","reaction":{"message_id":"wamid.OUT","emoji":""}`,
			want: map[string]any{"type": "reaction", "reaction": map[string]any{"message_id": "wamid.OUT", "emoji": ""}}},
		{name: "order", fields: `,"type":"order","order":{"catalog_id":"354160437058781","text":"","product_items":[{"product_retailer_id":"HAMBURGER","quantity":3,"item_price":30,"currency":"ILS"}]}`,
			want: map[string]any{"type": "order", "order": map[string]any{"catalog_id": "354160437058781", "text": "",
				"product_items": []any{map[string]any{"product_retailer_id": "HAMBURGER", "quantity": 3.0, "item_price": 30.0, "currency": "ILS"}}}}},
		{name: "customer changed number", fields: `,"name":"Asha","type":"system","system":{"type":"user_changed_number","wa_id":"919876500999"}`,
			want: map[string]any{"type": "system", "system": map[string]any{"body": "User Asha changed from 919876500901 to 919876500999", "wa_id": "919876500999", "type": "user_changed_number"}}},
		{name: "unsupported", fields: `,"type":"unsupported"`,
			want: map[string]any{"type": "unsupported", "errors": []any{map[string]any{"code": float64(CodeUnsupportedType), "title": "Message type unknown", "message": "Message type unknown",
				"error_data": map[string]any{"details": "Message type is currently not supported."}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, contacts, res := h.simulate(t, "919876500901", tc.fields)
			assert.Equal(t, "919876500901", m["from"])
			assert.Equal(t, res.json["data"].(map[string]any)["waMessageId"], m["id"])
			assert.Equal(t, "1740823200", m["timestamp"])
			if tc.want["type"] == "system" {
				assert.Empty(t, contacts, "a system message has no contacts")
			} else {
				require.Len(t, contacts, 1)
				assert.Equal(t, "919876500901", contacts[0]["wa_id"])
			}
			got := map[string]any{}
			for k, v := range m {
				if k != "from" && k != "id" && k != "timestamp" {
					got[k] = v
				}
			}
			if tc.media != "" {
				obj := got[tc.media].(map[string]any)
				id, sum := obj["id"].(string), obj["sha256"].(string)
				delete(obj, "id")
				delete(obj, "sha256")
				assert.Equal(t, []any{id}, res.json["data"].(map[string]any)["mediaIds"])
				h.checkMediaDownload(t, id, sum)
			}
			assert.Equal(t, tc.want, got)
		})
	}
	_, badSig, malformed := h.rcv.counts()
	assert.Zero(t, badSig)
	assert.Zero(t, malformed)
}

// checkMediaDownload fetches a simulated file as the engine would: the
// media URL, then the bytes with the token; their SHA-256 matches the
// webhook's (base64) and the media endpoint's (hex).
func (h *harness) checkMediaDownload(t *testing.T, id, webhookSHA string) {
	t.Helper()
	// A customer's medium was uploaded on no business number: Meta refuses
	// the lookup when phone_number_id is given.
	res := h.do(t, http.MethodGet, "/v21.0/"+id+"?phone_number_id="+testPhoneID, testToken, nil, "")
	require.Equal(t, http.StatusBadRequest, res.status, "media info with phone_number_id: %s", res.raw)
	info := h.do(t, http.MethodGet, "/v21.0/"+id, testToken, nil, "")
	require.Equal(t, http.StatusOK, info.status, "media info: %s", info.raw)
	req, err := http.NewRequest(http.MethodGet, info.json["url"].(string), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := h.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sum := sha256.Sum256(data)
	assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), webhookSHA)
	assert.Equal(t, hex.EncodeToString(sum[:]), info.json["sha256"])
	assert.Equal(t, info.json["mime_type"], strings.Split(resp.Header.Get("Content-Type"), ";")[0])
}

func TestInboundRefusals(t *testing.T) {
	h := newHarness(t, Options{}, false)
	cases := []struct {
		name      string
		body      string
		wantField string // errors[0].field; "" when the body itself is wrong
	}{
		{name: "unknown type", body: `{"from":"919876543210","phoneNumberId":"1","type":"poll"}`, wantField: "type"},
		{name: "text with another type", body: `{"from":"919876543210","phoneNumberId":"1","type":"image","text":"x"}`, wantField: "text"},
		{name: "another type's object", body: `{"from":"919876543210","phoneNumberId":"1","text":"x","location":{"latitude":1,"longitude":2}}`, wantField: "location"},
		{name: "location out of range", body: `{"from":"919876543210","phoneNumberId":"1","type":"location","location":{"latitude":91,"longitude":2}}`, wantField: "location"},
		{name: "media of the wrong family", body: `{"from":"919876543210","phoneNumberId":"1","type":"image","image":{"mime_type":"video/mp4"}}`, wantField: "image.mime_type"},
		{name: "voice that is not OGG", body: `{"from":"919876543210","phoneNumberId":"1","type":"audio","audio":{"voice":true,"mime_type":"audio/mpeg"}}`, wantField: "audio.mime_type"},
		{name: "caption on audio", body: `{"from":"919876543210","phoneNumberId":"1","type":"audio","audio":{"caption":"x"}}`, wantField: "audio.caption"},
		{name: "empty contacts", body: `{"from":"919876543210","phoneNumberId":"1","type":"contacts","contacts":[]}`, wantField: "contacts"},
		{name: "interactive reply without id", body: `{"from":"919876543210","phoneNumberId":"1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"title":"Yes"}}}`, wantField: "interactive.button_reply"},
		{name: "Flow response not JSON", body: `{"from":"919876543210","phoneNumberId":"1","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"response_json":"{"}}}`, wantField: "interactive.nfm_reply"},
		{name: "button without payload", body: `{"from":"919876543210","phoneNumberId":"1","type":"button","button":{"text":"Stop"}}`, wantField: "button"},
		{name: "reaction without emoji", body: `{"from":"919876543210","phoneNumberId":"1","type":"reaction","reaction":{"message_id":"wamid.x"}}`, wantField: "reaction"},
		{name: "order without items", body: `{"from":"919876543210","phoneNumberId":"1","type":"order","order":{"catalog_id":"1","product_items":[]}}`, wantField: "order"},
		{name: "number change without the new number", body: `{"from":"919876543210","phoneNumberId":"1","type":"system","system":{"type":"user_changed_number"}}`, wantField: "system.wa_id"},
		{name: "context without id", body: `{"from":"919876543210","phoneNumberId":"1","text":"x","context":{}}`, wantField: "context.id"},
		{name: "referral without source", body: `{"from":"919876543210","phoneNumberId":"1","text":"x","referral":{"headline":"h"}}`, wantField: "referral"},
		{name: "batch item refused by index", body: `{"messages":[{"from":"919876543210","phoneNumberId":"1","text":"x"},{"from":"1","phoneNumberId":"1","text":"x"}]}`, wantField: "messages[1].from"},
		{name: "batch with other fields", body: `{"from":"919876543210","messages":[{"from":"919876543210","phoneNumberId":"1","text":"x"}]}`, wantField: "messages"},
		{name: "empty batch", body: `{"messages":[]}`, wantField: "messages"},
		{name: "unknown field in a typed object", body: `{"from":"919876543210","phoneNumberId":"1","type":"button","button":{"payload":"p","text":"t","extra":1}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := h.inbound(t, tc.body)
			require.Equal(t, http.StatusBadRequest, res.status, "answer: %s", res.raw)
			assert.Equal(t, "VALIDATION_ERROR", res.json["code"])
			if tc.wantField != "" {
				errs, _ := res.json["errors"].([]any)
				require.Len(t, errs, 1)
				assert.Equal(t, tc.wantField, errs[0].(map[string]any)["field"])
			}
		})
	}
	posts, _, _ := h.rcv.counts()
	assert.Zero(t, posts, "nothing refused is posted")
}

func testUploadParametersInTheQueryString(t *testing.T) {
	h := newHarness(t, Options{}, true)
	body, ct := multipartUpload(t, "", "", "", []byte("hello file"))
	res := h.do(t, http.MethodPost, "/v21.0/"+testPhoneID+"/media?messaging_product=whatsapp&type=text/plain", testToken, body, ct)
	require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
	info := h.do(t, http.MethodGet, "/v21.0/"+res.json["id"].(string), testToken, nil, "")
	assert.Equal(t, "text/plain", info.json["mime_type"])

	body, ct = multipartUpload(t, "", "image/png", "", []byte("png"))
	res = h.do(t, http.MethodPost, "/v21.0/"+testPhoneID+"/media?messaging_product=sms", testToken, body, ct)
	assert.Equal(t, http.StatusBadRequest, res.status, "the query string is validated like the form")
}
