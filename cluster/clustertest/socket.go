package clustertest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Frame is one frame an agent socket got.
type Frame struct {
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
	Cursor string          `json:"cursor"`
}

// Socket is an agent's /ws connection to one node, reading every frame
// into memory until it closes.
type Socket struct {
	Node   string
	conn   *websocket.Conn
	mu     sync.Mutex
	frames []Frame
	done   chan struct{}
	err    error
}

// Connect opens /ws on the node with token, resuming after cursor when it
// is not empty (?cursor=).
func (n *Node) Connect(t testing.TB, token, cursor string) *Socket {
	t.Helper()
	u := "ws" + strings.TrimPrefix(n.URL, "http") + "/ws"
	if cursor != "" {
		u += "?cursor=" + url.QueryEscape(cursor)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": []string{"Bearer " + token}}})
	if err != nil {
		t.Fatalf("node %s: /ws: %v", n.Name, err)
	}
	c.SetReadLimit(1 << 20)
	s := &Socket{Node: n.Name, conn: c, done: make(chan struct{})}
	go s.read()
	t.Cleanup(func() { _ = c.CloseNow() })
	return s
}

func (s *Socket) read() {
	defer close(s.done)
	for {
		_, raw, err := s.conn.Read(context.Background())
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		var f Frame
		if json.Unmarshal(raw, &f) == nil {
			s.mu.Lock()
			s.frames = append(s.frames, f)
			s.mu.Unlock()
		}
	}
}

// Frames is what the socket got so far.
func (s *Socket) Frames() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Frame(nil), s.frames...)
}

// Closed reports whether the connection ended (its node died, say).
func (s *Socket) Closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// LastCursor is the cursor of the last frame that carried one.
func (s *Socket) LastCursor() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.frames) - 1; i >= 0; i-- {
		if s.frames[i].Cursor != "" {
			return s.frames[i].Cursor
		}
	}
	return ""
}

// Wamids counts the message.created frames per WhatsApp message id.
func (s *Socket) Wamids() map[string]int {
	out := map[string]int{}
	for _, f := range s.Frames() {
		if f.Type != "message.created" {
			continue
		}
		var m struct {
			W *string `json:"waMessageId"`
		}
		if json.Unmarshal(f.Data, &m) == nil && m.W != nil {
			out[*m.W]++
		}
	}
	return out
}

// WaitWamids waits until the socket got a message.created frame for every
// wamid (or the wait ends) and returns its counts.
func (s *Socket) WaitWamids(wamids []string, wait time.Duration) map[string]int {
	deadline := time.Now().Add(wait)
	for {
		got := s.Wamids()
		missing := 0
		for _, w := range wamids {
			if got[w] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}
