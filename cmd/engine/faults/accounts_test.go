//go:build faults

package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test26_TokenVersion: a password change, a role change and an account
// disable each end every older session of the user at once: both of its
// logins' access tokens are 401 TOKEN_REVOKED, their refresh tokens are
// refused, and its open socket closes with 1008. Another user is untouched.
func Test26_TokenVersion(t *testing.T) {
	t.Parallel()
	r := covers(t, 26)
	p := start(t, nil)
	admin := abAdmin(p)
	other := abRegister(p, "other26@example.com")
	_, otherFrames, otherClosed := abSocket(t, p, other.access)
	abNext(t, otherFrames, "hello")

	cases := []struct {
		name string
		// change makes the change for user u and returns the status it got.
		change func(u abSession) (int, map[string]any)
		// relogin is the password that logs the user in afterwards, or ""
		// when it cannot log in any more.
		relogin string
	}{
		{name: "password change", relogin: "a-new-password-26", change: func(u abSession) (int, map[string]any) {
			return p.api("POST", "/api/auth/password", u.access, map[string]string{"currentPassword": "agent-password-1", "newPassword": "a-new-password-26"})
		}},
		{name: "role change", relogin: "agent-password-1", change: func(u abSession) (int, map[string]any) {
			return p.api("PATCH", "/api/users/"+u.id+"/role", admin.access, map[string]string{"role": "supervisor"})
		}},
		{name: "disable", change: func(u abSession) (int, map[string]any) {
			return p.api("PATCH", "/api/users/"+u.id, admin.access, map[string]any{"disabled": true})
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := abRegister(p, fmt.Sprintf("agent26-%d@example.com", i))
			st, body := p.api("POST", "/api/auth/login", "", map[string]string{"email": u.email, "password": "agent-password-1"})
			require.Equal(t, 200, st, body)
			second := abSessionOf(t, body)
			_, frames, closed := abSocket(t, p, u.access)
			abNext(t, frames, "hello")
			abAccepted(t, p, u.access)

			st, body = tc.change(u)
			require.Equal(t, 200, st, body)
			at := time.Now()
			r.count("faults_injected", 1)
			for _, tok := range []string{u.access, second.access} {
				stc, _, raw := p.do("GET", "/api/auth/me", tok, nil)
				assert.Equal(t, 401, stc, "an older access token after the %s: %s", tc.name, raw)
				assert.Contains(t, string(raw), "TOKEN_REVOKED", tc.name)
				r.count("inputs", 1)
			}
			for _, refresh := range []string{u.refresh, second.refresh} {
				st, body := p.api("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": refresh})
				assert.Equal(t, 401, st, "an older refresh token after the %s: %v", tc.name, body)
				r.count("inputs", 1)
			}
			select {
			case code := <-closed:
				assert.Equal(t, websocket.StatusPolicyViolation, code, tc.name)
				r.timing("time_to_socket_close", time.Since(at))
			case <-time.After(5 * time.Second):
				t.Errorf("the user's socket is still open 5 s after the %s", tc.name)
			}
			if tc.name == "password change" {
				// The answer is a fresh session under the new version.
				abAccepted(t, p, abSessionOf(t, body).access)
			}
			st, body = p.api("POST", "/api/auth/login", "", map[string]string{"email": u.email, "password": "agent-password-1"})
			if tc.relogin == "" {
				assert.Equal(t, 401, st, "a disabled user logs in: %v", body)
				return
			}
			if tc.relogin != "agent-password-1" {
				assert.Equal(t, 401, st, "the old password still logs in: %v", body)
				st, body = p.api("POST", "/api/auth/login", "", map[string]string{"email": u.email, "password": tc.relogin})
			}
			require.Equal(t, 200, st, body)
			abAccepted(t, p, abSessionOf(t, body).access)
		})
	}
	abAccepted(t, p, other.access)
	select {
	case code := <-otherClosed:
		t.Errorf("another user's socket closed (%d)", code)
	default:
	}
}

// Test56_SocketAbuse: through the built engine, a socket without a token is
// 401 before the upgrade, a foreign Origin 403, a frame over the read limit
// closes with 1009, a flood of frames closes with 1008 (after answering at
// most the burst), and a user's socket beyond WS_MAX_SOCKETS_PER_USER is
// refused before the upgrade with 429 and Retry-After.
func Test56_SocketAbuse(t *testing.T) {
	t.Parallel()
	r := covers(t, 56)
	const maxSockets = 3
	p := start(t, map[string]string{"WS_MAX_SOCKETS_PER_USER": fmt.Sprint(maxSockets), "ALLOWED_ORIGINS": "https://app.example.com"})
	agent := abRegister(p, "agent56@example.com")
	wsURL := "ws" + strings.TrimPrefix(p.url, "http") + "/ws"
	dial := func(h http.Header) (*websocket.Conn, *http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, res, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
		if c != nil {
			t.Cleanup(func() { _ = c.CloseNow() })
		}
		return c, res, err
	}
	refused := func(what string, h http.Header, status int) {
		t.Helper()
		_, res, err := dial(h)
		require.Error(t, err, what)
		require.NotNil(t, res, what)
		assert.Equal(t, status, res.StatusCode, what)
		r.count("inputs", 1)
	}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": []string{"Bearer " + tok}} }

	refused("no token", http.Header{}, 401)
	refused("malformed token", bearer("not.a.token"), 401)
	refused("foreign Origin", http.Header{"Authorization": []string{"Bearer " + agent.access}, "Origin": []string{"https://evil.example"}}, 403)

	// A frame over the read limit (64 KiB): 1009.
	c, frames, closed := abSocket(t, p, agent.access)
	abNext(t, frames, "hello")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping","data":{"pad":"`+strings.Repeat("x", 70000)+`"}}`))
	r.count("inputs", 1)
	select {
	case code := <-closed:
		assert.Equal(t, websocket.StatusMessageTooBig, code, "a frame over the read limit")
	case <-time.After(10 * time.Second):
		t.Error("the socket that sent an oversized frame is still open after 10 s")
	}

	// A flood: 20,000 typing frames in a row. The socket answers at most
	// its burst, then closes with 1008.
	c, frames, closed = abSocket(t, p, agent.access)
	abNext(t, frames, "hello")
	begin := time.Now()
	written := 0
	for i := 0; i < 20000; i++ {
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.Write(wctx, websocket.MessageText, []byte(`{"type":"typing","data":{"conversationId":"c56"}}`))
		wcancel()
		if err != nil {
			break
		}
		written++
	}
	r.count("inputs", written)
	r.count("faults_injected", 1)
	select {
	case code := <-closed:
		assert.Equal(t, websocket.StatusPolicyViolation, code, "a flood of frames")
		r.timing("time_to_flood_close", time.Since(begin))
	case <-time.After(10 * time.Second):
		t.Errorf("the flooding socket is still open after %d frames and 10 s", written)
	}
	answered := 0
	for range frames {
		answered++
	}
	r.count("flood_frames_answered", answered)
	assert.LessOrEqual(t, answered, 100+20, "the flood got at most the burst (WS_FRAME_BURST) answered, plus the refill")

	// The per-user cap: maxSockets sockets, then 429 before the upgrade;
	// the open ones stay, and a closed one frees its slot.
	var open []*websocket.Conn
	for i := 0; i < maxSockets; i++ {
		c, frames, _ := abSocket(t, p, agent.access)
		abNext(t, frames, "hello")
		open = append(open, c)
	}
	_, res, err := dial(bearer(agent.access))
	require.Error(t, err, "socket beyond the cap")
	require.NotNil(t, res)
	assert.Equal(t, 429, res.StatusCode)
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
	r.count("inputs", 1)
	other := abRegister(p, "other56@example.com")
	_, otherFrames, _ := abSocket(t, p, other.access)
	abNext(t, otherFrames, "hello")
	require.NoError(t, open[0].Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool {
		c, _, err := dial(bearer(agent.access))
		if err == nil {
			_ = c.CloseNow()
		}
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "a closed socket frees its slot")
}
