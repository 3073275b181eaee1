package agentsocket_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/agentsocket"
)

// TestFloodClosesWith1008: a client that sends frames faster than the
// socket's bucket refills is closed with 1008 once the burst is spent; the
// frames within the burst are answered; another socket is untouched.
func TestFloodClosesWith1008(t *testing.T) {
	h := newHarness(t)
	const burst = 20
	_, url := h.serve(t, agentsocket.Options{MaxFramesPerSecond: 1, FrameBurst: burst})
	c, other := dial(t, url, "a1"), dial(t, url, "a2")
	require.Equal(t, "hello", c.next(t).Type)
	require.Equal(t, "hello", other.next(t).Type)

	for i := 0; i < burst; i++ {
		c.send(t, `{"type":"ping"}`)
	}
	for i := 0; i < burst; i++ {
		require.Equal(t, "pong", c.nextOfType(t, "pong").Type, "frame %d of the burst is answered", i)
	}
	// The flood: the writes may start failing once the server closed.
	sent := 0
	for i := 0; i < 20000; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		err := c.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","data":{"conversationId":"c1"}}`))
		cancel()
		if err != nil {
			break
		}
		sent++
	}
	code, reason := closeStatus(t, c.closed(t, waitFor))
	assert.Equal(t, websocket.StatusPolicyViolation, code)
	assert.Equal(t, agentsocket.CloseFloodReason, reason)
	t.Logf("flood frames written before the close: %d", sent)

	other.send(t, `{"type":"ping"}`)
	assert.Equal(t, "pong", other.nextOfType(t, "pong").Type, "another socket keeps working")
	require.Eventually(t, func() bool { return h.srv.Sockets() == 1 }, waitFor, tick)
}

// TestSteadyFramesBelowTheRateStayOpen: frames slower than the refill rate
// never close the socket, however many.
func TestSteadyFramesBelowTheRateStayOpen(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{MaxFramesPerSecond: 100, FrameBurst: 3})
	c := dial(t, url, "a1")
	require.Equal(t, "hello", c.next(t).Type)
	for i := 0; i < 40; i++ {
		c.send(t, `{"type":"ping"}`)
		require.Equal(t, "pong", c.nextOfType(t, "pong").Type, "frame %d", i)
		time.Sleep(20 * time.Millisecond) // 50 frames a second at most: half the rate
	}
	assert.Equal(t, 1, h.srv.Sockets())
}

// TestSocketCapPerUser: a user's socket beyond MaxSocketsPerUser is refused
// before the upgrade with 429 RATE_LIMITED and Retry-After; its open
// sockets stay; other users are not counted against it; once one closes, a
// new one is accepted.
func TestSocketCapPerUser(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{MaxSocketsPerUser: 2})
	first, second := dial(t, url, "a1"), dial(t, url, "a1")
	require.Equal(t, "hello", first.next(t).Type)
	require.Equal(t, "hello", second.next(t).Type)

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, res, err := websocket.Dial(ctx, url+"/ws?user=a1", nil)
	require.Error(t, err, "a third socket of a1")
	require.NotNil(t, res)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "5", res.Header.Get("Retry-After"))
	assert.Contains(t, res.Header.Get("Content-Type"), "application/json")
	var body struct {
		Status, Code, Message string
	}
	raw, _ := io.ReadAll(res.Body)
	require.NoError(t, json.Unmarshal(raw, &body), "%s", raw)
	assert.Equal(t, "error", body.Status)
	assert.Equal(t, "RATE_LIMITED", body.Code)
	assert.Contains(t, body.Message, "at most 2")

	for _, c := range []*client{first, second} {
		c.send(t, `{"type":"ping"}`)
		assert.Equal(t, "pong", c.nextOfType(t, "pong").Type, "the open sockets are kept")
	}
	a2 := dial(t, url, "a2")
	require.Equal(t, "hello", a2.next(t).Type, "another user is not counted against a1")

	require.NoError(t, first.ws.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool { return h.srv.Sockets() == 2 }, waitFor, tick)
	again := dial(t, url, "a1")
	require.Equal(t, "hello", again.next(t).Type, "a slot freed by a close is taken")
}
