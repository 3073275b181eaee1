//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raiseFileLimit lifts the test process's open-file limit to at least n
// (sockets are files).
func raiseFileLimit(t *testing.T, n uint64) {
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(n, lim.Max)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	require.GreaterOrEqual(t, lim.Cur, n, "open-file limit")
}

// fanoutClient is one socket counting the message.created frames of the
// test's messages by wamid.
type fanoutClient struct {
	conn   *websocket.Conn
	mu     sync.Mutex
	seen   map[string]int
	closed chan websocket.StatusCode
}

func dialSocket(ctx context.Context, p *proc, token string, opts *websocket.DialOptions) (*websocket.Conn, error) {
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.HTTPHeader = http.Header{"Authorization": []string{"Bearer " + token}}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.url, "http")+"/ws", opts)
	if err == nil {
		c.SetReadLimit(1 << 20)
	}
	return c, err
}

func (c *fanoutClient) read(prefix string) {
	for {
		_, raw, err := c.conn.Read(context.Background())
		if err != nil {
			c.closed <- websocket.CloseStatus(err)
			return
		}
		// message.created carries the message object as its data.
		var f struct {
			Type string `json:"type"`
			Data struct {
				WaMessageID string `json:"waMessageId"`
			} `json:"data"`
		}
		if json.Unmarshal(raw, &f) == nil && f.Type == "message.created" && strings.HasPrefix(f.Data.WaMessageID, prefix) {
			c.mu.Lock()
			c.seen[f.Data.WaMessageID]++
			c.mu.Unlock()
		}
	}
}

// Test55_TwoThousandSocketsFanOut: 2000 sockets of supervisors (who see
// every conversation) while customers write: each message reaches each
// socket exactly once; the engine's memory and goroutines per socket are
// reported. Then a client that stops reading, among readers, while large
// messages flow: it is closed with 1013 once its buffer fills, and the
// readers get every message.
func Test55_TwoThousandSocketsFanOut(t *testing.T) {
	t.Parallel()
	r := covers(t, 55)
	raiseFileLimit(t, 8192)
	// SOCKET_BUFFER 256; perUser sockets of each user.
	p := start(t, map[string]string{"WS_MAX_SOCKETS_PER_USER": "20"})
	admin := p.admin()
	const users, perUser, sockets = 100, 20, 2000
	tokens := make([]string, users)
	for i := range tokens {
		email := fmt.Sprintf("sup55-%d@example.com", i)
		st, body := p.api("POST", "/api/auth/register", "", map[string]any{"email": email, "password": "long-password-1", "name": "Supervisor"})
		require.Equal(t, 201, st, body)
		id := body["data"].(map[string]any)["user"].(map[string]any)["id"].(string)
		st, body = p.api("PATCH", "/api/users/"+id+"/role", admin, map[string]any{"role": "supervisor"})
		require.Equal(t, 200, st, body)
		// A role change ends the user's older tokens (line 26).
		tokens[i] = p.login(email, "long-password-1")
	}
	base, err := scrape(http.DefaultClient, p.metricsURL(), "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines")
	require.NoError(t, err)

	clients := make([]*fanoutClient, sockets)
	var dialErrs atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	began := time.Now()
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := dialSocket(ctx, p, tokens[i%users], nil)
			if err != nil {
				dialErrs.Add(1)
				return
			}
			fc := &fanoutClient{conn: c, seen: map[string]int{}, closed: make(chan websocket.StatusCode, 1)}
			clients[i] = fc
			go fc.read("wamid.f55.")
		}(i)
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range clients {
			if c != nil {
				_ = c.conn.CloseNow()
			}
		}
	})
	r.timing("time_to_open_2000", time.Since(began))
	require.Zero(t, dialErrs.Load(), "every socket opened")
	time.Sleep(2 * time.Second)
	open, err := scrape(http.DefaultClient, p.metricsURL(), "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines")
	require.NoError(t, err)
	// Heap and goroutine stacks in use are what a socket costs the Go
	// runtime; RSS moves with the GC's returns to the OS and is only shown.
	delta := func(k string) float64 { return open[k] - base[k] }
	perConnKiB := (delta("go_memstats_heap_inuse_bytes") + delta("go_memstats_stack_inuse_bytes")) / sockets / 1024
	goroutinesPerConn := delta("go_goroutines") / sockets
	t.Logf("per socket: heap+stacks %.1f KiB (RSS delta %.1f KiB), %.2f goroutines", perConnKiB,
		delta("process_resident_memory_bytes")/sockets/1024, goroutinesPerConn)
	r.count("heap_and_stack_per_socket_kib", int(perConnKiB+0.5))
	r.count("goroutines_per_socket_x100", int(goroutinesPerConn*100))
	assert.Less(t, perConnKiB, 256.0, "memory per socket is bounded")
	assert.Less(t, goroutinesPerConn, 4.0, "goroutines per socket are bounded")

	// Customers write: each message to each socket once.
	const msgs = 10
	var wamids []string
	for i := 0; i < msgs; i++ {
		w := fmt.Sprintf("wamid.f55.%02d", i)
		wamids = append(wamids, w)
		require.Equal(t, 200, p.webhook(textBody(wcPhoneID, fmt.Sprintf("1415555%04d", 5500+i%3), w, "fan-out", time.Now())))
	}
	complete := func(c *fanoutClient) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.seen) == msgs
	}
	began = time.Now()
	require.Eventually(t, func() bool {
		for _, c := range clients {
			if !complete(c) {
				return false
			}
		}
		return true
	}, 60*time.Second, 200*time.Millisecond, "every socket gets every message")
	r.timing("time_to_deliver_to_all", time.Since(began))
	time.Sleep(time.Second)
	missing, dup := 0, 0
	for _, c := range clients {
		c.mu.Lock()
		for _, w := range wamids {
			switch n := c.seen[w]; {
			case n == 0:
				missing++
			case n > 1:
				dup += n - 1
			}
		}
		c.mu.Unlock()
	}
	r.count("sockets", sockets)
	r.count("frames_expected", sockets*msgs)
	r.count("lost", missing)
	r.count("duplicated", dup)
	assert.Zero(t, missing)
	assert.Zero(t, dup, "a message reached a socket twice")
	for _, c := range clients[20:] {
		_ = c.conn.Close(websocket.StatusNormalClosure, "")
	}
	readers := clients[:20]

	// A client that stops reading, with a small receive buffer, among the
	// 20 readers left, while 600 messages of 16 KiB flow: more than its
	// buffer (256 frames) and the kernel's socket buffers hold.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	slow, err := dialSocket(ctx, p, tokens[0], &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}})
	require.NoError(t, err)
	const big = 600
	text := strings.Repeat("x", 16<<10)
	for i := 0; i < big; i++ {
		w := fmt.Sprintf("wamid.f55.big%03d", i)
		require.Equal(t, 200, p.webhook(textBody(wcPhoneID, "14155555599", w, text, time.Now())))
	}
	require.Eventually(t, func() bool {
		for _, c := range readers {
			c.mu.Lock()
			n := len(c.seen)
			c.mu.Unlock()
			if n != msgs+big {
				return false
			}
		}
		return true
	}, 90*time.Second, 200*time.Millisecond, "the readers get every message while a client does not read: %s", readerState(readers))
	// The slow client, read now, ends with 1013 after what was buffered.
	code := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := slow.Read(context.Background()); err != nil {
				code <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	select {
	case c := <-code:
		assert.Equal(t, websocket.StatusTryAgainLater, c, "the client that stopped reading is closed with 1013")
	case <-time.After(30 * time.Second):
		t.Error("the client that stopped reading was never dropped")
	}
	r.count("slow_clients_dropped", 1)
	for _, c := range readers {
		select {
		case st := <-c.closed:
			t.Errorf("a reader was closed (%d) alongside the slow client", st)
		default:
		}
	}
}

// readerState describes what each reader saw, for a failure message.
func readerState(cs []*fanoutClient) string {
	var parts []string
	for _, c := range cs {
		c.mu.Lock()
		n := len(c.seen)
		c.mu.Unlock()
		st := "open"
		select {
		case code := <-c.closed:
			st = fmt.Sprintf("closed %d", code)
			c.closed <- code
		default:
		}
		parts = append(parts, fmt.Sprintf("%d (%s)", n, st))
	}
	return strings.Join(parts, ", ")
}
