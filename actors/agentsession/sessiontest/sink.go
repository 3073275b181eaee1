package sessiontest

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors/agentsession"
)

// WaitFor and Tick are how long and how often the helpers poll.
const (
	WaitFor = 2 * time.Second
	Tick    = 2 * time.Millisecond
)

// Frame is a decoded server frame.
type Frame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	// Cursor is set on the frames of events delivered through the
	// cluster's event stream.
	Cursor string `json:"cursor,omitempty"`
}

// Sink records what a session pushes. Limit > 0 makes Push refuse once
// Limit frames were taken; PanicOn makes Push panic once on a frame
// containing that text.
type Sink struct {
	Limit   int
	PanicOn string

	mu       sync.Mutex
	frames   [][]byte
	closed   bool
	code     int
	reason   string
	panicked bool
}

var _ agentsession.Sink = (*Sink)(nil)

// Push records frame's bytes (nil ones are skipped, as a socket does).
func (s *Sink) Push(f *agentsession.Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := f.Bytes()
	if b == nil {
		return true
	}
	if s.PanicOn != "" && !s.panicked && strings.Contains(string(b), s.PanicOn) {
		s.panicked = true
		panic("sink exploded")
	}
	if s.Limit > 0 && len(s.frames) >= s.Limit {
		return false
	}
	s.frames = append(s.frames, b)
	return true
}

// Close records the first close.
func (s *Sink) Close(code int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed, s.code, s.reason = true, code, reason
	}
}

// Frames decodes every frame pushed so far.
func (s *Sink) Frames(t testing.TB) []Frame {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Frame, 0, len(s.frames))
	for _, b := range s.frames {
		var f Frame
		require.NoError(t, json.Unmarshal(b, &f), "frame %s", b)
		out = append(out, f)
	}
	return out
}

// Count is how many frames were pushed.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frames)
}

// CloseCode reports whether Close was called, with its code and reason.
func (s *Sink) CloseCode() (bool, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed, s.code, s.reason
}

// WaitFrame waits for the n-th frame (0-based) and returns it.
func (s *Sink) WaitFrame(t testing.TB, n int) Frame {
	t.Helper()
	require.Eventually(t, func() bool { return s.Count() > n }, WaitFor, Tick, "frame %d never arrived", n)
	return s.Frames(t)[n]
}

// WaitClosed waits for Close and returns its code and reason.
func (s *Sink) WaitClosed(t testing.TB) (int, string) {
	t.Helper()
	require.Eventually(t, func() bool { closed, _, _ := s.CloseCode(); return closed }, WaitFor, Tick, "the socket was never closed")
	_, code, reason := s.CloseCode()
	return code, reason
}

// Types lists the types of the frames pushed so far.
func (s *Sink) Types(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, f := range s.Frames(t) {
		out = append(out, f.Type)
	}
	return out
}
