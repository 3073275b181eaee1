package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// How long a caller waits for its call's terminal call.updated frame
// before it asks GET /api/calls/{id}, how often it asks again, and when it
// gives up.
const (
	callPollAfter    = 3 * time.Second
	callPollEvery    = 500 * time.Millisecond
	callCloseTimeout = time.Minute
)

// callView is the part of the contract's call object the bench reads.
type callView struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	State       string  `json:"state"`
	DurationSec int     `json:"durationSec"`
	ExotelSid   *string `json:"exotelSid"`
}

// terminal reports whether the call is over (its status never changes
// again).
func (v callView) terminal() bool {
	switch v.Status {
	case "completed", "failed", "busy", "no-answer", "canceled":
		return true
	}
	return false
}

// placed reports whether the engine says Exotel accepted the call.
func (v callView) placed() bool { return v.ExotelSid != nil && *v.ExotelSid != "" }

type trackedCall struct {
	done     chan struct{}
	accepted bool
	closed   bool
	byPoll   bool
	view     callView
}

// callTracker knows every call the bench placed (accepted) and every
// terminal call.updated seen, whichever comes first, and wakes the caller
// waiting for a call when it closes. It is safe for concurrent use.
type callTracker struct {
	mu    sync.Mutex
	calls map[string]*trackedCall
}

func newCallTracker() *callTracker { return &callTracker{calls: map[string]*trackedCall{}} }

// entry returns id's record, creating it; the caller holds t.mu.
func (t *callTracker) entry(id string) *trackedCall {
	e, ok := t.calls[id]
	if !ok {
		e = &trackedCall{done: make(chan struct{})}
		t.calls[id] = e
	}
	return e
}

// accept records that the engine answered 202 with call id.
func (t *callTracker) accept(id string) {
	t.mu.Lock()
	t.entry(id).accepted = true
	t.mu.Unlock()
}

// observe records v; the first terminal view of a call closes it.
func (t *callTracker) observe(v callView, byPoll bool) {
	if v.ID == "" || !v.terminal() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(v.ID)
	if e.closed {
		return
	}
	e.closed, e.byPoll, e.view = true, byPoll, v
	close(e.done)
}

// waitClosed waits until call id is closed and returns its terminal view:
// from the watcher's frame, or, when none came within callPollAfter, from
// GET /api/calls/{id} asked every callPollEvery.
func (t *callTracker) waitClosed(ctx context.Context, g *engine, token, id string) (callView, error) {
	t.mu.Lock()
	e := t.entry(id)
	t.mu.Unlock()
	timer := time.NewTimer(callPollAfter)
	defer timer.Stop()
	deadline := time.Now().Add(callCloseTimeout)
	var lastErr error
	for {
		select {
		case <-e.done:
			t.mu.Lock()
			defer t.mu.Unlock()
			return e.view, nil
		case <-ctx.Done():
			return callView{}, ctx.Err()
		case <-timer.C:
		}
		if time.Now().After(deadline) {
			return callView{}, fmt.Errorf("call %s not closed after %s (last poll: %v)", id, callCloseTimeout, lastErr)
		}
		lastErr = t.poll(ctx, g, token, id)
		timer.Reset(callPollEvery)
	}
}

// poll asks the engine for call id and records it.
func (t *callTracker) poll(ctx context.Context, g *engine, token, id string) error {
	var out struct {
		Data struct {
			Call callView `json:"call"`
		} `json:"data"`
	}
	if err := g.do(ctx, http.MethodGet, g.URL+"/api/calls/"+url.PathEscape(id), token, nil, http.StatusOK, &out); err != nil {
		return err
	}
	t.observe(out.Data.Call, true)
	return nil
}

// open lists the accepted calls not closed yet.
func (t *callTracker) open() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []string
	for id, e := range t.calls {
		if e.accepted && !e.closed {
			ids = append(ids, id)
		}
	}
	return ids
}

// drain waits until every accepted call is closed, polling the open ones
// once callPollAfter has passed, for at most timeout; it returns how many
// are still open.
func (t *callTracker) drain(ctx context.Context, g *engine, token string, timeout time.Duration) int {
	start := time.Now()
	for {
		open := t.open()
		if len(open) == 0 {
			return 0
		}
		if time.Since(start) > timeout || ctx.Err() != nil {
			return len(open)
		}
		if time.Since(start) >= callPollAfter {
			for _, id := range open {
				_ = t.poll(ctx, g, token, id)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type callStats struct {
	accepted, closed, completed, placed, byPoll int
}

// stats counts the accepted calls: closed, completed with a talk time,
// placed (closed with an Exotel CallSid) and closed by polling.
func (t *callTracker) stats() callStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	var s callStats
	for _, e := range t.calls {
		if !e.accepted {
			continue
		}
		s.accepted++
		if !e.closed {
			continue
		}
		s.closed++
		if e.view.Status == "completed" && e.view.DurationSec > 0 {
			s.completed++
		}
		if e.view.placed() {
			s.placed++
		}
		if e.byPoll {
			s.byPoll++
		}
	}
	return s
}

// acceptedIDs is the set of calls the engine accepted from the bench, each
// with whether it closed with an Exotel CallSid.
func (t *callTracker) acceptedIDs() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]bool, len(t.calls))
	for id, e := range t.calls {
		if e.accepted {
			out[id] = e.closed && e.view.placed()
		}
	}
	return out
}

// callWatch is a supervisor's (here the admin's) socket: as a watcher it
// gets every call's call.updated, so one socket serves all the callers
// (a socket per supervisor would get every frame once per caller). It
// dials again when the engine drops it; calls whose frame was lost are
// closed by polling.
type callWatch struct {
	frames, drops atomic.Int64
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	mu            sync.Mutex
	conn          *websocket.Conn
}

// watch opens the watcher socket with token and feeds t until close.
func (t *callTracker) watch(ctx context.Context, g *engine, token string) (*callWatch, error) {
	wsURL := "ws" + strings.TrimPrefix(g.URL, "http") + "/ws"
	w := &callWatch{}
	wctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	dial := func() (*websocket.Conn, error) {
		dctx, dcancel := context.WithTimeout(wctx, 10*time.Second)
		defer dcancel()
		c, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": []string{"Bearer " + token}}})
		if err != nil {
			return nil, fmt.Errorf("open the watcher socket %s: %w", wsURL, err)
		}
		c.SetReadLimit(1 << 20)
		if _, b, err := c.Read(dctx); err != nil || frameType(b) != "hello" {
			_ = c.CloseNow()
			return nil, fmt.Errorf("watcher socket: no hello frame (%v): %.80s", err, b)
		}
		w.mu.Lock()
		w.conn = c
		w.mu.Unlock()
		return c, nil
	}
	c, err := dial()
	if err != nil {
		cancel()
		return nil, err
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for wctx.Err() == nil {
			_, b, err := c.Read(wctx)
			if err == nil {
				w.frames.Add(1)
				t.frame(b)
				continue
			}
			if wctx.Err() != nil {
				return
			}
			w.drops.Add(1)
			for wctx.Err() == nil {
				if c, err = dial(); err == nil {
					break
				}
				select {
				case <-wctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}()
	return w, nil
}

// frame records a call.updated frame; other frames are ignored.
func (t *callTracker) frame(b []byte) {
	var f struct {
		Type string   `json:"type"`
		Data callView `json:"data"`
	}
	if json.Unmarshal(b, &f) == nil && f.Type == "call.updated" {
		t.observe(f.Data, false)
	}
}

// frameType is the type of a socket frame ("" when it is not one).
func frameType(b []byte) string {
	var f struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(b, &f) != nil {
		return ""
	}
	return f.Type
}

func (w *callWatch) close() {
	w.cancel()
	w.mu.Lock()
	if w.conn != nil {
		_ = w.conn.CloseNow()
	}
	w.mu.Unlock()
	w.wg.Wait()
}
