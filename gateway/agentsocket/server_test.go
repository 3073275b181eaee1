package agentsocket_test

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

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/gateway/agentsocket"
)

func TestHelloOnConnect(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{})
	before := time.Now().UTC().Add(-time.Second)
	c := dial(t, url, "a1")

	f := c.next(t)
	require.Equal(t, "hello", f.Type)
	var hello struct {
		UserID     string    `json:"userId"`
		Role       string    `json:"role"`
		ServerTime time.Time `json:"serverTime"`
	}
	require.NoError(t, json.Unmarshal(f.Data, &hello))
	assert.Equal(t, "a1", hello.UserID)
	assert.Equal(t, "agent", hello.Role)
	assert.True(t, hello.ServerTime.After(before) && hello.ServerTime.Before(time.Now().Add(time.Second)), "serverTime %v", hello.ServerTime)
}

// eventData is the data of test events.
type eventData struct {
	N   int    `json:"n"`
	Pad string `json:"pad,omitempty"`
}

func TestEventRouting(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{})
	ids := []string{"a1", "a2", "a3", "sup", "adm"}
	clients := map[string]*client{}
	for _, id := range ids {
		clients[id] = dial(t, url, id)
		require.Equal(t, "hello", clients[id].next(t).Type)
	}

	events := []actors.Event{
		{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1"},
		{Type: actors.EventConversationAssigned, ConversationID: "c2", AssigneeID: "a2", PreviousAssigneeID: "a1"},
		{Type: actors.EventConversationUpdated, ConversationID: "c3"},
		{Type: actors.EventNotification, ConversationID: "c1", AssigneeID: "a1", UserID: "a1"},
		{Type: actors.EventNotification, ConversationID: "c2", AssigneeID: "a2", UserID: "a2"},
		{Type: actors.EventNotification, UserID: "sup"},
		{Type: actors.EventMessageStatus, ConversationID: "c4", AssigneeID: "sup"},
		{Type: actors.EventMessageCreated, ConversationID: "c5", AssigneeID: "a3", PreviousAssigneeID: "a3"},
	}
	// want lists, per user, the events (by index) it sees, in order.
	want := map[string][]int{
		"a1":  {0, 1, 3},
		"a2":  {1, 4},
		"a3":  {7},
		"sup": {0, 1, 2, 5, 6, 7},
		"adm": {0, 1, 2, 6, 7},
	}
	for i, ev := range events {
		ev.Data = eventData{N: i}
		h.hub.Publish(ev)
	}
	// A barrier per user: one publisher's events arrive in order.
	for _, id := range ids {
		h.hub.Publish(actors.Event{Type: actors.EventNotification, UserID: id, Data: eventData{N: -1}})
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			var got []int
			for {
				f := clients[id].next(t)
				var d eventData
				require.NoError(t, json.Unmarshal(f.Data, &d), "frame %s %s", f.Type, f.Data)
				if d.N == -1 {
					break
				}
				assert.Equal(t, events[d.N].Type, f.Type)
				got = append(got, d.N)
			}
			assert.Equal(t, want[id], got)
		})
	}
}

func TestSeveralSocketsOfOneAgentAllReceive(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{})
	var sockets []*client
	for range 3 {
		c := dial(t, url, "a1")
		require.Equal(t, "hello", c.next(t).Type)
		sockets = append(sockets, c)
	}
	h.hub.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1", Data: eventData{N: 7}})
	h.hub.Publish(actors.Event{Type: actors.EventNotification, UserID: "a1", Data: eventData{N: 8}})
	for i, c := range sockets {
		f := c.next(t)
		assert.Equal(t, actors.EventMessageCreated, f.Type, "socket %d", i)
		assert.JSONEq(t, `{"n":7}`, string(f.Data))
		f = c.next(t)
		assert.Equal(t, actors.EventNotification, f.Type, "socket %d", i)
		assert.JSONEq(t, `{"n":8}`, string(f.Data))
	}
}

func TestPresenceWithSeveralSockets(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{})
	first := dial(t, url, "a1")
	second := dial(t, url, "a1")
	other := dial(t, url, "a2")
	for _, c := range []*client{first, second, other} {
		require.Equal(t, "hello", c.next(t).Type)
	}
	require.Eventually(t, func() bool { return len(h.presence.Calls()) == 2 }, waitFor, tick)
	assert.ElementsMatch(t, []string{"online a1", "online a2"}, h.presence.Calls())
	assert.True(t, h.hub.Online("a1") && h.hub.Online("a2"), "both users online")

	require.NoError(t, first.ws.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool { return h.srv.Sockets() == 2 }, waitFor, tick, "the socket ends after the client closed")
	assert.True(t, h.hub.Online("a1"), "a1 still has a socket")
	assert.NotContains(t, h.presence.Calls(), "offline a1")

	require.NoError(t, second.ws.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool { return h.srv.Sockets() == 1 }, waitFor, tick)
	assert.False(t, h.hub.Online("a1"))
	assert.Equal(t, "offline a1", h.presence.Calls()[2])
	assert.Len(t, h.presence.Calls(), 3)
	assert.True(t, h.hub.Online("a2"), "a2 still online")
}

func TestPingPong(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{})
	c := dial(t, url, "a1")
	require.Equal(t, "hello", c.next(t).Type)

	c.send(t, `{"type":"ping"}`)
	f := c.next(t)
	require.Equal(t, "pong", f.Type)
	var pong struct {
		ServerTime time.Time `json:"serverTime"`
	}
	require.NoError(t, json.Unmarshal(f.Data, &pong))
	assert.False(t, pong.ServerTime.IsZero())
}

func TestReadCallsCommandsAndAcks(t *testing.T) {
	h := newHarness(t)
	h.commands.SetReadErr("c-gone", fmt.Errorf("mark read c-gone: %w", actors.ErrNotFound))
	h.commands.AddConversation(actors.Conversation{ID: "c-42", AssigneeID: "a2"})
	_, url := h.serve(t, agentsocket.Options{})
	c := dial(t, url, "a2")
	require.Equal(t, "hello", c.next(t).Type)

	c.send(t, `{"type":"read","data":{"conversationId":"c-42"}}`)
	f := c.next(t)
	require.Equal(t, "ack", f.Type)
	assert.JSONEq(t, `{"type":"read","conversationId":"c-42"}`, string(f.Data))
	assert.Equal(t, []string{"a2/c-42"}, h.commands.Reads())

	c.send(t, `{"type":"read","data":{"conversationId":"c-gone"}}`)
	f = c.next(t)
	require.Equal(t, "error", f.Type)
	assert.JSONEq(t, `{"code":"NOT_FOUND","message":"conversation not found","type":"read","conversationId":"c-gone"}`, string(f.Data))

	c.send(t, `{"type":"typing","data":{"conversationId":"c-42"}}`)
	f = c.next(t)
	require.Equal(t, "ack", f.Type)
	assert.JSONEq(t, `{"type":"typing","conversationId":"c-42"}`, string(f.Data))
	assert.Equal(t, []string{"a2/c-42", "a2/c-gone"}, h.commands.Reads(), "typing marks nothing read")
}

func TestMalformedFramesKeepTheSocketOpen(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{})
	c := dial(t, url, "a1")
	require.Equal(t, "hello", c.next(t).Type)

	cases := []struct {
		name     string
		in       string
		wantCode string
	}{
		{name: "not JSON", in: `{"type":"ping"`, wantCode: "INVALID_JSON"},
		{name: "unknown type", in: `{"type":"dance","data":{}}`, wantCode: "VALIDATION_ERROR"},
		{name: "read without conversation", in: `{"type":"read","data":{}}`, wantCode: "VALIDATION_ERROR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.send(t, tc.in)
			f := c.next(t)
			require.Equal(t, "error", f.Type)
			var e struct{ Code, Message string }
			require.NoError(t, json.Unmarshal(f.Data, &e))
			assert.Equal(t, tc.wantCode, e.Code)
			assert.NotEmpty(t, e.Message)

			c.send(t, `{"type":"ping"}`)
			assert.Equal(t, "pong", c.next(t).Type, "the socket still works")
		})
	}
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{})
	c := dial(t, url, "a1")
	require.Equal(t, "hello", c.next(t).Type)

	c.send(t, `{"type":"ping","data":{"pad":"`+strings.Repeat("x", agentsession.MaxFrameSize)+`"}}`)
	code, _ := closeStatus(t, c.closed(t, waitFor))
	assert.Equal(t, websocket.StatusMessageTooBig, code)
	require.Eventually(t, func() bool { return !h.hub.Online("a1") }, waitFor, tick)
}

func TestDisconnectUserClosesWith1008(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{})
	a1a, a1b, a2 := dial(t, url, "a1"), dial(t, url, "a1"), dial(t, url, "a2")
	for _, c := range []*client{a1a, a1b, a2} {
		require.Equal(t, "hello", c.next(t).Type)
	}

	h.hub.DisconnectUser("a1", agentsession.ClosePolicyViolation, "session revoked")
	for _, c := range []*client{a1a, a1b} {
		code, reason := closeStatus(t, c.closed(t, time.Second))
		assert.Equal(t, websocket.StatusPolicyViolation, code)
		assert.Equal(t, "session revoked", reason)
	}
	require.Eventually(t, func() bool { return !h.hub.Online("a1") }, waitFor, tick)
	require.Eventually(t, func() bool { return h.srv.Sockets() == 1 }, waitFor, tick)

	a2.send(t, `{"type":"ping"}`)
	assert.Equal(t, "pong", a2.next(t).Type, "other users keep their sockets")
}

func TestSlowClientIsClosedWithoutSlowingOthers(t *testing.T) {
	const events = 1000
	h := newHarness(t)
	_, slowURL := h.serve(t, agentsocket.Options{BufferSize: 8})
	_, fastURL := h.serve(t, agentsocket.Options{BufferSize: 2 * events})

	slow := dialSilent(t, slowURL, "sup") // never reads while events flow
	require.Eventually(t, func() bool { return h.hub.Online("sup") }, waitFor, tick)
	fast := dial(t, fastURL, "adm")
	require.Equal(t, "hello", fast.next(t).Type)

	// The fast client counts events as they arrive.
	type result struct {
		got  []int
		last time.Time
		err  error
	}
	results := make(chan result, 1)
	go func() {
		var r result
		defer func() { results <- r }()
		for len(r.got) < events {
			select {
			case b := <-fast.frames:
				var n int
				if n, r.err = eventNumber(b); r.err != nil {
					return
				}
				r.got = append(r.got, n)
			case <-time.After(5 * time.Second):
				r.err = fmt.Errorf("stalled after %d events", len(r.got))
				return
			}
		}
		r.last = time.Now()
	}()

	pad := strings.Repeat("p", 16<<10) // 1000 × 16 KiB overflows the slow client's TCP buffers
	start := time.Now()
	for i := range events {
		h.hub.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", Data: eventData{N: i, Pad: pad}})
	}
	// Every Publish returned while the slow client reads nothing: Publish
	// never waits for a socket (how long it took is logged, not asserted).
	published := time.Since(start)

	r := <-results
	require.NoError(t, r.err)
	require.Len(t, r.got, events)
	for i, n := range r.got {
		require.Equal(t, i, n, "fast client order")
	}
	// The fast client got every event while the slow one still read
	// nothing (it starts reading only now).

	slow.startReading(t)
	code, reason := closeStatus(t, slow.closed(t, 15*time.Second))
	assert.Equal(t, websocket.StatusTryAgainLater, code)
	assert.Equal(t, "client too slow", reason)
	require.Eventually(t, func() bool { return !h.hub.Online("sup") }, waitFor, tick)
	assert.True(t, h.hub.Online("adm"), "the fast client stays")
	t.Logf("published %d events in %v; fast client done after %v", events, published, r.last.Sub(start))
}

func TestClientThatAnswersNoPingIsClosedWhenIdle(t *testing.T) {
	h := newHarnessWith(t, agentsession.Options{IdleTimeout: 300 * time.Millisecond})
	_, url := h.serve(t, agentsocket.Options{PingInterval: 20 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	silent := dialSilent(t, url, "a1") // reads nothing, so never answers pings
	live := dial(t, url, "a2")         // reads continuously, so answers pings
	require.Equal(t, "hello", live.next(t).Type)
	require.Eventually(t, func() bool { return h.hub.Online("a1") }, waitFor, tick)

	require.Eventually(t, func() bool { return !h.hub.Online("a1") }, waitFor, tick, "the silent client goes offline")
	assert.Contains(t, h.presence.Calls(), "offline a1")
	silent.startReading(t)
	code, reason := closeStatus(t, silent.closed(t, waitFor))
	assert.Equal(t, websocket.StatusCode(agentsession.CloseIdleTimeout), code)
	assert.Equal(t, "idle timeout", reason)
	require.Eventually(t, func() bool { return h.srv.Sockets() == 1 }, waitFor, tick)

	// The live client answered its pings through the same idle timeout.
	live.send(t, `{"type":"ping"}`)
	assert.Equal(t, "pong", live.nextOfType(t, "pong").Type)
	assert.True(t, h.hub.Online("a2"))
}

func TestShutdownClosesWith1001(t *testing.T) {
	h := newHarness(t)
	srv, url := h.serve(t, agentsocket.Options{})
	clients := []*client{dial(t, url, "a1"), dial(t, url, "sup")}
	for _, c := range clients {
		require.Equal(t, "hello", c.next(t).Type)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	// A socket closes its session before it ends, so once Shutdown has
	// waited for every socket nobody is online any more.
	assert.False(t, h.hub.Online("a1") || h.hub.Online("sup"), "Shutdown returns after every socket ended")
	assert.ElementsMatch(t, []string{"online a1", "online sup", "offline a1", "offline sup"}, h.presence.Calls())
	for _, c := range clients {
		code, reason := closeStatus(t, c.closed(t, waitFor))
		assert.Equal(t, websocket.StatusGoingAway, code)
		assert.Equal(t, "server shutting down", reason)
	}
	assert.Zero(t, srv.Sockets())

	dctx, dcancel := context.WithTimeout(context.Background(), waitFor)
	defer dcancel()
	_, resp, err := websocket.Dial(dctx, url+"/ws?user=a1", nil)
	require.Error(t, err, "new sockets are refused")
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	require.NoError(t, srv.Shutdown(ctx), "twice is fine")
}

// eventNumber reads data.n of a test event frame, decoding only up to it
// (the pad after it is large).
func eventNumber(b []byte) (int, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	want := []json.Token{json.Delim('{'), "type", actors.EventMessageCreated, "data", json.Delim('{'), "n"}
	for _, w := range want {
		tok, err := d.Token()
		if err != nil {
			return 0, fmt.Errorf("frame %.80s: %w", b, err)
		}
		if tok != w {
			return 0, fmt.Errorf("frame %.80s: got %v, want %v", b, tok, w)
		}
	}
	var n int
	if err := d.Decode(&n); err != nil {
		return 0, fmt.Errorf("frame %.80s: %w", b, err)
	}
	return n, nil
}
