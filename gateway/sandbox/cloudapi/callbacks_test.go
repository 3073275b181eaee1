package cloudapi

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// rawStatus is the parts of a statuses[] object webhook.Parse keeps only raw.
type rawStatus struct {
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data"`
	Conversation          *struct {
		ID                  string `json:"id"`
		ExpirationTimestamp string `json:"expiration_timestamp"`
		Origin              struct {
			Type string `json:"type"`
		} `json:"origin"`
	} `json:"conversation"`
	Pricing *struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Type         string `json:"type"`
		Category     string `json:"category"`
	} `json:"pricing"`
}

func decodeRaw(t *testing.T, u actors.StatusUpdate) rawStatus {
	t.Helper()
	var r rawStatus
	require.NoError(t, json.Unmarshal(u.Raw, &r))
	return r
}

// waitStatuses waits until wamid has n statuses and no callbacks are left.
func waitStatuses(t *testing.T, h *harness, wamid string, n int) []actors.StatusUpdate {
	t.Helper()
	require.Eventually(t, func() bool {
		return len(h.rcv.statuses(wamid)) >= n && h.sb.PendingCallbacks() == 0
	}, waitFor, tick, "statuses for %s: %v", wamid, statusNames(h.rcv.statuses(wamid)))
	return h.rcv.statuses(wamid)
}

func TestStatusCallbacks(t *testing.T) {
	clock := &fakeClock{}
	clock.Set(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	h := newHarness(t, Options{Now: clock.Now, DisplayPhoneNumbers: map[string]string{testPhoneID: "15550001111"},
		PricingModel: PricingCBP, AssumeWindowOpen: true}, false)

	t.Run("sent, delivered, read in order, signed and parseable", func(t *testing.T) {
		wamid := wamidOf(t, h.send(t, `{"messaging_product":"whatsapp","to":"+919876500101","text":{"body":"hi"},"biz_opaque_callback_data":"tracker-7"}`))
		got := waitStatuses(t, h, wamid, 3)
		require.Equal(t, []string{"sent", "delivered", "read"}, statusNames(got))
		var convID string
		for _, u := range got {
			assert.Equal(t, testPhoneID, u.PhoneNumberID)
			assert.Equal(t, "919876500101", u.RecipientID)
			assert.Equal(t, clock.Now(), u.Timestamp)
			assert.Equal(t, "tracker-7", u.BizOpaqueCallbackData)
			assert.Empty(t, u.Errors)
			raw := decodeRaw(t, u)
			if u.Status == "read" {
				assert.Nil(t, raw.Pricing, "a read status carries no pricing: %s", u.Raw)
				assert.Nil(t, raw.Conversation, "nor a conversation: %s", u.Raw)
				continue
			}
			require.NotNil(t, raw.Conversation, "conversation in %s", u.Raw)
			require.NotNil(t, raw.Pricing, "pricing in %s", u.Raw)
			assert.Len(t, raw.Conversation.ID, 32)
			if convID == "" {
				convID = raw.Conversation.ID
			}
			assert.Equal(t, convID, raw.Conversation.ID, "one conversation")
			assert.Equal(t, "service", raw.Conversation.Origin.Type)
			assert.Equal(t, true, raw.Pricing.Billable)
			assert.Equal(t, "CBP", raw.Pricing.PricingModel)
			assert.Equal(t, "service", raw.Pricing.Category)
			if u.Status == "sent" {
				assert.Equal(t, "1740909600", raw.Conversation.ExpirationTimestamp, "24h after the first message")
			} else {
				assert.Empty(t, raw.Conversation.ExpirationTimestamp)
			}
		}
		_, badSig, malformed := h.rcv.counts()
		assert.Zero(t, badSig)
		assert.Zero(t, malformed)
	})

	t.Run("metadata and entry as Meta sends them", func(t *testing.T) {
		wamid := wamidOf(t, h.sendText(t, "919876500102"))
		waitStatuses(t, h, wamid, 3)
		h.rcv.mu.Lock()
		body := h.rcv.bodies[len(h.rcv.bodies)-1]
		h.rcv.mu.Unlock()
		var wb struct {
			Object string `json:"object"`
			Entry  []struct {
				ID      string `json:"id"`
				Changes []struct {
					Field string `json:"field"`
					Value struct {
						MessagingProduct string            `json:"messaging_product"`
						Metadata         map[string]string `json:"metadata"`
						Statuses         []map[string]any  `json:"statuses"`
					} `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		require.NoError(t, json.Unmarshal(body, &wb))
		assert.Equal(t, "whatsapp_business_account", wb.Object)
		require.Len(t, wb.Entry, 1)
		assert.Equal(t, DefaultBusinessAccountID, wb.Entry[0].ID)
		require.Len(t, wb.Entry[0].Changes, 1)
		ch := wb.Entry[0].Changes[0]
		assert.Equal(t, "messages", ch.Field)
		assert.Equal(t, "whatsapp", ch.Value.MessagingProduct)
		assert.Equal(t, map[string]string{"display_phone_number": "15550001111", "phone_number_id": testPhoneID}, ch.Value.Metadata)
		require.Len(t, ch.Value.Statuses, 1)
		assert.Equal(t, "read", ch.Value.Statuses[0]["status"])
		assert.Equal(t, "1740823200", ch.Value.Statuses[0]["timestamp"], "unix seconds as a string")
	})

	t.Run("a template opens a conversation of its category", func(t *testing.T) {
		for name, want := range map[string]string{"hello_world": "utility", "welcome": "marketing"} {
			wamid := wamidOf(t, h.send(t, `{"messaging_product":"whatsapp","to":"919876500103","type":"template","template":{"name":"`+name+`","language":{"code":"en_US"}}}`))
			got := waitStatuses(t, h, wamid, 3)
			raw := decodeRaw(t, got[0])
			assert.Equal(t, want, raw.Conversation.Origin.Type, name)
			assert.Equal(t, want, raw.Pricing.Category, name)
		}
	})

	t.Run("0004 posts delivered before sent", func(t *testing.T) {
		wamid := wamidOf(t, h.sendText(t, "919876500004"))
		got := waitStatuses(t, h, wamid, 3)
		assert.Equal(t, []string{"delivered", "sent", "read"}, statusNames(got))
	})

	t.Run("0001 is accepted, then fails with 131026 and nothing else", func(t *testing.T) {
		wamid := wamidOf(t, h.sendText(t, "919876500001"))
		got := waitStatuses(t, h, wamid, 1)
		require.Equal(t, []string{"failed"}, statusNames(got))
		require.Len(t, got[0].Errors, 1)
		assert.Equal(t, CodeUndeliverable, got[0].Errors[0].Code)
		assert.Equal(t, "Message undeliverable", got[0].Errors[0].Title)
	})

	t.Run("0005 is accepted, then fails with 131047; a template is delivered", func(t *testing.T) {
		wamid := wamidOf(t, h.sendText(t, "919876500005"))
		got := waitStatuses(t, h, wamid, 1)
		require.Equal(t, []string{"failed"}, statusNames(got))
		assert.Equal(t, CodeReEngagement, got[0].Errors[0].Code)
		tpl := wamidOf(t, h.send(t, `{"messaging_product":"whatsapp","to":"919876500005","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`))
		assert.Equal(t, []string{"sent", "delivered", "read"}, statusNames(waitStatuses(t, h, tpl, 3)))
	})

	t.Run("0008 posts failed with 131051 instead of delivered", func(t *testing.T) {
		wamid := wamidOf(t, h.sendText(t, "919876500008"))
		got := waitStatuses(t, h, wamid, 2)
		require.Equal(t, []string{"sent", "failed"}, statusNames(got))
		require.Len(t, got[1].Errors, 1)
		e := got[1].Errors[0]
		assert.Equal(t, CodeUnsupportedType, e.Code)
		assert.Equal(t, "Unsupported message type", e.Title)
		assert.NotEmpty(t, e.Details)
		assert.Equal(t, ErrorHref, e.Href)
		assert.Nil(t, decodeRaw(t, got[1]).Pricing, "a failed status carries no pricing")
	})
}

// testPerMessagePricing: per-message pricing is the
// default; replies in the window and utility templates in the window are
// free, other templates regular; a read status carries no pricing.
func testPerMessagePricing(t *testing.T) {
	h := newHarness(t, Options{}, false)
	h.customerWrites(t, "919876500011")
	cases := []struct {
		name         string
		to           string
		body         string // the message fields
		wantType     string
		wantBillable bool
		wantCategory string
	}{
		{name: "reply in the window", to: "919876500011", body: `"text":{"body":"hi"}`,
			wantType: "free_customer_service", wantCategory: "service"},
		{name: "utility template in the window", to: "919876500011", body: `"type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}`,
			wantType: "free_customer_service", wantCategory: "utility"},
		{name: "utility template outside it", to: "919876500012", body: `"type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}`,
			wantType: "regular", wantBillable: true, wantCategory: "utility"},
		{name: "marketing template in the window", to: "919876500011", body: `"type":"template","template":{"name":"welcome","language":{"code":"en_US"}}`,
			wantType: "regular", wantBillable: true, wantCategory: "marketing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wamid := wamidOf(t, h.send(t, `{"messaging_product":"whatsapp","to":"`+tc.to+`",`+tc.body+`}`))
			got := waitStatuses(t, h, wamid, 3)
			require.Equal(t, []string{"sent", "delivered", "read"}, statusNames(got))
			for _, u := range got[:2] {
				p := decodeRaw(t, u).Pricing
				require.NotNil(t, p, "pricing on %s", u.Status)
				assert.Equal(t, "PMP", p.PricingModel)
				assert.Equal(t, tc.wantType, p.Type)
				assert.Equal(t, tc.wantBillable, p.Billable)
				assert.Equal(t, tc.wantCategory, p.Category)
			}
			assert.Nil(t, decodeRaw(t, got[2]).Pricing, "read carries no pricing")
		})
	}
}

func TestStatusDelay(t *testing.T) {
	const delay = 60 * time.Millisecond
	h := newHarness(t, Options{StatusDelay: delay, AssumeWindowOpen: true}, false)
	start := time.Now()
	wamid := wamidOf(t, h.sendText(t, "919876500021"))
	require.Eventually(t, func() bool { return len(h.rcv.statuses(wamid)) == 1 }, waitFor, time.Millisecond)
	first := time.Since(start)
	waitStatuses(t, h, wamid, 3)
	all := time.Since(start)
	assert.GreaterOrEqual(t, first, delay, "sent comes after StatusDelay")
	assert.GreaterOrEqual(t, all, 3*delay, "each status waits StatusDelay after the previous")
}

func TestCallbackRetries(t *testing.T) {
	t.Run("retried until the engine answers 200", func(t *testing.T) {
		h := newHarness(t, Options{AssumeWindowOpen: true}, false)
		h.rcv.setFail(2, false)
		wamid := wamidOf(t, h.sendText(t, "919876500031"))
		got := waitStatuses(t, h, wamid, 3)
		assert.Equal(t, []string{"sent", "delivered", "read"}, statusNames(got))
		posts, _, _ := h.rcv.counts()
		assert.Equal(t, 5, posts, "two refused posts of sent, then one each")
	})

	t.Run("bounded attempts, then the next status", func(t *testing.T) {
		h := newHarness(t, Options{CallbackAttempts: 3, AssumeWindowOpen: true}, false)
		h.rcv.setFail(0, true)
		wamidOf(t, h.sendText(t, "919876500032"))
		require.Eventually(t, func() bool { return h.sb.PendingCallbacks() == 0 }, waitFor, tick)
		posts, _, _ := h.rcv.counts()
		assert.Equal(t, 9, posts, "three statuses, three attempts each")
	})

	t.Run("backoff doubles up to the cap", func(t *testing.T) {
		d := &dispatcher{retryBase: 100 * time.Millisecond}
		for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 20: time.Minute} {
			got := d.backoff(attempt)
			assert.GreaterOrEqual(t, got, want, "attempt %d", attempt)
			assert.LessOrEqual(t, got, want+want/5, "attempt %d", attempt)
		}
	})
}

func TestCallbackQueueBackpressure(t *testing.T) {
	h := newHarness(t, Options{MaxPendingCallbacks: 1, StatusDelay: time.Hour}, false)
	wamidOf(t, h.sendText(t, "919876500041"))
	res := h.sendText(t, "919876500042")
	require.Equal(t, http.StatusServiceUnavailable, res.status, "answer: %s", res.raw)
	assert.Equal(t, float64(CodeAPIService), res.errorObject(t)["code"])
	assert.Len(t, h.sb.Sent(), 1, "the refused send is not recorded")
	assert.Equal(t, 1, h.sb.PendingCallbacks())
}

func TestNoWebhookURL(t *testing.T) {
	h := newHarness(t, Options{MaxPendingCallbacks: 1}, true)
	for range 3 {
		wamidOf(t, h.sendText(t, "919876500051")) // nothing queued, so never full
	}
	assert.Zero(t, h.sb.PendingCallbacks())
	posts, _, _ := h.rcv.counts()
	assert.Zero(t, posts)
}

func TestRunTwice(t *testing.T) {
	h := newHarness(t, Options{}, true)
	require.Eventually(t, func() bool { return h.sb.stopSignal() != nil }, waitFor, tick)
	assert.ErrorIs(t, h.sb.Run(t.Context()), ErrRunning)
}
