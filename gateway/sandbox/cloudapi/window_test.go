package cloudapi

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCustomerServiceWindow: a free-form message is delivered only while
// the customer's last message to that business number is younger than
// the window; outside it (or to a customer who never wrote) it is
// accepted with a wamid and then fails with a 131047 status. A template
// is delivered either way.
func testCustomerServiceWindow(t *testing.T) {
	clock := &fakeClock{}
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clock.Set(start)
	h := newHarness(t, Options{Now: clock.Now, ServiceWindow: time.Hour}, false)
	const wa = "919876500701"
	freeForm := func(t *testing.T, phoneID string) []string {
		t.Helper()
		res := h.do(t, http.MethodPost, "/v21.0/"+phoneID+"/messages", testToken,
			[]byte(`{"messaging_product":"whatsapp","to":"`+wa+`","type":"text","text":{"body":"hi"}}`), "application/json")
		wamid := wamidOf(t, res)
		require.Eventually(t, func() bool {
			got := h.rcv.statuses(wamid)
			return len(got) > 0 && (got[len(got)-1].Status == "failed" || got[len(got)-1].Status == "read")
		}, waitFor, tick)
		got := h.rcv.statuses(wamid)
		if got[0].Status == "failed" {
			require.Len(t, got[0].Errors, 1)
			assert.Equal(t, CodeReEngagement, got[0].Errors[0].Code)
			assert.Equal(t, "Re-engagement message", got[0].Errors[0].Title)
			assert.Nil(t, decodeRaw(t, got[0]).Pricing, "an undelivered message is not priced")
		}
		return statusNames(got)
	}
	failed := []string{"failed"}
	delivered := []string{"sent", "delivered", "read"}

	assert.Equal(t, failed, freeForm(t, testPhoneID), "never wrote: outside the window")
	wamidOf(t, h.send(t, `{"messaging_product":"whatsapp","to":"`+wa+`","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`))

	h.customerWrites(t, wa)
	assert.Equal(t, delivered, freeForm(t, testPhoneID), "just wrote")
	assert.Equal(t, failed, freeForm(t, "2233445566778"), "the window is per business number")

	clock.Set(start.Add(59 * time.Minute))
	assert.Equal(t, delivered, freeForm(t, testPhoneID), "still inside")
	clock.Set(start.Add(time.Hour))
	assert.Equal(t, failed, freeForm(t, testPhoneID), "closed once the window has passed")

	h.sb.Reset()
	h.customerWrites(t, wa)
	assert.Equal(t, delivered, freeForm(t, testPhoneID), "a new message reopens it")
	h.sb.Reset()
	assert.Equal(t, delivered, freeForm(t, testPhoneID), "Reset keeps the windows")
}

func testAssumeWindowOpen(t *testing.T) {
	clock := &fakeClock{}
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clock.Set(start)
	h := newHarness(t, Options{Now: clock.Now, ServiceWindow: time.Hour, AssumeWindowOpen: true}, false)

	wamid := wamidOf(t, h.sendText(t, "919876500711"))
	assert.Equal(t, []string{"sent", "delivered", "read"}, statusNames(waitStatuses(t, h, wamid, 3)), "a customer never seen is inside")

	h.customerWrites(t, "919876500712")
	clock.Set(start.Add(2 * time.Hour))
	wamid = wamidOf(t, h.sendText(t, "919876500712"))
	got := waitStatuses(t, h, wamid, 1)
	assert.Equal(t, []string{"failed"}, statusNames(got), "one who wrote through the sandbox is still measured")
}

// testBatchedWebhooks: updates due at the same moment share one body, as
// Meta may send them: several statuses in one value, several business
// numbers as several entries; several inbound messages in one request
// make one body too, with each sender's contact once.
func testBatchedWebhooks(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	h := newHarness(t, Options{AssumeWindowOpen: true, Workers: 1, MaxBatch: 10}, false)
	h.rcv.setHold(func() { <-gate })

	first := wamidOf(t, h.sendText(t, "919876500801")) // its sent status holds the only worker
	require.Eventually(t, func() bool { return h.rcv.waiting() == 1 }, waitFor, tick)
	sends := map[string]string{"919876500802": "1110000000001", "919876500803": "2220000000002", "919876500804": "1110000000001",
		"919876500805": "2220000000002"}
	var wamids []string
	for to, phone := range sends {
		res := h.do(t, http.MethodPost, "/v21.0/"+phone+"/messages", testToken,
			[]byte(`{"messaging_product":"whatsapp","to":"`+to+`","text":{"body":"hi"}}`), "application/json")
		wamids = append(wamids, wamidOf(t, res))
	}
	once.Do(func() { close(gate) })
	for _, w := range append(wamids, first) {
		waitStatuses(t, h, w, 3)
	}

	batched := false
	for _, body := range h.rcv.allBodies() {
		var wb struct {
			Entry []struct {
				ID      string `json:"id"`
				Changes []struct {
					Value struct {
						Metadata struct {
							PhoneNumberID string `json:"phone_number_id"`
						} `json:"metadata"`
						Statuses []json.RawMessage `json:"statuses"`
					} `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		require.NoError(t, json.Unmarshal(body, &wb))
		statuses, phones := 0, map[string]bool{}
		for _, e := range wb.Entry {
			assert.Equal(t, DefaultBusinessAccountID, e.ID)
			require.Len(t, e.Changes, 1)
			phone := e.Changes[0].Value.Metadata.PhoneNumberID
			assert.False(t, phones[phone], "one entry per business number in a body")
			phones[phone] = true
			statuses += len(e.Changes[0].Value.Statuses)
		}
		if len(wb.Entry) >= 2 && statuses >= 3 {
			batched = true
		}
	}
	assert.True(t, batched, "the statuses that waited went in one body, with an entry per business number")

	t.Run("one request, several messages and entries", func(t *testing.T) {
		before := len(h.rcv.allBodies())
		res := h.inbound(t, `{"messages":[`+
			`{"from":"919876500811","phoneNumberId":"1110000000001","name":"Asha","text":"one"},`+
			`{"from":"919876500811","phoneNumberId":"1110000000001","name":"Asha","text":"two"},`+
			`{"from":"919876500812","phoneNumberId":"2220000000002","type":"reaction","reaction":{"message_id":"wamid.x","emoji":"👍"}}]}`)
		require.Equal(t, http.StatusAccepted, res.status, "answer: %s", res.raw)
		ids := res.json["data"].(map[string]any)["waMessageIds"].([]any)
		require.Len(t, ids, 3)
		require.Eventually(t, func() bool { return len(h.rcv.allBodies()) == before+1 }, waitFor, tick)
		body := h.rcv.allBodies()[before]
		var wb struct {
			Entry []struct {
				Changes []struct {
					Value struct {
						Contacts []json.RawMessage `json:"contacts"`
						Messages []json.RawMessage `json:"messages"`
					} `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		require.NoError(t, json.Unmarshal(body, &wb))
		require.Len(t, wb.Entry, 2)
		assert.Len(t, wb.Entry[0].Changes[0].Value.Messages, 2)
		assert.Len(t, wb.Entry[0].Changes[0].Value.Contacts, 1, "the sender's contact once")
		assert.Len(t, wb.Entry[1].Changes[0].Value.Messages, 1)
		msgs := h.rcv.messages()
		assert.Equal(t, "two", msgs[len(msgs)-2].Text)
	})
}
