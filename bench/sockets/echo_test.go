package sockets

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFleetOverCyclingDialer opens sockets on the in-process echo server
// from two source addresses, checks frames reach the fleet's handler and
// that close leaves nothing open.
func TestFleetOverCyclingDialer(t *testing.T) {
	srv, err := newEchoServer()
	require.NoError(t, err)
	defer srv.close()
	addrs, err := sourceAddrs(2)
	require.NoError(t, err)
	var frames atomic.Int64
	fl := newFleet("ws://"+srv.addr()+"/", socketClient(newCyclingDialer(addrs, 5*time.Second)), func(int, []byte) { frames.Add(1) })
	rec := newRecorder(time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, fl.open(ctx, 0, 20, 4, func(int) string { return "" }, false, rec))
	assert.Equal(t, int64(20), fl.opened.Load())
	assert.Equal(t, int64(0), fl.failed.Load())
	assert.Equal(t, int64(20), rec.count(), "one connect time per socket")

	// Each socket's echo comes back through its reader.
	fl.mu.Lock()
	conns := append([]*websocket.Conn(nil), fl.conns...)
	fl.mu.Unlock()
	for _, c := range conns {
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)))
	}
	require.Eventually(t, func() bool { return frames.Load() == 20 }, 10*time.Second, 10*time.Millisecond)
	fl.close()
	assert.Equal(t, int64(0), fl.closedEarly.Load(), "closing the fleet is not an early close")
}

// TestFleetCountsRefusedDialsAndEarlyCloses: a server answering 401
// fails every dial; a server closing sockets counts them as closed early.
func TestFleetCountsRefusedDialsAndEarlyCloses(t *testing.T) {
	refused := newTestHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	fl := newFleet("ws://"+refused+"/ws", socketClient(newCyclingDialer(nil, 5*time.Second)), nil)
	require.NoError(t, fl.open(context.Background(), 0, 3, 2, func(int) string { return "tok" }, true, nil))
	assert.Equal(t, int64(3), fl.failed.Load())
	assert.Contains(t, fl.lastError(), "status 401")
	fl.close()

	closing := newTestHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = c.Write(r.Context(), websocket.MessageText, []byte(`{"type":"hello","data":{}}`))
		_ = c.Close(websocket.StatusTryAgainLater, "slow")
	}))
	fl = newFleet("ws://"+closing+"/ws", socketClient(newCyclingDialer(nil, 5*time.Second)), nil)
	require.NoError(t, fl.open(context.Background(), 0, 3, 3, func(int) string { return "" }, true, nil))
	assert.Equal(t, int64(3), fl.opened.Load())
	require.Eventually(t, func() bool { return fl.closedEarly.Load() == 3 }, 10*time.Second, 10*time.Millisecond)
	fl.close()
}

// TestEchoPeerChild runs the echo server as a child (this test binary,
// through TestMain) and reads its RSS growth.
func TestEchoPeerChild(t *testing.T) {
	var lines []string
	res, err := EchoPeer(context.Background(), SocketsOptions{Sockets: 50, ConnectConcurrency: 8, Hold: 50 * time.Millisecond},
		func(s string) { lines = append(lines, s) })
	require.NoError(t, err)
	assert.Equal(t, "echo-child", res.Variant)
	assert.Equal(t, int64(50), res.Ops)
	assert.Zero(t, res.Errors)
	assert.Greater(t, res.Throughput, 0.0)
	assert.Greater(t, res.P50, time.Duration(0))
	assert.Contains(t, res.Extra, "rss_bytes_per_socket")
	assert.Greater(t, res.Extra["server_rss_bytes"], float64(1<<20))
	assert.Equal(t, 50.0, res.Extra["sockets_open"])
	assert.NotEmpty(t, lines)
}

// TestEchoPeerInProcess: without ServeEchoChild in main the server runs in
// this process and says so.
func TestEchoPeerInProcess(t *testing.T) {
	echoChildWired.Store(false)
	defer echoChildWired.Store(true)
	res, err := EchoPeer(context.Background(), SocketsOptions{Sockets: 20, ConnectConcurrency: 4, Hold: 20 * time.Millisecond}, nil)
	require.NoError(t, err)
	assert.Equal(t, "echo-inprocess", res.Variant)
	assert.Equal(t, 1.0, res.Extra["in_process"])
	assert.Equal(t, int64(20), res.Ops)
	assert.Zero(t, res.Errors)
	assert.Contains(t, res.Extra, "rss_bytes_per_socket")
}
