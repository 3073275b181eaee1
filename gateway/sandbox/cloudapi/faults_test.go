package cloudapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

func TestFailureInjection(t *testing.T) {
	type answer struct {
		status int
		code   int // 0: accepted
	}
	ok := answer{status: http.StatusOK}
	cases := []struct {
		name string
		to   string
		body string // message fields; default a text
		want []answer
	}{
		{name: "0001 accepted (fails by webhook)", to: "919800000001", want: []answer{ok, ok, ok}},
		{name: "0002 rate limited twice, HTTP 400", to: "919800000002",
			want: []answer{{400, CodeRateLimit}, {400, CodeRateLimit}, ok, ok}},
		{name: "0002 counts per recipient", to: "919811110002",
			want: []answer{{400, CodeRateLimit}, {400, CodeRateLimit}, ok}},
		{name: "0004 accepted", to: "919800000004", want: []answer{ok, ok}},
		{name: "0005 accepted (fails by webhook)", to: "919800000005", want: []answer{ok, ok}},
		{name: "0005 template accepted", to: "919800000005",
			body: `"type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}`, want: []answer{ok}},
		{name: "0006 pair rate limit once", to: "919800000006",
			want: []answer{{400, CodePairRateLimit}, ok, ok}},
		{name: "0007 code 1 (HTTP 400) then code 2 (HTTP 503)", to: "919800000007",
			want: []answer{{400, CodeAPIUnknown}, {503, CodeAPIService}, ok, ok}},
		{name: "0008 accepted", to: "919800000008", want: []answer{ok}},
		{name: "ordinary number", to: "919800001234", want: []answer{ok, ok}},
	}
	h := newHarness(t, Options{}, true)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fields := tc.body
			if fields == "" {
				fields = `"type":"text","text":{"body":"hi"}`
			}
			for i, want := range tc.want {
				res := h.send(t, `{"messaging_product":"whatsapp","to":"`+tc.to+`",`+fields+`}`)
				require.Equal(t, want.status, res.status, "send %d: %s", i+1, res.raw)
				if want.code == 0 {
					wamidOf(t, res)
					continue
				}
				e := res.errorObject(t)
				assert.Equal(t, float64(want.code), e["code"], "send %d", i+1)
				assert.True(t, strings.HasPrefix(e["message"].(string), "(#"), e["message"])
				assert.NotEmpty(t, e["error_data"].(map[string]any)["details"])
			}
		})
	}

	t.Run("Reset clears the counters", func(t *testing.T) {
		to := "919822220006"
		require.Equal(t, http.StatusBadRequest, h.sendText(t, to).status)
		require.Equal(t, http.StatusOK, h.sendText(t, to).status)
		h.sb.Reset()
		assert.Equal(t, http.StatusBadRequest, h.sendText(t, to).status, "after Reset the fault fires again")
	})

	t.Run("a refusal is not recorded", func(t *testing.T) {
		h.sb.Reset()
		require.Equal(t, http.StatusBadRequest, h.sendText(t, "919833330002").status)
		assert.Empty(t, h.sb.Sent())
	})
}

func TestTimeoutInjection(t *testing.T) {
	t.Run("held for TimeoutHold then dropped without an answer", func(t *testing.T) {
		const hold = 100 * time.Millisecond
		h := newHarness(t, Options{TimeoutHold: hold}, true)
		start := time.Now()
		req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/v21.0/"+testPhoneID+"/messages",
			strings.NewReader(`{"messaging_product":"whatsapp","to":"919800000003","text":{"body":"hi"}}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := h.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err, "the connection is dropped without an HTTP answer")
		assert.GreaterOrEqual(t, time.Since(start), hold)
		assert.Empty(t, h.sb.Sent(), "a held send is not accepted")

		res := h.sendText(t, "919800000003")
		wamidOf(t, res)
		assert.Len(t, h.sb.Sent(), 1)
	})

	t.Run("released when the client gives up", func(t *testing.T) {
		h := newHarness(t, Options{TimeoutHold: time.Hour}, true)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/v21.0/"+testPhoneID+"/messages",
			strings.NewReader(`{"messaging_product":"whatsapp","to":"919800000003","text":{"body":"hi"}}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testToken)
		_, err = h.srv.Client().Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// The held handler must end: httptest's Close (in Cleanup) waits for
		// it, so a leaked hold would stall this test for an hour.
		wamidOf(t, h.sendText(t, "919800000003"))
	})

	t.Run("released when Run stops", func(t *testing.T) {
		sb := New(Options{TimeoutHold: time.Hour, Log: zaptest.NewLogger(t)})
		srv := httptest.NewServer(sb.Handler())
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan error, 1)
		go func() { runDone <- sb.Run(ctx) }()
		require.Eventually(t, func() bool { return sb.stopSignal() != nil }, waitFor, tick)

		reqDone := make(chan error, 1)
		go func() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v21.0/"+testPhoneID+"/messages",
				strings.NewReader(`{"messaging_product":"whatsapp","to":"919800000003","text":{"body":"hi"}}`))
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
				err = errors.New("got an HTTP answer")
			}
			reqDone <- err
		}()
		require.Eventually(t, func() bool { return sb.wa.holding.Load() == 1 }, waitFor, tick)
		cancel()
		require.NoError(t, <-runDone)
		select {
		case err := <-reqDone:
			assert.Error(t, err)
		case <-time.After(waitFor):
			t.Fatal("held request not released when Run stopped")
		}
	})
}

func TestSendFaults(t *testing.T) {
	h := newHarness(t, Options{}, true)
	post := func(body string) apiResult {
		return h.do(t, "POST", "/sandbox/whatsapp/sends/faults", "", []byte(body), "application/json")
	}
	text := func(to string) apiResult {
		return h.send(t, `{"messaging_product":"whatsapp","to":"`+to+`","type":"text","text":{"body":"hi"}}`)
	}
	cases := []struct {
		fault  string
		status int
		code   int
	}{
		{"server_error", 500, CodeSomethingWrong},
		{"unavailable", 503, CodeAPIService},
		{"rejected", 400, CodeInvalidParameter},
		{"rate_limit", 400, CodeRateLimit},
		{"pair_rate_limit", 400, CodePairRateLimit},
	}
	for i, tc := range cases {
		to := "91981234500" + string(rune('1'+i)) + "0"
		require.Equal(t, 200, post(`{"to":"`+to+`","fault":"`+tc.fault+`","count":2}`).status)
		for n := 0; n < 2; n++ {
			res := text(to)
			require.Equal(t, tc.status, res.status, "%s send %d: %s", tc.fault, n+1, res.raw)
			e := res.errorObject(t)
			assert.Equal(t, float64(tc.code), e["code"], tc.fault)
			assert.Equal(t, "OAuthException", e["type"])
			assert.NotEmpty(t, e["fbtrace_id"])
		}
		require.Equal(t, 200, text(to).status, "%s: disarmed after count sends", tc.fault)
		st := h.sb.SendAttempts(to)
		assert.Len(t, st.Attempts, 3, "every attempt is timed")
		assert.Zero(t, st.Left)
	}

	// slow: accepted and recorded before the answer comes.
	to := "919812345999"
	require.Equal(t, 200, post(`{"to":"`+to+`","fault":"slow","count":1,"delayMs":400}`).status)
	start := time.Now()
	require.Equal(t, 200, text(to).status)
	assert.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond)

	for _, bad := range []string{`{"to":"1","fault":"nope","count":1}`, `{"to":"1","fault":"slow","count":1}`,
		`{"to":"1","fault":"rejected","count":1,"delayMs":10}`, `{"to":"","fault":"rejected","count":1}`, `{"to":"1","fault":"rejected","count":0}`, `[]`} {
		res := post(bad)
		assert.Equal(t, 400, res.status, bad)
		assert.Contains(t, string(res.raw), "VALIDATION_ERROR", bad)
	}
}
