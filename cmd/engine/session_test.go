package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/webhook"
)

// agentSocket is a real client of /ws that queues the frames it reads.
type agentSocket struct {
	conn   *websocket.Conn
	frames chan map[string]any
	done   chan struct{}
	// err ended reading; set before done is closed.
	err error
}

// dialSocket connects with token (as a Bearer header).
func (l *live) dialSocket(token string) *agentSocket {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.url, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": []string{"Bearer " + token}},
	})
	require.NoError(l.t, err)
	s := &agentSocket{conn: conn, frames: make(chan map[string]any, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				s.err = err
				return
			}
			var f map[string]any
			if json.Unmarshal(b, &f) == nil {
				s.frames <- f
			}
		}
	}()
	l.t.Cleanup(func() { _ = conn.CloseNow(); <-s.done })
	return s
}

// collect reads frames until it has seen one of each of types (in any
// order, skipping others) and returns their data by type.
func (s *agentSocket) collect(t *testing.T, types ...string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	deadline := time.After(10 * time.Second)
	for len(out) < len(types) {
		select {
		case f := <-s.frames:
			typ, _ := f["type"].(string)
			if _, seen := out[typ]; !seen && contains(types, typ) {
				d, _ := f["data"].(map[string]any)
				out[typ] = d
			}
		case <-s.done:
			t.Fatalf("socket closed (%v) before frames %v", s.err, types)
		case <-deadline:
			t.Fatalf("frames %v did not all come; got %v", types, out)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// next returns the next frame of typ, skipping others (events).
func (s *agentSocket) next(t *testing.T, typ string) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f := <-s.frames:
			if f["type"] == typ {
				d, _ := f["data"].(map[string]any)
				return d
			}
		case <-s.done:
			t.Fatalf("socket closed (%v) before a %s frame", s.err, typ)
		case <-deadline:
			t.Fatalf("no %s frame", typ)
		}
	}
}

func (s *agentSocket) send(t *testing.T, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.conn.Write(ctx, websocket.MessageText, b))
}

// closeStatus waits for the server to close the socket.
func (s *agentSocket) closeStatus(t *testing.T, within time.Duration) (websocket.StatusCode, string) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(within):
		t.Fatalf("socket still open after %v", within)
	}
	var ce websocket.CloseError
	require.ErrorAs(t, s.err, &ce)
	return ce.Code, ce.Reason
}

// session logs in and returns the access and refresh tokens.
func (l *live) session(email, password string) (string, string) {
	l.t.Helper()
	st, body := l.api("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password})
	require.Equal(l.t, 200, st, body)
	d := body["data"].(map[string]any)
	return d["accessToken"].(string), d["refreshToken"].(string)
}

// TestAgentSocketLivesByItsToken runs the session states with real tokens:
// two-second access tokens expire, a refreshed one revives the session, and
// without one the grace closes it with 4001.
func TestAgentSocketLivesByItsToken(t *testing.T) {
	cfg := testConfig(t)
	// 4 s: long enough for the login and the dial on a loaded machine
	// under -race (2 s ran out before the dial in CI), short enough to
	// wait for.
	cfg.JWTExpiresIn = 4 * time.Second
	cfg.SocketAuthGrace = time.Second
	l := startLive(t, cfg)
	id, _ := l.user(actors.RoleAgent)
	u, err := l.e.store.UserByID(context.Background(), id)
	require.NoError(t, err)
	access, refresh := l.session(u.Email, "user-password")
	_, otherTok := l.user(actors.RoleAgent)

	s := l.dialSocket(access)
	hello := s.next(t, "hello")
	require.NotEmpty(t, hello["expiresAt"])
	require.Eventually(t, func() bool { return l.e.conv.hub.Online(id) }, 5*time.Second, 10*time.Millisecond)

	// An auth frame with another user's token is refused; the token
	// expires (perhaps before that answer): the session says so and the
	// agent goes offline.
	s.send(t, map[string]any{"type": "auth", "data": map[string]string{"accessToken": otherTok}})
	got := s.collect(t, "error", "session.expired")
	assert.Equal(t, "FORBIDDEN", got["error"]["code"])
	require.NotEmpty(t, got["session.expired"]["deadline"])
	assert.False(t, l.e.conv.hub.Online(id), "an expired session is offline")
	s.send(t, map[string]any{"type": "read", "data": map[string]string{"conversationId": "c1"}})
	assert.Equal(t, "TOKEN_EXPIRED", s.next(t, "error")["code"])

	// A refreshed token brings it back.
	st, body := l.api("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": refresh})
	require.Equal(t, 200, st, body)
	fresh := body["data"].(map[string]any)["accessToken"].(string)
	s.send(t, map[string]any{"type": "auth", "data": map[string]string{"accessToken": fresh}})
	ack := s.next(t, "ack")
	assert.Equal(t, "auth", ack["type"])
	require.NotEmpty(t, ack["expiresAt"])
	s.next(t, "session.resync")
	assert.True(t, l.e.conv.hub.Online(id))

	// The fresh token expires too; nobody renews it: 4001.
	s.next(t, "session.expired")
	code, reason := s.closeStatus(t, 10*time.Second)
	assert.Equal(t, websocket.StatusCode(4001), code)
	assert.Equal(t, "session expired", reason)
	assert.False(t, l.e.conv.hub.Online(id))
}

func TestTypingIsRelayedToThoseWhoMaySee(t *testing.T) {
	l := startLive(t, testConfig(t))
	a1, t1 := l.user(actors.RoleAgent)
	_, supTok := l.user(actors.RoleSupervisor)
	s1 := l.dialSocket(t1)
	s1.next(t, "hello")
	sup := l.dialSocket(supTok)
	sup.next(t, "hello")
	require.Equal(t, 200, l.webhook(textBody("pn1", "919800000090", "wamid.t1", "hi", time.Now()), ""))
	cx := l.conversationOf("pn1", "919800000090")
	require.Eventually(t, func() bool {
		c, _ := l.e.store.Conversation(context.Background(), cx.ID)
		return c.AssigneeID == a1
	}, 5*time.Second, 10*time.Millisecond)
	_, t2 := l.user(actors.RoleAgent)
	s2 := l.dialSocket(t2)
	s2.next(t, "hello")

	s1.send(t, map[string]any{"type": "typing", "data": map[string]string{"conversationId": cx.ID}})
	assert.Equal(t, "typing", s1.next(t, "ack")["type"])
	typing := sup.next(t, "typing")
	assert.Equal(t, map[string]any{"conversationId": cx.ID, "userId": a1}, typing)

	s2.send(t, map[string]any{"type": "typing", "data": map[string]string{"conversationId": cx.ID}})
	e := s2.next(t, "error")
	assert.Equal(t, "NOT_FOUND", e["code"], "an agent cannot type in another agent's conversation")
}

func TestRefusedAuthenticationIsAudited(t *testing.T) {
	l := startLive(t, testConfig(t))
	ctx := context.Background()
	for range 3 {
		_, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.url, "http")+"/ws?access_token=forged", nil)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	}
	body := textBody("pn1", "919800000091", "wamid.r1", "hello", time.Now())
	require.Equal(t, 401, l.webhook(body, "-"))
	require.Equal(t, 401, l.webhook(body, webhook.Sign(body, "wrong-secret")))
	require.Equal(t, 401, l.webhook(body, webhook.Sign(body, "wrong-secret")))
	// A token refused on an open socket (an auth frame with another
	// user's token) is audited as the socket's user, from its address.
	agent, agentTok := l.user(actors.RoleAgent)
	_, otherTok := l.user(actors.RoleAgent)
	s := l.dialSocket(agentTok)
	s.next(t, "hello")
	s.send(t, map[string]any{"type": "auth", "data": map[string]string{"accessToken": otherTok}})
	assert.Equal(t, "FORBIDDEN", s.next(t, "error")["code"])

	want := map[string]bool{"ws token_invalid": true, "webhook signature_missing": true, "webhook signature_invalid": true, "ws token_other_user": true}
	require.Eventually(t, func() bool {
		recs, _, err := l.e.store.ListAudit(ctx, actors.AuditFilter{Action: "auth.refused", Page: 1, Limit: 50})
		require.NoError(t, err)
		got := map[string]bool{}
		for _, r := range recs {
			assert.Equal(t, actors.OutcomeDenied, r.Outcome)
			assert.Equal(t, "127.0.0.1", r.IP)
			for key := range want {
				f := strings.Fields(key)
				if r.Resource == f[0] && strings.HasPrefix(r.Detail, "reason="+f[1]+" ") {
					got[key] = true
					if f[1] == "token_other_user" {
						assert.Equal(t, agent, r.ActorID, "the socket's user")
					}
				}
			}
		}
		return len(got) == len(want)
	}, 5*time.Second, 20*time.Millisecond, "the first refusal of each place and reason is recorded at once")
}

func TestAdminAddressesAreNormalisedAndLookalikesRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminEmail = "ＡＤＭＩＮ@example.com" // the fullwidth form of admin@example.com
	l := startLive(t, cfg)
	users, err := l.e.store.ListUsers(context.Background(), actors.RoleAdmin)
	require.NoError(t, err)
	require.Len(t, users, 1)
	assert.Equal(t, "admin@example.com", users[0].Email)
	l.admin() // logs in as admin@example.com
	l.stop()

	// engine admin create refuses look-alikes of the existing admin.
	run := func(email string) error {
		var out bytes.Buffer
		c := cfg
		c.AdminEmail = ""
		return adminCommand(context.Background(), c, zaptest.NewLogger(t), []string{"create", "--email", email, "--password-stdin"},
			strings.NewReader("a-long-password\n"), &out)
	}
	err = run("admin@ex\u0430mple.com")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "looks like the address of another user")
	err = run("ａｄｍｉｎ@example.com")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already exists")
	require.NoError(t, run("boss@example.com"))

	// ADMIN_EMAIL that looks like another user's stops the engine with the
	// variable named.
	c := cfg
	c.AdminEmail = "b\u043ess@example.com"
	_, err = newEngine(context.Background(), c, zaptest.NewLogger(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ADMIN_EMAIL")
	assert.Contains(t, err.Error(), fmt.Sprintf("%q looks like", c.AdminEmail))
}
