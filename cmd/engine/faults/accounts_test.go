//go:build faults

package faults

import (
	"fmt"
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
