package agentsession_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/agentsession/sessiontest"
)

// start is the fake clock's origin in these tests.
var start = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

// clocked is a hub on a fake clock with fake commands and presence.
type clocked struct {
	hub      *agentsession.Hub
	clock    *sessiontest.Clock
	commands *sessiontest.Commands
	presence *sessiontest.Presence
	refusals *sessiontest.Refusals
}

const grace = time.Minute

func newClocked(t *testing.T, idle time.Duration) *clocked {
	t.Helper()
	c := &clocked{clock: sessiontest.NewClock(start), commands: &sessiontest.Commands{}, presence: &sessiontest.Presence{},
		refusals: &sessiontest.Refusals{}}
	c.hub = newHubWith(t, agentsession.Options{Presence: c.presence, Commands: c.commands, Refusals: c.refusals, Clock: c.clock,
		Grace: grace, IdleTimeout: idle})
	return c
}

// open opens a session of u whose token expires at exp and waits for hello.
func (c *clocked) open(t *testing.T, u actors.User, exp time.Time) (*agentsession.Session, *sessiontest.Sink) {
	t.Helper()
	sink := &sessiontest.Sink{}
	s := c.hub.Open(u, exp, agentsession.Source{IP: "192.0.2.1", UserAgent: "test"}, sink)
	t.Cleanup(s.Closed)
	require.Equal(t, agentsession.FrameHello, sink.WaitFrame(t, 0).Type)
	return s, sink
}

// waitState waits for the session to reach st.
func waitState(t *testing.T, s *agentsession.Session, st agentsession.State) {
	t.Helper()
	require.Eventually(t, func() bool { return s.State() == st }, waitFor, tick, "state %s, want %s", s.State(), st)
}

// data decodes a frame's data into a map.
func data(t *testing.T, f frame) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(f.Data, &m), "data %s", f.Data)
	return m
}

// barrier publishes a notification to userID and waits until the sink got
// it, so every frame published before it has been handled.
func barrier(t *testing.T, h *agentsession.Hub, userID string, sink *sessiontest.Sink, tag string) {
	t.Helper()
	h.Publish(actors.Event{Type: actors.EventNotification, UserID: userID, Data: tag})
	require.Eventually(t, func() bool {
		fs := sink.Frames(t)
		return len(fs) > 0 && string(fs[len(fs)-1].Data) == `"`+tag+`"`
	}, waitFor, tick, "barrier %s", tag)
}

func TestHelloCarriesTheTokenExpiry(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	exp := start.Add(15 * time.Minute)
	s, sink := c.open(t, user("a1", actors.RoleAgent), exp)
	assert.Equal(t, exp.Format(time.RFC3339), data(t, sink.Frames(t)[0])["expiresAt"])
	assert.Equal(t, agentsession.StateActive, s.State())
	assert.Equal(t, []string{"online a1"}, c.presence.Calls(), "online before hello")
}

func TestExpiryWithholdsEventsUntilAFreshToken(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	exp := start.Add(15 * time.Minute)
	s, sink := c.open(t, user("a1", actors.RoleAgent), exp)
	c.commands.AddConversation(actors.Conversation{ID: "c1", AssigneeID: "a1"})

	// Active: events are pushed.
	c.hub.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1", Data: "before"})
	require.Equal(t, actors.EventMessageCreated, sink.WaitFrame(t, 1).Type)

	// Active → Expired when the token's exp passes.
	c.clock.Advance(15 * time.Minute)
	f := sink.WaitFrame(t, 2)
	require.Equal(t, agentsession.FrameSessionExpired, f.Type)
	d := data(t, f)
	assert.Equal(t, exp.Format(time.RFC3339), d["expiredAt"])
	assert.Equal(t, exp.Add(grace).Format(time.RFC3339), d["deadline"])
	waitState(t, s, agentsession.StateExpired)
	assert.Equal(t, []string{"online a1", "offline a1"}, c.presence.Calls(), "an expired session does not count as online")
	assert.False(t, c.hub.Online("a1"))

	// Expired: events are withheld; only ping and auth are answered.
	for i := range 3 {
		c.hub.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1", Data: i})
	}
	assert.Equal(t, "pong", reply(t, s, sink, `{"type":"ping"}`).Type)
	for _, in := range []string{`{"type":"read","data":{"conversationId":"c1"}}`, `{"type":"typing","data":{"conversationId":"c1"}}`} {
		got := reply(t, s, sink, in)
		require.Equal(t, "error", got.Type, "%s → %s", in, got.Data)
		assert.Equal(t, "TOKEN_EXPIRED", data(t, got)["code"])
	}
	assert.Empty(t, c.commands.Reads(), "an expired session runs no command")
	for _, f := range sink.Frames(t)[3:] {
		assert.NotEqual(t, actors.EventMessageCreated, f.Type, "no event reaches an expired session")
	}

	// A fresh token of the same user within the grace: Active again, an
	// ack, then a resync frame counting what was withheld.
	c.clock.Advance(30 * time.Second)
	newExp := c.clock.Now().Add(15 * time.Minute)
	c.commands.AddToken("fresh", sessiontest.Grant{UserID: "a1", ExpiresAt: newExp})
	n := sink.Count()
	s.Deliver([]byte(`{"type":"auth","data":{"accessToken":"fresh"}}`))
	ack := sink.WaitFrame(t, n)
	require.Equal(t, "ack", ack.Type, "%s", ack.Data)
	assert.JSONEq(t, fmt.Sprintf(`{"type":"auth","expiresAt":%q}`, newExp.Format(time.RFC3339)), string(ack.Data))
	resync := sink.WaitFrame(t, n+1)
	require.Equal(t, agentsession.FrameSessionResync, resync.Type)
	assert.JSONEq(t, fmt.Sprintf(`{"since":%q,"withheld":3}`, exp.Format(time.RFC3339)), string(resync.Data))
	assert.Equal(t, agentsession.StateActive, s.State())
	assert.Equal(t, []string{"online a1", "offline a1", "online a1"}, c.presence.Calls())

	// The old grace deadline passes: nothing happens; events flow again.
	c.clock.Advance(time.Minute)
	barrier(t, c.hub, "a1", sink, "after-grace")
	closed, _, _ := sink.CloseCode()
	assert.False(t, closed)
	assert.Equal(t, agentsession.StateActive, s.State())

	// The new token expires in its turn.
	c.clock.Advance(newExp.Sub(c.clock.Now()))
	waitState(t, s, agentsession.StateExpired)
}

func TestGracePassesAndTheSessionCloses(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	s, sink := c.open(t, user("a1", actors.RoleAgent), start.Add(time.Minute))
	c.clock.Advance(time.Minute)
	waitState(t, s, agentsession.StateExpired)
	// The state turns before its session.expired frame is written: wait for
	// the frame, so the next frame read is the answer to the auth below.
	require.Eventually(t, func() bool { return slices.Contains(sink.Types(t), agentsession.FrameSessionExpired) }, waitFor, tick)

	// A refused token keeps the session expired.
	c.commands.AddToken("other-user", sessiontest.Grant{UserID: "a2", ExpiresAt: start.Add(time.Hour)})
	got := reply(t, s, sink, `{"type":"auth","data":{"accessToken":"other-user"}}`)
	require.Equal(t, "error", got.Type)
	assert.Equal(t, "FORBIDDEN", data(t, got)["code"])
	assert.Equal(t, agentsession.StateExpired, s.State())

	c.clock.Advance(grace - time.Second)
	// A ping is answered after the timer's message (same sender, in order).
	assert.Equal(t, "pong", reply(t, s, sink, `{"type":"ping"}`).Type)
	closed, _, _ := sink.CloseCode()
	require.False(t, closed, "the grace has not passed")

	c.clock.Advance(time.Second)
	code, reason := sink.WaitClosed(t)
	assert.Equal(t, agentsession.CloseSessionExpired, code)
	assert.Equal(t, "session expired", reason)
	waitState(t, s, agentsession.StateClosed)
	assert.Equal(t, []string{"online a1", "offline a1"}, c.presence.Calls())
}

func TestEarlyAuthExtendsTheSession(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	s, sink := c.open(t, user("sup", actors.RoleSupervisor), start.Add(10*time.Minute))
	c.clock.Advance(9 * time.Minute)
	later := start.Add(30 * time.Minute)
	c.commands.AddToken("fresh", sessiontest.Grant{UserID: "sup", ExpiresAt: later})
	got := reply(t, s, sink, `{"type":"auth","data":{"accessToken":"fresh"}}`)
	require.Equal(t, "ack", got.Type, "%s", got.Data)
	assert.JSONEq(t, fmt.Sprintf(`{"type":"auth","expiresAt":%q}`, later.Format(time.RFC3339)), string(got.Data))

	c.clock.Advance(5 * time.Minute) // past the first token's expiry
	barrier(t, c.hub, "sup", sink, "still-active")
	assert.Equal(t, agentsession.StateActive, s.State())
	assert.NotContains(t, sink.Types(t), agentsession.FrameSessionExpired)
	assert.NotContains(t, sink.Types(t), agentsession.FrameSessionResync, "nothing was withheld")

	c.clock.Advance(later.Sub(c.clock.Now()))
	waitState(t, s, agentsession.StateExpired)
	assert.Equal(t, []string{"online sup", "offline sup"}, c.presence.Calls())
}

func TestAuthFrameRefusals(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	exp := start.Add(time.Hour)
	s, sink := c.open(t, user("a1", actors.RoleAgent), exp)
	c.commands.AddToken("expired", sessiontest.Grant{Err: fmt.Errorf("verify: %w", actors.ErrTokenExpired)})
	c.commands.AddToken("revoked", sessiontest.Grant{Err: fmt.Errorf("verify: %w", actors.ErrTokenRevoked)})
	c.commands.AddToken("down", sessiontest.Grant{Err: fmt.Errorf("revocations: %w", actors.ErrUnavailable)})
	c.commands.AddToken("other", sessiontest.Grant{UserID: "a2", ExpiresAt: exp.Add(time.Hour)})
	c.commands.AddToken("stale", sessiontest.Grant{UserID: "a1", ExpiresAt: start})
	cases := []struct {
		name string
		in   string
		// wantCode is the error frame's code.
		wantCode string
		// wantRefusal is the reason Refusals hears; "" when the frame is
		// no refused token (malformed, or the check could not be made).
		wantRefusal string
	}{
		{name: "unknown token", in: `{"type":"auth","data":{"accessToken":"forged"}}`, wantCode: "UNAUTHORIZED", wantRefusal: agentsession.RefusalTokenInvalid},
		{name: "expired token", in: `{"type":"auth","data":{"accessToken":"expired"}}`, wantCode: "TOKEN_EXPIRED", wantRefusal: agentsession.RefusalTokenExpired},
		{name: "revoked token", in: `{"type":"auth","data":{"accessToken":"revoked"}}`, wantCode: "TOKEN_REVOKED", wantRefusal: agentsession.RefusalTokenRevoked},
		{name: "revocation list down", in: `{"type":"auth","data":{"accessToken":"down"}}`, wantCode: "DEPENDENCY_UNAVAILABLE"},
		{name: "another user's token", in: `{"type":"auth","data":{"accessToken":"other"}}`, wantCode: "FORBIDDEN", wantRefusal: agentsession.RefusalOtherUser},
		{name: "token past its expiry", in: `{"type":"auth","data":{"accessToken":"stale"}}`, wantCode: "TOKEN_EXPIRED", wantRefusal: agentsession.RefusalTokenExpired},
		{name: "no data", in: `{"type":"auth"}`, wantCode: "VALIDATION_ERROR"},
		{name: "empty token", in: `{"type":"auth","data":{"accessToken":""}}`, wantCode: "VALIDATION_ERROR"},
		{name: "unknown field", in: `{"type":"auth","data":{"accessToken":"x","userId":"a2"}}`, wantCode: "VALIDATION_ERROR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := c.refusals.Calls()
			got := reply(t, s, sink, tc.in)
			require.Equal(t, "error", got.Type, "%s", got.Data)
			d := data(t, got)
			assert.Equal(t, tc.wantCode, d["code"])
			assert.Equal(t, "auth", d["type"])
			assert.Equal(t, agentsession.StateActive, s.State(), "a refused token changes nothing")
			heard := c.refusals.Calls()[len(before):]
			if tc.wantRefusal == "" {
				assert.Empty(t, heard, "not a refused token")
				return
			}
			assert.Equal(t, []string{"a1 192.0.2.1 " + tc.wantRefusal}, heard, "the refusal is audited with the socket's source")
		})
	}
	// The session still expires with its first token.
	c.clock.Advance(time.Hour)
	waitState(t, s, agentsession.StateExpired)
}

func TestIdleTimeoutCloses(t *testing.T) {
	const idle = 75 * time.Second
	c := newClocked(t, idle)
	s, sink := c.open(t, user("a1", actors.RoleAgent), time.Time{})

	// Pongs (Alive) and frames keep it open.
	for range 3 {
		c.clock.Advance(idle - time.Second)
		s.Alive()
	}
	c.clock.Advance(idle - time.Second)
	assert.Equal(t, "pong", reply(t, s, sink, `{"type":"ping"}`).Type)
	c.clock.Advance(idle - time.Second)
	barrier(t, c.hub, "a1", sink, "alive")
	closed, _, _ := sink.CloseCode()
	require.False(t, closed)
	require.Equal(t, agentsession.StateActive, s.State())

	// Nothing heard for the idle timeout: closed with 4002.
	c.clock.Advance(time.Second)
	code, reason := sink.WaitClosed(t)
	assert.Equal(t, agentsession.CloseIdleTimeout, code)
	assert.Equal(t, "idle timeout", reason)
	waitState(t, s, agentsession.StateClosed)
	assert.Equal(t, []string{"online a1", "offline a1"}, c.presence.Calls())
}

func TestIdleTimeoutAlsoEndsAnExpiredSession(t *testing.T) {
	c := newClocked(t, 30*time.Second)
	s, sink := c.open(t, user("a1", actors.RoleAgent), start.Add(10*time.Second))
	c.clock.Advance(10 * time.Second)
	waitState(t, s, agentsession.StateExpired)
	c.clock.Advance(20 * time.Second) // idle 30 s, before the 60 s grace
	code, _ := sink.WaitClosed(t)
	assert.Equal(t, agentsession.CloseIdleTimeout, code)
}

func TestTokenExpiredBeforeHello(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	s, sink := c.open(t, user("a1", actors.RoleAgent), start.Add(-time.Second))
	require.Equal(t, agentsession.FrameSessionExpired, sink.WaitFrame(t, 1).Type)
	waitState(t, s, agentsession.StateExpired)
	assert.Empty(t, c.presence.Calls(), "never online")
}

func TestLogoutClosesAnExpiredSession(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	s, sink := c.open(t, user("a1", actors.RoleAgent), start.Add(time.Minute))
	c.clock.Advance(time.Minute)
	waitState(t, s, agentsession.StateExpired)
	c.hub.DisconnectUser("a1", agentsession.ClosePolicyViolation, "logged out")
	code, reason := sink.WaitClosed(t)
	assert.Equal(t, agentsession.ClosePolicyViolation, code)
	assert.Equal(t, "logged out", reason)
	waitState(t, s, agentsession.StateClosed)
	c.clock.Advance(grace)
	_, code, _ = sink.CloseCode()
	assert.Equal(t, agentsession.ClosePolicyViolation, code, "the grace timer is gone")
}

func TestPresenceFollowsActiveSessions(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	short, _ := c.open(t, user("a1", actors.RoleAgent), start.Add(time.Minute))
	long, _ := c.open(t, user("a1", actors.RoleAgent), start.Add(time.Hour))
	assert.Equal(t, []string{"online a1"}, c.presence.Calls())

	c.clock.Advance(time.Minute)
	waitState(t, short, agentsession.StateExpired)
	assert.True(t, c.hub.Online("a1"), "the other session is still active")
	assert.Equal(t, []string{"online a1"}, c.presence.Calls())

	long.Closed()
	assert.False(t, c.hub.Online("a1"))
	assert.Equal(t, []string{"online a1", "offline a1"}, c.presence.Calls())
	assert.Empty(t, c.hub.OnlineUsers())
}
