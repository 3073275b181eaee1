package sockets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// ErrNoHello is returned when a socket's first frame is not the hello frame.
var ErrNoHello = errors.New("first frame is not hello")

// helloTimeout bounds one socket's dial and hello.
const helloTimeout = 30 * time.Second

// frameFunc is called by a socket's reader for every frame after hello.
// It must not keep frame.
type frameFunc func(socket int, frame []byte)

// fleet is a set of client sockets with one reader goroutine each.
type fleet struct {
	url     string
	client  *http.Client
	onFrame frameFunc
	// socketIO makes the sockets speak Engine.IO v4 / Socket.IO v5: the
	// token goes in the namespace CONNECT instead of the Authorization
	// header, the handshake waits for the server's CONNECT instead of the
	// engine's hello, pings are answered, and onFrame gets each event's
	// JSON array.
	socketIO bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []*websocket.Conn

	opened      atomic.Int64
	failed      atomic.Int64
	closedEarly atomic.Int64
	closing     atomic.Bool
	// lastErr is the last dial error (or malformed Socket.IO frame), for
	// the report.
	lastErr atomic.Value
}

func newFleet(url string, client *http.Client, onFrame frameFunc) *fleet {
	ctx, cancel := context.WithCancel(context.Background())
	return &fleet{url: url, client: client, onFrame: onFrame, ctx: ctx, cancel: cancel}
}

// newSocketIOFleet is a fleet of Socket.IO clients of the server at url
// (see socketIOURL).
func newSocketIOFleet(url string, client *http.Client, onFrame frameFunc) *fleet {
	f := newFleet(url, client, onFrame)
	f.socketIO = true
	return f
}

// dial opens socket i with token (none when empty), waits for its hello
// frame when wantHello (a Socket.IO socket always waits for its CONNECT),
// and starts its reader.
func (f *fleet) dial(ctx context.Context, i int, token string, wantHello bool) error {
	dctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	opts := &websocket.DialOptions{HTTPClient: f.client}
	if token != "" && !f.socketIO {
		opts.HTTPHeader = http.Header{"Authorization": []string{"Bearer " + token}}
	}
	c, res, err := websocket.Dial(dctx, f.url, opts)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		return fmt.Errorf("dial socket %d (status %d): %w", i, status, err)
	}
	c.SetReadLimit(1 << 20)
	if f.socketIO {
		if err := socketIOHandshake(dctx, c, token); err != nil {
			_ = c.CloseNow()
			return fmt.Errorf("socket.io handshake of socket %d: %w", i, err)
		}
	} else if wantHello {
		_, b, err := c.Read(dctx)
		if err != nil {
			_ = c.CloseNow()
			return fmt.Errorf("read hello of socket %d: %w", i, err)
		}
		if !frameIs(b, typeHello) {
			_ = c.CloseNow()
			return fmt.Errorf("socket %d: %w: %.80s", i, ErrNoHello, b)
		}
	}
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	f.opened.Add(1)
	f.wg.Add(1)
	go f.read(i, c)
	return nil
}

func (f *fleet) read(i int, c *websocket.Conn) {
	defer f.wg.Done()
	for {
		_, b, err := c.Read(f.ctx)
		if err != nil {
			if !f.closing.Load() {
				f.closedEarly.Add(1)
			}
			return
		}
		if f.socketIO {
			if !f.socketIOFrame(i, c, b) {
				return
			}
			continue
		}
		if f.onFrame != nil {
			f.onFrame(i, b)
		}
	}
}

// socketIOFrame handles frame b of Socket.IO socket i and reports whether
// the socket stays open: a ping is answered, an event goes to onFrame, and
// a close, a DISCONNECT or a malformed frame ends the socket (counted as
// closed early).
func (f *fleet) socketIOFrame(i int, c *websocket.Conn, b []byte) bool {
	outcome, payload, err := classifySocketIOFrame(b)
	switch {
	case err != nil:
		f.lastErr.Store(fmt.Sprintf("socket %d: %v", i, err))
	case outcome == sioPong:
		wctx, cancel := context.WithTimeout(f.ctx, helloTimeout)
		err = c.Write(wctx, websocket.MessageText, pongFrame)
		cancel()
		if err == nil {
			return true
		}
	case outcome == sioDeliver:
		if f.onFrame != nil {
			f.onFrame(i, payload)
		}
		return true
	case outcome == sioIgnore:
		return true
	}
	if !f.closing.Load() {
		f.closedEarly.Add(1)
	}
	_ = c.CloseNow()
	return false
}

// open dials sockets from to to-1, conc at a time; tokenOf(i) is socket
// i's token.
// Each dial's time to hello goes to rec when not nil. Failed dials are
// counted, not returned; open returns early only when ctx ends.
func (f *fleet) open(ctx context.Context, from, to, conc int, tokenOf func(int) string, wantHello bool, rec *recorder) error {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				start := time.Now()
				if err := f.dial(ctx, i, tokenOf(i), wantHello); err != nil {
					f.failed.Add(1)
					f.lastErr.Store(err.Error())
					continue
				}
				if rec != nil {
					rec.record(time.Since(start))
				}
			}
		}()
	}
	var err error
loop:
	for i := from; i < to; i++ {
		select {
		case jobs <- i:
		case <-ctx.Done():
			err = fmt.Errorf("open sockets: %w", ctx.Err())
			break loop
		}
	}
	close(jobs)
	wg.Wait()
	return err
}

// lastError is the last dial error seen, or "".
func (f *fleet) lastError() string {
	s, _ := f.lastErr.Load().(string)
	return s
}

// close drops every socket and waits for the readers.
func (f *fleet) close() {
	f.closing.Store(true)
	f.cancel()
	f.mu.Lock()
	for _, c := range f.conns {
		_ = c.CloseNow()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
	f.client.CloseIdleConnections()
}
