package exotel

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func strBody(s string) io.Reader { return strings.NewReader(s) }

func testArmedFaults(t *testing.T) {
	cases := []struct {
		fault  Fault
		status int
		code   string
	}{
		{fault: FaultServerError, status: http.StatusInternalServerError, code: CodeInternal},
		{fault: FaultUnavailable, status: http.StatusServiceUnavailable, code: "SERVICE_UNAVAILABLE"},
		{fault: FaultRateLimit, status: http.StatusTooManyRequests, code: CodeTooManyRequests},
	}
	for _, tc := range cases {
		t.Run(string(tc.fault), func(t *testing.T) {
			h := newHarness(t, nil)
			h.sb.ArmFault(tc.fault, 2)
			bad := h.form("+919812345678")
			bad.Del("From")
			st, _ := h.connect(bad)
			require.Equal(t, http.StatusBadRequest, st, "a refused request does not use up the fault")
			for range 2 {
				st, body := h.connect(h.form("+919812345678"))
				assert.Equal(t, tc.status, st)
				assert.Equal(t, tc.code, restErr(t, body)["Code"])
			}
			assert.Empty(t, h.sb.Calls(), "no call placed while the fault lasts")
			h.placeOK(h.form("+919812345678"))
			assert.Len(t, h.sb.Calls(), 1)
		})
	}
}

func TestArmedTimeoutPlacesNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.sb.ArmFault(FaultTimeout, 1)
	client := &http.Client{Timeout: 300 * time.Millisecond}
	_, _, err := h.do(client, http.MethodPost, "/v1/Accounts/"+testSID+"/Calls/connect.json", h.form("+919812345678"))
	require.Error(t, err)
	fault, left := h.sb.faults.armed()
	assert.Equal(t, FaultNone, fault, "the request reached the sandbox and used up the fault")
	assert.Zero(t, left)
	assert.Empty(t, h.sb.Calls())
	h.placeOK(h.form("+919812345678"))
	assert.Len(t, h.sb.Calls(), 1)
}

func TestControlEndpoints(t *testing.T) {
	h := newHarness(t, nil)
	post := func(body string) (int, map[string]any) {
		resp, err := http.Post(h.url+"/sandbox/exotel/faults", "application/json", bytes.NewBufferString(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	for _, bad := range []string{`{"fault":"explode","count":1}`, `{"fault":"rate_limit","count":0}`, `{"fault":"rate_limit","count":1,"x":1}`, `nope`} {
		st, body := post(bad)
		assert.Equal(t, http.StatusBadRequest, st, bad)
		assert.Equal(t, "VALIDATION_ERROR", body["code"], bad)
	}
	st, body := post(`{"fault":"rate_limit","count":1}`)
	require.Equal(t, http.StatusOK, st)
	assert.Equal(t, map[string]any{"fault": "rate_limit", "count": float64(1)}, body["data"])
	st, _ = h.connect(h.form("+919812345678"))
	assert.Equal(t, http.StatusTooManyRequests, st)

	sid := h.placeOK(h.form("+919812340005"))["Sid"].(string)
	require.Eventually(t, func() bool { return len(h.sb.Callbacks()) == 1 }, waitFor, tick)
	get := func(path string) []any {
		resp, err := http.Get(h.url + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out struct {
			Data struct {
				Items []any `json:"items"`
			} `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out.Data.Items
	}
	calls := get("/sandbox/exotel/calls?to=09812340005")
	require.Len(t, calls, 1)
	assert.Equal(t, sid, calls[0].(map[string]any)["sid"])
	assert.Empty(t, get("/sandbox/exotel/calls?to=09812349999"))
	cbs := get("/sandbox/exotel/callbacks")
	require.Len(t, cbs, 1)
	assert.Equal(t, "busy", cbs[0].(map[string]any)["status"])

	req, err := http.NewRequest(http.MethodDelete, h.url+"/sandbox/exotel/calls", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Empty(t, get("/sandbox/exotel/calls"))
}

func TestLiveCallsBounded(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxLiveCalls, o.RingDelay = 1, time.Hour })
	h.placeOK(h.form("+919812345678"))
	st, body := h.connect(h.form("+919812345678"))
	assert.Equal(t, http.StatusTooManyRequests, st)
	assert.Equal(t, CodeTooManyRequests, restErr(t, body)["Code"])
	assert.Len(t, h.sb.Calls(), 1)
}

func TestStopReleasesHeldRequestsAndCalls(t *testing.T) {
	sb := New(Options{AccountSID: testSID, APIKey: testKey, APIToken: testToken, ExoPhones: []string{testPhone}, RingDelay: time.Hour})
	h := &harness{t: t, sb: sb}
	srv := newLoopback(t, sb.Handler())
	h.url = srv
	errc := make(chan error, 1)
	go func() {
		_, _, err := h.do(nil, http.MethodPost, "/v1/Accounts/"+testSID+"/Calls/connect.json", h.formNoHook("+919812340009"))
		errc <- err
	}()
	require.Eventually(t, func() bool { return len(sb.Calls()) == 1 }, waitFor, tick)
	assert.Equal(t, 1, sb.LiveCalls())
	sb.Stop()
	select {
	case err := <-errc:
		assert.Error(t, err, "the held connect is dropped")
	case <-time.After(waitFor):
		t.Fatal("the held request was not released")
	}
	assert.Equal(t, 0, sb.LiveCalls())
	sb.Stop() // twice is fine
	assert.ErrorIs(t, sb.Run(t.Context()), ErrStopped)
	st, _ := h.connect(h.formNoHook("+919812345678"))
	assert.Equal(t, http.StatusTooManyRequests, st, "a stopped sandbox places nothing")
}
