package cloudapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInboundSimulation(t *testing.T) {
	clock := &fakeClock{}
	clock.Set(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	h := newHarness(t, Options{Now: clock.Now}, false)

	t.Run("posts a signed, parseable text webhook", func(t *testing.T) {
		res := h.do(t, http.MethodPost, "/sandbox/whatsapp/inbound", "",
			[]byte(`{"from":"919876543210","text":"Where is my order?","phoneNumberId":"`+testPhoneID+`","name":"Asha"}`), "application/json")
		require.Equal(t, http.StatusAccepted, res.status, "answer: %s", res.raw)
		assert.Equal(t, "success", res.json["status"])
		wamid, _ := res.json["data"].(map[string]any)["waMessageId"].(string)
		require.True(t, strings.HasPrefix(wamid, "wamid."), "waMessageId %q", wamid)

		require.Eventually(t, func() bool { return len(h.rcv.messages()) == 1 }, waitFor, tick)
		m := h.rcv.messages()[0]
		assert.Equal(t, wamid, m.WaMessageID)
		assert.Equal(t, "919876543210", m.WaID)
		assert.Equal(t, "Asha", m.ProfileName)
		assert.Equal(t, "text", m.Type)
		assert.Equal(t, "Where is my order?", m.Text)
		assert.JSONEq(t, `{"body":"Where is my order?"}`, string(m.Content))
		assert.Equal(t, testPhoneID, m.PhoneNumberID)
		assert.NotEmpty(t, m.DisplayPhone)
		assert.Equal(t, clock.Now(), m.Timestamp)
		_, badSig, malformed := h.rcv.counts()
		assert.Zero(t, badSig)
		assert.Zero(t, malformed)
	})

	t.Run("default profile name and a + on from", func(t *testing.T) {
		res := h.do(t, http.MethodPost, "/sandbox/whatsapp/inbound", "",
			[]byte(`{"from":"+919876543299","text":"hi","phoneNumberId":"`+testPhoneID+`"}`), "application/json")
		require.Equal(t, http.StatusAccepted, res.status, "answer: %s", res.raw)
		require.Eventually(t, func() bool { return len(h.rcv.messages()) == 2 }, waitFor, tick)
		m := h.rcv.messages()[1]
		assert.Equal(t, "919876543299", m.WaID)
		assert.Equal(t, defaultProfileName, m.ProfileName)
	})

	t.Run("retried when the engine refuses it", func(t *testing.T) {
		h.rcv.setFail(1, false)
		before, _, _ := h.rcv.counts()
		res := h.do(t, http.MethodPost, "/sandbox/whatsapp/inbound", "",
			[]byte(`{"from":"919876543211","text":"again","phoneNumberId":"`+testPhoneID+`"}`), "application/json")
		require.Equal(t, http.StatusAccepted, res.status)
		require.Eventually(t, func() bool { return len(h.rcv.messages()) == 3 }, waitFor, tick)
		after, _, _ := h.rcv.counts()
		assert.Equal(t, 2, after-before, "one refused post, one accepted")
	})

	cases := []struct {
		name      string
		body      string
		wantField string // errors[0].field, "" when the body itself is wrong
	}{
		{name: "not JSON", body: `{`},
		{name: "unknown field", body: `{"from":"919876543210","text":"x","phoneNumberId":"1","extra":1}`},
		{name: "from missing", body: `{"text":"x","phoneNumberId":"1"}`, wantField: "from"},
		{name: "from not digits", body: `{"from":"abc","text":"x","phoneNumberId":"1"}`, wantField: "from"},
		{name: "text missing", body: `{"from":"919876543210","phoneNumberId":"1"}`, wantField: "text"},
		{name: "text too long", body: `{"from":"919876543210","text":"` + strings.Repeat("x", 4097) + `","phoneNumberId":"1"}`, wantField: "text"},
		{name: "phoneNumberId missing", body: `{"from":"919876543210","text":"x"}`, wantField: "phoneNumberId"},
	}
	for _, tc := range cases {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			res := h.do(t, http.MethodPost, "/sandbox/whatsapp/inbound", "", []byte(tc.body), "application/json")
			require.Equal(t, http.StatusBadRequest, res.status, "answer: %s", res.raw)
			assert.Equal(t, "error", res.json["status"])
			assert.Equal(t, "VALIDATION_ERROR", res.json["code"])
			assert.NotEmpty(t, res.json["message"])
			if tc.wantField != "" {
				errs, _ := res.json["errors"].([]any)
				require.Len(t, errs, 1)
				assert.Equal(t, tc.wantField, errs[0].(map[string]any)["field"])
			}
		})
	}
}

func TestInboundWithoutWebhookURL(t *testing.T) {
	h := newHarness(t, Options{}, true)
	res := h.do(t, http.MethodPost, "/sandbox/whatsapp/inbound", "",
		[]byte(`{"from":"919876543210","text":"hi","phoneNumberId":"1"}`), "application/json")
	assert.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Equal(t, "DEPENDENCY_UNAVAILABLE", res.json["code"])
}

func TestSentList(t *testing.T) {
	clock := &fakeClock{}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	clock.Set(at)
	h := newHarness(t, Options{Now: clock.Now}, true)

	bodyA := `{"messaging_product":"whatsapp","to":"+919876543210","type":"text","text":{"body":"one"}}`
	bodyB := `{"messaging_product":"whatsapp","to":"919876543211","type":"image","image":{"id":"5"}}`
	wamidA := wamidOf(t, h.send(t, bodyA))
	wamidB := wamidOf(t, h.send(t, bodyB))
	wamidC := wamidOf(t, h.sendText(t, "919876543210"))

	type item struct {
		To            string          `json:"to"`
		Type          string          `json:"type"`
		Body          json.RawMessage `json:"body"`
		Wamid         string          `json:"wamid"`
		At            time.Time       `json:"at"`
		PhoneNumberID string          `json:"phoneNumberId"`
		Seq           uint64          `json:"seq"`
	}
	list := func(t *testing.T, query string) []item {
		t.Helper()
		res := h.do(t, http.MethodGet, "/sandbox/whatsapp/sent"+query, "", nil, "")
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		var got struct {
			Items []item `json:"items"`
		}
		require.NoError(t, json.Unmarshal(res.raw, &got))
		require.NotNil(t, got.Items, "items is an array: %s", res.raw)
		return got.Items
	}

	t.Run("all, oldest first, with the body as sent", func(t *testing.T) {
		items := list(t, "")
		require.Len(t, items, 3)
		assert.Equal(t, []string{wamidA, wamidB, wamidC}, []string{items[0].Wamid, items[1].Wamid, items[2].Wamid})
		assert.Equal(t, "919876543210", items[0].To)
		assert.Equal(t, "text", items[0].Type)
		assert.JSONEq(t, bodyA, string(items[0].Body))
		assert.Equal(t, at, items[0].At)
		assert.Equal(t, testPhoneID, items[0].PhoneNumberID)
		assert.Equal(t, "image", items[1].Type)
		assert.JSONEq(t, bodyB, string(items[1].Body))
	})

	t.Run("after a sequence number: only the newer ones", func(t *testing.T) {
		all := list(t, "")
		assert.Equal(t, []uint64{1, 2, 3}, []uint64{all[0].Seq, all[1].Seq, all[2].Seq})
		items := list(t, "?after=1")
		require.Len(t, items, 2)
		assert.Equal(t, []string{wamidB, wamidC}, []string{items[0].Wamid, items[1].Wamid})
		items = list(t, "?to=919876543210&after=1")
		require.Len(t, items, 1)
		assert.Equal(t, wamidC, items[0].Wamid)
		assert.Empty(t, list(t, "?after=3"))
		assert.Empty(t, list(t, "?after=18446744073709551615"))
		assert.Len(t, list(t, "?after=0"), 3)
		for _, bad := range []string{"-1", "x", "1.5"} {
			res := h.do(t, http.MethodGet, "/sandbox/whatsapp/sent?after="+bad, "", nil, "")
			assert.Equal(t, http.StatusBadRequest, res.status, bad)
		}
	})

	t.Run("filtered by to, with or without +", func(t *testing.T) {
		for _, q := range []string{"?to=919876543210", "?to=%2B919876543210"} {
			items := list(t, q)
			require.Len(t, items, 2, q)
			assert.Equal(t, wamidA, items[0].Wamid)
			assert.Equal(t, wamidC, items[1].Wamid)
		}
		assert.Empty(t, list(t, "?to=919999999999"))
		res := h.do(t, http.MethodGet, "/sandbox/whatsapp/sent?to=abc", "", nil, "")
		assert.Equal(t, http.StatusBadRequest, res.status)
	})

	t.Run("DELETE resets", func(t *testing.T) {
		res := h.do(t, http.MethodDelete, "/sandbox/whatsapp/sent", "", nil, "")
		require.Equal(t, http.StatusNoContent, res.status)
		assert.Empty(t, list(t, ""))
		assert.Empty(t, h.sb.Sent())
		assert.Zero(t, h.sb.Rate(testPhoneID, time.Hour))
	})
}

func TestSentLogIsBounded(t *testing.T) {
	h := newHarness(t, Options{MaxSent: 8}, true)
	var last string
	for range 20 {
		last = wamidOf(t, h.sendText(t, "919876543210"))
	}
	sent := h.sb.Sent()
	assert.LessOrEqual(t, len(sent), 9)
	assert.GreaterOrEqual(t, len(sent), 8)
	assert.Equal(t, last, sent[len(sent)-1].WaMessageID, "the newest are kept")
}

func TestRate(t *testing.T) {
	clock := &fakeClock{}
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	h := newHarness(t, Options{Now: clock.Now}, true)
	sendAt := func(phoneID string, offsets ...time.Duration) {
		for _, off := range offsets {
			clock.Set(base.Add(off))
			res := h.do(t, http.MethodPost, "/v21.0/"+phoneID+"/messages", testToken,
				[]byte(`{"messaging_product":"whatsapp","to":"919876543210","text":{"body":"x"}}`), "application/json")
			require.Equal(t, http.StatusOK, res.status)
		}
	}
	ms := time.Millisecond
	sendAt("111", 0, 100*ms, 200*ms, 900*ms, 1000*ms, 1050*ms, 3000*ms)
	sendAt("222", 0, 500*ms)
	// A refused send does not count.
	clock.Set(base.Add(1020 * ms))
	require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPost, "/v21.0/111/messages", testToken,
		[]byte(`{"messaging_product":"whatsapp","to":"919876540002","text":{"body":"x"}}`), "application/json").status)

	cases := []struct {
		name    string
		phoneID string
		window  time.Duration
		want    int
	}{
		{name: "one second", phoneID: "111", window: time.Second, want: 5}, // 100..1050ms
		{name: "half-open window", phoneID: "111", window: 900 * ms, want: 4},
		{name: "100ms", phoneID: "111", window: 100 * ms, want: 2}, // 1000, 1050
		{name: "whole run", phoneID: "111", window: time.Hour, want: 7},
		{name: "other number", phoneID: "222", window: time.Second, want: 2},
		{name: "unknown number", phoneID: "333", window: time.Second, want: 0},
		{name: "zero window", phoneID: "111", window: 0, want: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, h.sb.Rate(tc.phoneID, tc.window))
		})
	}
}
