package agentsocket

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors/agentsession"
)

// countingConn counts the writes that reach the connection.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// corkedPair upgrades a real loopback connection through corkingWriter and
// returns the server's conn (its writes counted) and a client reading it.
func corkedPair(t *testing.T) (*conn, *countingConn, *websocket.Conn) {
	t.Helper()
	type accepted struct {
		ws   *websocket.Conn
		cork *corkConn
	}
	got := make(chan accepted, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &corkingWriter{ResponseWriter: w}
		ws, err := websocket.Accept(cw, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		got <- accepted{ws, cw.cork}
	}))
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	require.NoError(t, err)
	client.SetReadLimit(1 << 20)
	a := <-got
	require.NotNil(t, a.cork, "the upgrade went through the cork")
	counting := &countingConn{Conn: a.cork.Conn}
	a.cork.Conn = counting // nothing was written since the 101
	sctx, scancel := context.WithCancel(context.Background())
	c := newConn(sctx, a.ws, a.cork, 10000, 5*time.Second, "a1", zap.NewNop())
	t.Cleanup(func() {
		scancel()
		_ = client.CloseNow()
		_ = a.ws.CloseNow()
		c.stop()
	})
	return c, counting, client
}

// readN reads n messages from ws.
func readN(t *testing.T, ws *websocket.Conn, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := make([]string, 0, n)
	for range n {
		_, b, err := ws.Read(ctx)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	return out
}

func TestABatchIsOneWriteOfTheFramesInOrder(t *testing.T) {
	c, counting, client := corkedPair(t)
	var frames []*agentsession.Frame
	var want []string
	for i := range 50 {
		b := fmt.Sprintf(`{"type":"message.created","data":{"n":%d}}`, i)
		frames = append(frames, agentsession.RawFrame([]byte(b)))
		want = append(want, b)
	}
	// A frame that failed to marshal is skipped, not written empty.
	frames = append(frames[:25:25], append([]*agentsession.Frame{agentsession.RawFrame(nil)}, frames[25:]...)...)

	require.NoError(t, c.writeBatch(frames))
	assert.Equal(t, 1, counting.Writes(), "50 frames, one write")
	assert.Equal(t, want, readN(t, client, 50), "each frame a message, in order")
}

func TestABatchOverTheCorkLimitIsWrittenInPieces(t *testing.T) {
	c, counting, client := corkedPair(t)
	pad := strings.Repeat("x", 40<<10)
	var frames []*agentsession.Frame
	var want []string
	for i := range 3 {
		b := fmt.Sprintf(`{"type":"message.created","data":{"n":%d,"pad":%q}}`, i, pad)
		frames = append(frames, agentsession.RawFrame([]byte(b)))
		want = append(want, b)
	}
	require.NoError(t, c.writeBatch(frames))
	// 40 KiB, then 80 KiB ≥ 64 KiB is written, then the last 40 KiB.
	assert.Equal(t, 2, counting.Writes())
	assert.Equal(t, want, readN(t, client, 3))
}

func TestPushedFramesArriveInOrderAndUncorked(t *testing.T) {
	c, _, client := corkedPair(t)
	var want []string
	for i := range 500 {
		b := fmt.Sprintf(`{"type":"message.created","data":{"n":%d}}`, i)
		require.True(t, c.Push(agentsession.RawFrame([]byte(b))))
		want = append(want, b)
	}
	assert.Equal(t, want, readN(t, client, 500))

	// Once the writer is done the connection is uncorked: a ping (written
	// by the library outside any batch) goes out and is answered.
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.writing
	}, 5*time.Second, time.Millisecond)
	go func() { _, _, _ = client.Read(context.Background()) }() // answers the ping
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _, _, _ = c.ws.Read(ctx) }() // reads the pong
	require.NoError(t, c.ws.Ping(ctx))
}
