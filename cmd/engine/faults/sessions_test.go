//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sessions: refresh rotation and reuse, parallel refreshes, logout and
// the sockets it closes (lines 23 to 25).

// Test23_RefreshReuseRevokesFamily: R1→R2, then R1 again → 401, R2 and its
// access token dead too, and an audit record.
func Test23_RefreshReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	r := covers(t, 23)
	p := start(t, nil)
	admin := abAdmin(p)
	agent := abRegister(p, "agent23@example.com")
	st, body := p.api("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": agent.refresh})
	require.Equal(t, 200, st, body)
	second := abSessionOf(t, body)
	abAccepted(t, p, second.access)

	st, body = p.api("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": agent.refresh})
	assert.Equal(t, 401, st, "R1 replayed: %v", body)
	st, body = p.api("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": second.refresh})
	assert.Equal(t, 401, st, "R2 after R1's reuse: %v", body)
	assert.Equal(t, "TOKEN_REVOKED", body["code"])
	abRefused(t, p, second.access, "access token of the revoked family")
	abRefused(t, p, agent.access, "first access token of the revoked family")
	r.count("inputs", 4)

	require.Eventually(t, func() bool {
		st, body := p.api("GET", "/api/audit?action=auth.refresh_reuse", admin.access, nil)
		return st == 200 && body["data"].(map[string]any)["total"].(float64) >= 1
	}, 10*time.Second, 100*time.Millisecond, "an audit record of the reuse")
}

// Test24_ParallelRefresh: 10 refreshes of one R1 at once → exactly one
// succeeds (compare-and-set); the losers are reuse, which revokes the family
// (the documented rule: a raced token is a leaked one).
func Test24_ParallelRefresh(t *testing.T) {
	t.Parallel()
	r := covers(t, 24)
	p := start(t, nil)
	for round := 0; round < 3; round++ {
		agent := abRegister(p, fmt.Sprintf("agent24-%d@example.com", round))
		const n = 10
		var wg sync.WaitGroup
		statuses := make([]int, n)
		bodies := make([]map[string]any, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				statuses[i], bodies[i] = p.api("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": agent.refresh})
			}(i)
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, st := range statuses {
			switch st {
			case 200:
				ok++
			case 401:
				assert.Equal(t, "TOKEN_REVOKED", bodies[i]["code"])
			default:
				t.Errorf("refresh answered %d: %v", st, bodies[i])
			}
		}
		assert.Equal(t, 1, ok, "exactly one of %d parallel refreshes succeeds: %v", n, statuses)
		r.count("inputs", n)
		r.count("succeeded", ok)
	}
}

// abSocket opens an agent socket with token and returns it with a channel
// of its frames' types and its close status once it ends.
func abSocket(t *testing.T, p *proc, token string) (*websocket.Conn, <-chan map[string]any, <-chan websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.url, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": []string{"Bearer " + token}}})
	require.NoError(t, err)
	frames := make(chan map[string]any, 256)
	closed := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			_, raw, err := c.Read(context.Background())
			if err != nil {
				closed <- websocket.CloseStatus(err)
				close(frames)
				return
			}
			var f map[string]any
			if json.Unmarshal(raw, &f) == nil {
				select {
				case frames <- f:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, frames, closed
}

// abNext waits for the next frame of type typ.
func abNext(t *testing.T, frames <-chan map[string]any, typ string) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-frames:
			require.True(t, ok, "socket closed before a %s frame", typ)
			if f["type"] == typ {
				return f
			}
		case <-deadline:
			t.Fatalf("no %s frame", typ)
		}
	}
}

// Test25_LogoutRevokes: after logout the access token is 401 at once, the
// refresh token too, and the user's open socket is closed (1008) within 5 s.
func Test25_LogoutRevokes(t *testing.T) {
	t.Parallel()
	r := covers(t, 25)
	p := start(t, nil)
	agent := abRegister(p, "agent25@example.com")
	other := abRegister(p, "other25@example.com")
	_, frames, closed := abSocket(t, p, agent.access)
	abNext(t, frames, "hello")
	_, otherFrames, otherClosed := abSocket(t, p, other.access)
	abNext(t, otherFrames, "hello")

	st, body := p.api("POST", "/api/auth/logout", agent.access, nil)
	require.Equal(t, 200, st, body)
	at := time.Now()
	abRefused(t, p, agent.access, "access token after logout")
	st, body = p.api("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": agent.refresh})
	assert.Equal(t, 401, st, "refresh token after logout: %v", body)
	select {
	case code := <-closed:
		assert.Equal(t, websocket.StatusPolicyViolation, code)
		r.timing("time_to_socket_close", time.Since(at))
	case <-time.After(5 * time.Second):
		t.Error("the logged-out user's socket is still open after 5 s")
	}
	// A new socket with the revoked token is refused before the upgrade.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.url, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": []string{"Bearer " + agent.access}}})
	require.Error(t, err)
	if res != nil {
		assert.Equal(t, 401, res.StatusCode)
	}
	// The other user is untouched.
	abAccepted(t, p, other.access)
	select {
	case code := <-otherClosed:
		t.Errorf("another user's socket closed (%d)", code)
	default:
	}
	r.count("inputs", 3)
}
