package sockets

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSocketIOFleetAnswersPingsAndDeliversEvents opens Socket.IO sockets
// on the fake server, which pings every 20 ms: every ping is answered
// with a pong, and an injected event reaches the agent's and the
// supervisor's sockets as its JSON array.
func TestSocketIOFleetAnswersPingsAndDeliversEvents(t *testing.T) {
	f := newFakeSocketIO(t, 20*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tokens, sup, err := socketIOTokens(f.peer(), 2)
	require.NoError(t, err)
	url, err := socketIOURL(f.srv.URL)
	require.NoError(t, err)

	var toAgent, toSupervisor atomic.Int64
	fl := newSocketIOFleet(url, socketClient(newCyclingDialer(nil, 5*time.Second)), func(i int, payload []byte) {
		if _, _, ok := parseMarker(payload); !ok {
			return
		}
		if i == 0 {
			toSupervisor.Add(1)
		} else {
			toAgent.Add(1)
		}
	})
	require.NoError(t, fl.open(ctx, 0, 3, 3, func(i int) string {
		if i == 0 {
			return sup
		}
		return tokens[i-1]
	}, true, nil))
	require.Equal(t, int64(3), fl.opened.Load(), fl.lastError())

	require.Eventually(t, func() bool { return f.pongs.Load() >= 9 }, 10*time.Second, 10*time.Millisecond, "three pongs per socket")

	client := newEngineClient(Target{BaseURL: f.srv.URL}, 2)
	defer client.close()
	st, err := client.postJSON(ctx, "/inject", socketIOInject("r", socketIOAgent(1), 1, 7, time.Now()), "")
	require.NoError(t, err)
	require.Equal(t, 200, st)
	require.Eventually(t, func() bool { return toAgent.Load() == 1 && toSupervisor.Load() == 1 }, 10*time.Second, 10*time.Millisecond)

	fl.close()
	assert.Zero(t, fl.closedEarly.Load())
	f.requireOnlyPongs()
}

// TestSocketIOFleetCountsRefusalsAndDisconnects: a token signed with
// another secret is refused with CONNECT_ERROR (a failed dial), and a
// namespace DISCONNECT from the server ends the socket (an early close).
func TestSocketIOFleetCountsRefusalsAndDisconnects(t *testing.T) {
	f := newFakeSocketIO(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, err := socketIOURL(f.srv.URL)
	require.NoError(t, err)

	forged, err := socketIOToken("not-the-secret", "agent-0", "agent")
	require.NoError(t, err)
	fl := newSocketIOFleet(url, socketClient(newCyclingDialer(nil, 5*time.Second)), nil)
	require.NoError(t, fl.open(ctx, 0, 2, 2, func(int) string { return forged }, true, nil))
	assert.Equal(t, int64(2), fl.failed.Load())
	assert.Contains(t, fl.lastError(), ErrSocketIORefused.Error())
	fl.close()

	good, _, err := socketIOTokens(f.peer(), 1)
	require.NoError(t, err)
	fl = newSocketIOFleet(url, socketClient(newCyclingDialer(nil, 5*time.Second)), nil)
	require.NoError(t, fl.open(ctx, 0, 2, 2, func(int) string { return good[0] }, true, nil))
	require.Equal(t, int64(2), fl.opened.Load(), fl.lastError())
	f.disconnectAll(ctx)
	require.Eventually(t, func() bool { return fl.closedEarly.Load() == 2 }, 10*time.Second, 10*time.Millisecond)
	fl.close()
}

// TestFanoutSocketIOOnFakePeer runs the Socket.IO fan-out against the
// fake peer: every measured inject reaches its agent's sockets and the
// supervisor's, and nothing is lost.
func TestFanoutSocketIOOnFakePeer(t *testing.T) {
	f := newFakeSocketIO(t, 50*time.Millisecond)
	var lines []string
	res, err := FanoutSocketIO(context.Background(), f.peer(), FanoutOptions{Agents: 6, Users: 3, Rate: 100,
		Duration: 500 * time.Millisecond, Warmup: 200 * time.Millisecond, Senders: 4, ConnectConcurrency: 4, Drain: 5 * time.Second},
		func(s string) { lines = append(lines, s) })
	require.NoError(t, err)
	assert.Equal(t, "socket.io", res.Variant)
	x := res.Extra
	require.Greater(t, x["sent"], 0.0)
	assert.Zero(t, x["lost_frames"], "%v", lines)
	assert.Zero(t, x["inject_errors"])
	assert.Zero(t, x["sockets_failed"])
	// Each message: the 2 sockets of its agent and the supervisor's.
	assert.Equal(t, 3*x["sent"], x["expected_frames"])
	assert.Equal(t, int64(x["expected_frames"]), res.Ops)
	assert.Zero(t, res.Errors)
	assert.Contains(t, x, "inject_p99_ms")
	assert.Equal(t, 7, f.sockets(), "6 agents and the supervisor")
	assert.Greater(t, f.injected.Load(), int64(x["sent"]), "the warm-up's injects come on top of the measured ones")
	f.requireOnlyPongs()
}

// TestSocketIOSocketsOnFakePeer holds idle authenticated sockets on the
// fake peer, answering its pings meanwhile.
func TestSocketIOSocketsOnFakePeer(t *testing.T) {
	f := newFakeSocketIO(t, 20*time.Millisecond)
	res, err := SocketIOSockets(context.Background(), f.peer(), SocketsOptions{Sockets: 20, Users: 5, ConnectConcurrency: 4, Hold: 100 * time.Millisecond}, nil)
	require.NoError(t, err)
	assert.Equal(t, "socket.io", res.Variant)
	assert.Equal(t, int64(20), res.Ops)
	assert.Zero(t, res.Errors)
	assert.Equal(t, 20.0, res.Extra["sockets_open"])
	assert.Greater(t, f.pongs.Load(), int64(0))
	f.requireOnlyPongs()
}
