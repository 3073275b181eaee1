package agentsocket_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/agentsession/sessiontest"
	"github.com/wacc/engine/gateway/agentsocket"
)

// epoch is the fake clock's origin; tokens expire relative to it.
var epoch = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

func dataOf(t *testing.T, f frame) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(f.Data, &m), "data %s", f.Data)
	return m
}

// TestSessionExpiresAndComesBackOverTheSocket runs a session through
// Active, Expired, Active and Closed over a real socket, on a fake clock.
func TestSessionExpiresAndComesBackOverTheSocket(t *testing.T) {
	clock := sessiontest.NewClock(epoch)
	h := newHarnessWith(t, agentsession.Options{Clock: clock, Grace: time.Minute, IdleTimeout: 24 * time.Hour})
	_, url := h.serve(t, agentsocket.Options{})
	exp := epoch.Add(15 * time.Minute)
	c := dialExpiring(t, url, "a1", exp)
	hello := c.next(t)
	require.Equal(t, "hello", hello.Type)
	assert.Equal(t, exp.Format(time.RFC3339), dataOf(t, hello)["expiresAt"])
	require.Eventually(t, func() bool { return h.hub.Online("a1") }, waitFor, tick)

	// Active → Expired.
	clock.Advance(15 * time.Minute)
	f := c.next(t)
	require.Equal(t, agentsession.FrameSessionExpired, f.Type)
	assert.Equal(t, exp.Add(time.Minute).Format(time.RFC3339), dataOf(t, f)["deadline"])
	require.Eventually(t, func() bool { return !h.hub.Online("a1") }, waitFor, tick)

	// Withheld while expired.
	h.hub.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1", Data: eventData{N: 1}})
	c.send(t, `{"type":"read","data":{"conversationId":"c1"}}`)
	f = c.next(t)
	require.Equal(t, "error", f.Type, "the event was withheld: the next frame answers the read")
	assert.Equal(t, "TOKEN_EXPIRED", dataOf(t, f)["code"])

	// A fresh token: ack, resync, events again.
	newExp := clock.Now().Add(15 * time.Minute)
	h.commands.AddToken("fresh", sessiontest.Grant{UserID: "a1", ExpiresAt: newExp})
	c.send(t, `{"type":"auth","data":{"accessToken":"fresh"}}`)
	f = c.next(t)
	require.Equal(t, "ack", f.Type, "%s", f.Data)
	assert.JSONEq(t, fmt.Sprintf(`{"type":"auth","expiresAt":%q}`, newExp.Format(time.RFC3339)), string(f.Data))
	f = c.next(t)
	require.Equal(t, agentsession.FrameSessionResync, f.Type)
	assert.EqualValues(t, 1, dataOf(t, f)["withheld"])
	assert.True(t, h.hub.Online("a1"))
	h.hub.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1", Data: eventData{N: 2}})
	f = c.next(t)
	require.Equal(t, actors.EventMessageCreated, f.Type)
	assert.JSONEq(t, `{"n":2}`, string(f.Data))

	// Expired again, and the grace passes: 4001.
	clock.Advance(15 * time.Minute)
	require.Equal(t, agentsession.FrameSessionExpired, c.next(t).Type)
	clock.Advance(time.Minute)
	code, reason := closeStatus(t, c.closed(t, waitFor))
	assert.Equal(t, websocket.StatusCode(agentsession.CloseSessionExpired), code)
	assert.Equal(t, "session expired", reason)
	require.Eventually(t, func() bool { return h.srv.Sockets() == 0 }, waitFor, tick)
	assert.Equal(t, []string{"online a1", "offline a1", "online a1", "offline a1"}, h.presence.Calls())
}

func TestTypingIsRelayedOverTheSocket(t *testing.T) {
	h := newHarness(t)
	h.commands.AddConversation(actors.Conversation{ID: "c1", AssigneeID: "a1"})
	_, url := h.serve(t, agentsocket.Options{})
	typer, peer, sup, other := dial(t, url, "a1"), dial(t, url, "a1"), dial(t, url, "sup"), dial(t, url, "a2")
	for _, c := range []*client{typer, peer, sup, other} {
		require.Equal(t, "hello", c.next(t).Type)
	}

	typer.send(t, `{"type":"typing","data":{"conversationId":"c1"}}`)
	f := typer.next(t)
	require.Equal(t, "ack", f.Type)
	assert.JSONEq(t, `{"type":"typing","conversationId":"c1"}`, string(f.Data))
	f = sup.next(t)
	require.Equal(t, "typing", f.Type)
	assert.JSONEq(t, `{"conversationId":"c1","userId":"a1"}`, string(f.Data))

	other.send(t, `{"type":"typing","data":{"conversationId":"c1"}}`)
	f = other.next(t)
	require.Equal(t, "error", f.Type)
	assert.JSONEq(t, `{"code":"NOT_FOUND","message":"conversation not found","type":"typing","conversationId":"c1"}`, string(f.Data))

	// Neither the typer's other socket nor a2 got anything: their next
	// frame is the answer to a ping.
	for _, c := range []*client{peer, other, typer} {
		c.send(t, `{"type":"ping"}`)
		assert.Equal(t, "pong", c.next(t).Type)
	}
}
