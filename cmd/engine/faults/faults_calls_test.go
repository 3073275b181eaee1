//go:build faults

package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exotelCalls is the Exotel sandbox's log of placed calls to number.
func exotelCalls(t *testing.T, sandboxURL, number string) []map[string]any {
	t.Helper()
	res, err := http.Get(sandboxURL + "/sandbox/exotel/calls?to=" + url.QueryEscape(number))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	var out struct {
		Data struct {
			Items []map[string]any `json:"items"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out.Data.Items
}

// Test51_ExotelTimeoutThenRetry: two connect requests time out at the
// built-in Exotel sandbox: one after placing the call (the 0009 number:
// the answer is dropped), one before (an armed timeout fault). The first
// is resolved by a lookup, not a second connect: one call placed and
// completed; the second is neither failed nor placed twice while its
// outcome is unknown. The status callbacks are authenticated by the URL
// secret (a wrong one is 401 and changes nothing) and a replayed
// callback changes nothing.
func Test51_ExotelTimeoutThenRetry(t *testing.T) {
	t.Parallel()
	r := covers(t, 51)
	exPort := freePort(t)
	exotel := fmt.Sprintf("http://127.0.0.1:%d", exPort)
	const secret = "faults-callback-secret-0123456789"
	p := start(t, map[string]string{"SANDBOX_EXOTEL_PORT": fmt.Sprint(exPort), "EXOTEL_WEBHOOK_SECRET": secret,
		"SANDBOX_EXOTEL_RING_DELAY": "30ms", "SANDBOX_EXOTEL_TALK_DELAY": "80ms", "CALL_RING_TIMEOUT": "1s",
		"CALL_TIME_LIMIT": "1s", "CALL_EXPIRY_GRACE": "300ms"})
	token := p.admin()
	st, body := p.api("PATCH", "/api/auth/me", token, map[string]any{"phone": "+919800051111"})
	require.Equal(t, 200, st, body)
	customer := func(phone string) string {
		st, body := p.api("POST", "/api/customers", token, map[string]any{"name": "Caller " + phone, "phone": phone})
		require.Equal(t, 201, st, body)
		return body["data"].(map[string]any)["customer"].(map[string]any)["id"].(string)
	}
	call := func(customerID string) string {
		st, body := p.api("POST", "/api/calls/initiate", token, map[string]any{"customerId": customerID})
		require.Equal(t, 202, st, body)
		return body["data"].(map[string]any)["call"].(map[string]any)["id"].(string)
	}
	settles := func(id string) map[string]any {
		var c map[string]any
		ok := assert.Eventually(t, func() bool {
			st, body := p.api("GET", "/api/calls/"+id, token, nil)
			if st != 200 {
				return false
			}
			c = body["data"].(map[string]any)["call"].(map[string]any)
			return c["status"] == "completed"
		}, 60*time.Second, 100*time.Millisecond, "call %s completes", id)
		if !ok {
			t.Fatalf("call %s: %v", id, c)
		}
		return c
	}

	// Placed, answer dropped past the client's timeout, retried.
	placedFirst := "+919851000009"
	start := time.Now()
	c1 := settles(call(customer(placedFirst)))
	r.timing("timeout_call_completed", time.Since(start))
	r.count("faults", 1)
	calls := exotelCalls(t, exotel, placedFirst)
	require.Len(t, calls, 1, "one call placed, though its connect timed out and was retried")
	assert.Equal(t, calls[0]["sid"], c1["exotelSid"])

	// Timed out before anything was placed: the outcome is unknown, so
	// the engine neither fails the call nor places it again while Exotel
	// may still list it (its settle window, 60 s, after which the retry
	// places it: callsender's unit tests cover that part).
	res, err := http.Post(exotel+"/sandbox/exotel/faults", "application/json", bytes.NewReader([]byte(`{"fault":"timeout","count":1}`)))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	r.count("faults", 1)
	droppedFirst := "+919851000001"
	id2 := call(customer(droppedFirst))
	time.Sleep(12 * time.Second) // past the client's 10 s timeout
	assert.Empty(t, exotelCalls(t, exotel, droppedFirst), "no second connect while the first one's outcome is unknown")
	// By now the 0009 call's connect has timed out (10 s) and been
	// resolved: still one call.
	assert.Len(t, exotelCalls(t, exotel, placedFirst), 1, "the timed-out connect was resolved by a lookup, not placed again")
	r.timing("since_first_connect", time.Since(start))
	st, body = p.api("GET", "/api/calls/"+id2, token, nil)
	require.Equal(t, 200, st)
	assert.NotEqual(t, "failed", body["data"].(map[string]any)["call"].(map[string]any)["status"], "not failed: it may yet be placed")
	r.count("inputs", 2)

	// Callbacks: authenticated by the URL secret, a replay changes nothing.
	post := func(secret string, fields map[string]any) int {
		raw, _ := json.Marshal(fields)
		res, err := http.Post(p.url+"/api/calls/webhook?"+url.Values{"secret": {secret}}.Encode(), "application/json", bytes.NewReader(raw))
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	replay := map[string]any{"CallSid": c1["exotelSid"], "EventType": "terminal", "Status": "busy", "DateUpdated": "2026-12-05 10:05:00",
		"CustomField": c1["id"], "ConversationDuration": 7}
	assert.Equal(t, 401, post("wrong-secret-wrong-secret-0000000", replay), "a callback without the secret is refused")
	assert.Equal(t, 401, post("", replay))
	before := c1["updatedAt"]
	assert.Equal(t, 200, post(secret, replay), "a replayed terminal callback is answered 200")
	assert.Equal(t, 200, post(secret, replay))
	r.count("callbacks_replayed", 2)
	time.Sleep(500 * time.Millisecond)
	st, body = p.api("GET", "/api/calls/"+c1["id"].(string), token, nil)
	require.Equal(t, 200, st)
	after := body["data"].(map[string]any)["call"].(map[string]any)
	assert.Equal(t, "completed", after["status"], "a late terminal after completed changes nothing")
	assert.Equal(t, before, after["updatedAt"])
	assert.Equal(t, c1["durationSec"], after["durationSec"])
	r.count("calls_placed", len(exotelCalls(t, exotel, placedFirst))+len(exotelCalls(t, exotel, droppedFirst)))
	r.count("duplicated", len(exotelCalls(t, exotel, placedFirst))-1)
}
