package cloudapi

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Meta's documentation pages the sandbox follows (the conformance table
// names them per behaviour).
const (
	docWebhookSignature = "developers.facebook.com/docs/graph-api/webhooks/getting-started (Validate payloads: X-Hub-Signature-256 over the escaped-unicode payload, lowercase hex; X-Hub-Signature SHA-1)"
	docWebhooksOverview = "developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/overview (payloads batch several updates and entries)"
	docStatusWebhook    = "developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status (sent, delivered, read, failed with errors[]; conversation, pricing)"
	docErrorCodes       = "developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes (synchronous and asynchronous errors; HTTP status per code)"
	docServiceWindow    = "developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows (free-form only within 24h of the customer's last message; 131047 otherwise)"
	docTemplateMgmt     = "developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-management (GET/POST/DELETE /{waba_id}/message_templates, fields, paging, hsm_id)"
	docTemplateStatus   = "developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update"
	docTemplateQuality  = "developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_quality_update; .../templates/template-quality"
	docPhoneNumbers     = "developers.facebook.com/docs/whatsapp/cloud-api/reference/phone-numbers#phone-number-formats (+, spaces, hyphens, parentheses accepted in send requests)"
	docInteractive      = "developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-cta-url-messages, .../interactive-location-request-messages, .../guides/flows (flow_message_version 3)"
	docAudio            = "developers.facebook.com/docs/whatsapp/cloud-api/messages/audio-messages (voice: true for an OGG/OPUS voice message)"
	docCarousel         = "developers.facebook.com/docs/whatsapp/business-management-api/message-templates/media-card-carousel-templates (components[].cards[] with card_index)"
	docGraphParams      = "developers.facebook.com/docs/graph-api/guides/ (parameters as query string or body; object parameters as JSON-encoded strings; unknown keys of a typed object refused: \"Unexpected key\")"
	docMediaUpload      = "developers.facebook.com/docs/whatsapp/cloud-api/reference/media#upload-media (file, type, messaging_product)"
	docMediaDownload    = "developers.facebook.com/documentation/business-messaging/whatsapp/business-phone-numbers/media (Retrieve media URL, valid 5 minutes; Download media with the access token, 404 once expired; ids of uploads live 30 days, ids in webhooks 7; phone_number_id only for the number a medium was uploaded on)"
	docMessagesWebhook  = "developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages (every inbound type, context, referral, system, unsupported)"
	docPricing          = "developers.facebook.com/docs/whatsapp/pricing/updates-to-pricing (per-message pricing from July 2025: pricing_model PMP, type regular / free_customer_service)"
)

// conformance is one row per behaviour the sandbox shares with Meta's
// Cloud API, with the page of Meta's documentation it follows. A row's
// test is the evidence; the engine's side of a behaviour is tested where
// named.
var conformance = []struct {
	behaviour string
	source    string
	test      func(t *testing.T)
}{
	{"webhook bodies are ASCII JSON with lowercase \\uXXXX escapes (surrogate pairs beyond the BMP) and \\/, signed over those bytes with X-Hub-Signature-256 and X-Hub-Signature (the engine's check: gateway/webhook TestVerifySignatureOnMetaEscapedBodies)",
		docWebhookSignature, testWebhookBodiesAsMetaSendsThem},
	{"several statuses, messages and entries in one POST", docWebhooksOverview, testBatchedWebhooks},
	{"a free-form message outside the customer service window is accepted, then fails with a 131047 status; a template is delivered",
		docServiceWindow, testCustomerServiceWindow},
	{"customers the sandbox never saw write can be assumed inside the window (AssumeWindowOpen); those who wrote are measured", docServiceWindow, testAssumeWindowOpen},
	{"an undeliverable number (0001) is accepted, then fails with a 131026 status", docErrorCodes, testUndeliverableIsLate},
	{"suffix faults are synchronous where Meta answers synchronously (130429, 131056, 1, 2, time-out) and asynchronous where Meta reports by webhook (131026, 131047, 131051, order)",
		docErrorCodes, testFaultTable},
	{"130429 and code 1 are answered HTTP 400, code 2 HTTP 503, as Meta's error table lists", docErrorCodes, testErrorHTTPStatuses},
	{"the WABA's templates are listed with Meta's fields, filters and cursor paging", docTemplateMgmt, testTemplateList},
	{"a created template is PENDING, then APPROVED or REJECTED by a message_template_status_update webhook; delete by name or hsm_id",
		docTemplateMgmt + "; " + docTemplateStatus, testTemplateCreateReviewAndDelete},
	{"a template paused, disabled or re-rated posts message_template_status_update and message_template_quality_update in Meta's shape",
		docTemplateStatus + "; " + docTemplateQuality, testTemplateStatusAndQualityControl},
	{"template sends fail with 132000, 132001 (HTTP 404), 132012, 132015, 132016 and Meta's bodies", docErrorCodes, testTemplateSendErrors},
	{"to may carry +, spaces, hyphens and parentheses", docPhoneNumbers, testAcceptsFormattedNumbers},
	{"interactive cta_url, location_request_message and flow messages are accepted", docInteractive, testAcceptsNewInteractive},
	{"audio may be sent as a voice message (audio.voice)", docAudio, testAcceptsVoice},
	{"template carousels (components[].cards[]) are accepted and checked per card", docCarousel, testAcceptsCarousel},
	{"object parameters may be JSON-encoded strings (contacts as a string)", docGraphParams, testAcceptsJSONEncodedParams},
	{"unknown top-level keys are ignored; unknown keys inside a typed object are refused", docGraphParams, testUnknownKeys},
	{"messaging_product and type of a media upload may come in the query string", docMediaUpload + "; " + docGraphParams, testUploadParametersInTheQueryString},
	{"every inbound type is simulated in Meta's shape, with reply context and referral, media downloadable", docMessagesWebhook, testInboundEveryType},
	{"a media URL serves its bytes only with the access token that retrieved it (401 otherwise) and only for five minutes (404 then, a new lookup gives a new URL)",
		docMediaDownload, testMediaURLs},
	{"an upload's media id is known for 30 days, a customer's (from a webhook) for 7; then GET /{media_id} is code 100 subcode 33", docMediaDownload, testMediaIDLife},
	{"a send naming a media id Meta cannot use (unknown, expired, another number's, the wrong type) is accepted, then fails with a 131053 status",
		docErrorCodes + "; " + docMediaDownload, testSendByMediaID},
	{"pricing is per-message (PMP) by default: replies and in-window utility templates free, others regular; read carries no pricing",
		docPricing + "; " + docStatusWebhook, testPerMessagePricing},
	{"conversation-based pricing (CBP) is an option", docStatusWebhook, testConversationPricing},
	{"the standalone sandbox listens on loopback unless told otherwise (not Meta's: the sandbox accepts any token; cmd/sandbox TestListensOnLoopbackByDefault)",
		"the sandbox's own rule", testLoopbackDefault},
}

// TestConformance runs the table.
func TestConformance(t *testing.T) {
	for _, row := range conformance {
		require.NotEmpty(t, row.source, row.behaviour)
		t.Run(row.behaviour, row.test)
	}
}

func testUndeliverableIsLate(t *testing.T) {
	h := newHarness(t, Options{AssumeWindowOpen: true}, false)
	for range 2 {
		res := h.sendText(t, "919876510001")
		wamid := wamidOf(t, res) // HTTP 200 with a wamid, as Meta answers
		got := waitStatuses(t, h, wamid, 1)
		require.Equal(t, []string{"failed"}, statusNames(got), "no sent: the message never left")
		assert.Equal(t, CodeUndeliverable, got[0].Errors[0].Code)
	}
}

// testFaultTable runs doc.go's failure-injection table: the answers of
// consecutive sends to each suffix and the statuses of the first accepted
// one.
func testFaultTable(t *testing.T) {
	const noAnswer = -1
	rows := []struct {
		suffix   string
		answers  []int    // HTTP statuses of consecutive sends; noAnswer: connection dropped
		codes    []int    // their error codes (0: accepted)
		statuses []string // statuses of the first accepted send
		failCode int      // the failed status's error code
	}{
		{suffix: SuffixUndeliverable, answers: []int{200}, codes: []int{0}, statuses: []string{"failed"}, failCode: CodeUndeliverable},
		{suffix: SuffixRateLimited, answers: []int{400, 400, 200}, codes: []int{CodeRateLimit, CodeRateLimit, 0}, statuses: []string{"sent", "delivered", "read"}},
		{suffix: SuffixTimeout, answers: []int{noAnswer, 200}, codes: []int{0, 0}, statuses: []string{"sent", "delivered", "read"}},
		{suffix: SuffixOutOfOrder, answers: []int{200}, codes: []int{0}, statuses: []string{"delivered", "sent", "read"}},
		{suffix: SuffixReEngagement, answers: []int{200}, codes: []int{0}, statuses: []string{"failed"}, failCode: CodeReEngagement},
		{suffix: SuffixPairRateLimited, answers: []int{400, 200}, codes: []int{CodePairRateLimit, 0}, statuses: []string{"sent", "delivered", "read"}},
		{suffix: SuffixServerError, answers: []int{400, 503, 200}, codes: []int{CodeAPIUnknown, CodeAPIService, 0}, statuses: []string{"sent", "delivered", "read"}},
		{suffix: SuffixFailedStatus, answers: []int{200}, codes: []int{0}, statuses: []string{"sent", "failed"}, failCode: CodeUnsupportedType},
	}
	h := newHarness(t, Options{AssumeWindowOpen: true, TimeoutHold: 20 * time.Millisecond}, false)
	for _, row := range rows {
		t.Run(row.suffix, func(t *testing.T) {
			to := "9198765" + row.suffix
			wamid := ""
			for i, want := range row.answers {
				if want == noAnswer {
					req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/v21.0/"+testPhoneID+"/messages",
						strings.NewReader(`{"messaging_product":"whatsapp","to":"`+to+`","text":{"body":"hi"}}`))
					require.NoError(t, err)
					req.Header.Set("Authorization", "Bearer "+testToken)
					resp, err := h.srv.Client().Do(req)
					if err == nil {
						resp.Body.Close()
					}
					require.Error(t, err, "send %d: dropped without an answer", i+1)
					continue
				}
				res := h.sendText(t, to)
				require.Equal(t, want, res.status, "send %d: %s", i+1, res.raw)
				if row.codes[i] != 0 {
					assert.Equal(t, float64(row.codes[i]), res.errorObject(t)["code"], "send %d", i+1)
					continue
				}
				if wamid == "" {
					wamid = wamidOf(t, res)
				}
			}
			got := waitStatuses(t, h, wamid, len(row.statuses))
			require.Equal(t, row.statuses, statusNames(got))
			if row.failCode != 0 {
				last := got[len(got)-1]
				require.Len(t, last.Errors, 1)
				assert.Equal(t, row.failCode, last.Errors[0].Code)
				assert.Equal(t, ErrorHref, last.Errors[0].Href)
			}
		})
	}
}

func testErrorHTTPStatuses(t *testing.T) {
	h := newHarness(t, Options{}, true)
	want := []struct{ status, code int }{{400, CodeRateLimit}, {400, CodeRateLimit}}
	for _, w := range want {
		res := h.sendText(t, "919876510002")
		require.Equal(t, w.status, res.status)
		assert.Equal(t, float64(w.code), res.errorObject(t)["code"])
	}
	for _, w := range []struct{ status, code int }{{400, CodeAPIUnknown}, {503, CodeAPIService}} {
		res := h.sendText(t, "919876510007")
		require.Equal(t, w.status, res.status)
		assert.Equal(t, float64(w.code), res.errorObject(t)["code"])
		assert.Contains(t, res.errorObject(t)["message"], "(#")
	}
}

// accepts checks that each message (fields after messaging_product and to)
// is accepted and recorded with wantType.
func accepts(t *testing.T, to string, wantType string, bodies ...string) {
	t.Helper()
	h := newHarness(t, Options{}, true)
	for _, fields := range bodies {
		res := h.send(t, `{"messaging_product":"whatsapp","to":"`+to+`",`+fields+`}`)
		wamid := wamidOf(t, res)
		sent := h.sb.Sent()
		require.NotEmpty(t, sent)
		assert.Equal(t, wamid, sent[len(sent)-1].WaMessageID)
		assert.Equal(t, wantType, sent[len(sent)-1].Type)
	}
}

func testAcceptsFormattedNumbers(t *testing.T) {
	h := newHarness(t, Options{}, true)
	for _, to := range []string{"+919876543210", "919876543210", "+91 98765 43210", "+91-98765-43210", "+1 (631) 555-1234", "(631) 555 1234"} {
		res := h.send(t, `{"messaging_product":"whatsapp","to":"`+to+`","text":{"body":"x"}}`)
		require.Equal(t, http.StatusOK, res.status, "%s: %s", to, res.raw)
		contacts := res.json["contacts"].([]any)[0].(map[string]any)
		assert.Equal(t, to, contacts["input"])
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, to)
		assert.Equal(t, digits, contacts["wa_id"])
	}
}

func testAcceptsNewInteractive(t *testing.T) {
	accepts(t, "919876543227", "interactive",
		`"type":"interactive","interactive":{"type":"cta_url","body":{"text":"Menu"},"action":{"name":"cta_url","parameters":{"display_text":"See menu","url":"https://example.com/menu"}}}`,
		`"type":"interactive","interactive":{"type":"location_request_message","body":{"text":"Where are you?"},"action":{"name":"send_location"}}`,
		`"type":"interactive","interactive":{"type":"flow","body":{"text":"Book"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"1","flow_cta":"Book","flow_action_payload":{"screen":"START"}}}}`)
}

func testAcceptsVoice(t *testing.T) {
	accepts(t, "919876543226", "audio", `"type":"audio","audio":{"id":"55","voice":true}`, `"type":"audio","audio":{"link":"https://example.com/v.ogg","voice":false}`)
}

func testAcceptsCarousel(t *testing.T) {
	card := func(i, header string) string {
		return `{"card_index":` + i + `,"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"` + header + `"}}]},{"type":"body","parameters":[{"type":"text","text":"p"}]}]}`
	}
	carousel := func(cards ...string) string {
		return `"type":"template","template":{"name":"plant_carousel","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"Pablo"}]},{"type":"carousel","cards":[` +
			strings.Join(cards, ",") + `]}]}`
	}
	accepts(t, "919876543234", "template", carousel(card("0", "1"), card("1", "2")), carousel(card("1", "2"), card("0", "1")))
	h := newHarness(t, Options{}, true)
	res := h.send(t, `{"messaging_product":"whatsapp","to":"919876543234",`+carousel(card("0", "1"))+`}`)
	assert.Equal(t, float64(CodeTemplateParamCount), res.errorObject(t)["code"], "one card of two")
}

func testAcceptsJSONEncodedParams(t *testing.T) {
	accepts(t, "919876543225", "contacts",
		`"type":"contacts","contacts":"[{\"name\":{\"formatted_name\":\"Asha Rao\"},\"phones\":[{\"phone\":\"+919800000000\"}]}]"`)
	accepts(t, "919876543225", "text", `"type":"text","text":"{\"body\":\"hello\"}"`)
}

func testUnknownKeys(t *testing.T) {
	accepts(t, "919876543224", "text", `"type":"text","text":{"body":"x"},"priority":"high","foo":{"bar":1}`)
	h := newHarness(t, Options{}, true)
	res := h.send(t, `{"messaging_product":"whatsapp","to":"919876543224","type":"text","text":{"body":"x","bold":true}}`)
	require.Equal(t, http.StatusBadRequest, res.status)
	assert.Contains(t, res.errorObject(t)["error_data"].(map[string]any)["details"], `Unexpected key "bold" on param text`)
}

func testConversationPricing(t *testing.T) {
	h := newHarness(t, Options{PricingModel: PricingCBP, AssumeWindowOpen: true}, false)
	wamid := wamidOf(t, h.send(t, `{"messaging_product":"whatsapp","to":"919876500911","type":"template","template":{"name":"welcome","language":{"code":"en"}}}`))
	got := waitStatuses(t, h, wamid, 3)
	p := decodeRaw(t, got[0]).Pricing
	require.NotNil(t, p)
	assert.Equal(t, "CBP", p.PricingModel)
	assert.True(t, p.Billable)
	assert.Equal(t, "marketing", p.Category)
	assert.Empty(t, p.Type, "CBP has no pricing type")
	assert.Nil(t, decodeRaw(t, got[2]).Pricing, "read carries no pricing")
}

func testLoopbackDefault(t *testing.T) {
	ip := net.ParseIP(DefaultListenHost)
	require.NotNil(t, ip)
	assert.True(t, ip.IsLoopback())
}
