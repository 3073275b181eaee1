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

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []*websocket.Conn

	opened      atomic.Int64
	failed      atomic.Int64
	closedEarly atomic.Int64
	closing     atomic.Bool
	// lastErr is the last dial error, for the report.
	lastErr atomic.Value
}

func newFleet(url string, client *http.Client, onFrame frameFunc) *fleet {
	ctx, cancel := context.WithCancel(context.Background())
	return &fleet{url: url, client: client, onFrame: onFrame, ctx: ctx, cancel: cancel}
}

// dial opens socket i with token (none when empty), waits for its hello
// frame when wantHello, and starts its reader.
func (f *fleet) dial(ctx context.Context, i int, token string, wantHello bool) error {
	dctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	opts := &websocket.DialOptions{HTTPClient: f.client}
	if token != "" {
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
	if wantHello {
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
		if f.onFrame != nil {
			f.onFrame(i, b)
		}
	}
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
