package agentsocket

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors/agentsession"
)

// conn is one socket's agentsession.Sink.
//
// An idle socket costs one goroutine (the reader, see Server.run) and no
// buffers: outgoing frames wait in a queue allocated when the first one
// comes, drained by a writer goroutine that runs only while the queue holds
// frames (or a close is requested), and the pings come from a timer whose
// function runs on a goroutine of its own only while it pings. Agents sit
// idle most of the day, so this is what a socket costs most of the time.
//
// The writer takes every frame queued at once and writes them as one batch:
// the WebSocket messages go back to back into the socket's cork (cork.go)
// and reach the kernel in one write, bounded by the write timeout, instead
// of one write (and one timer) per frame.
type conn struct {
	ws *websocket.Conn
	// cork is the connection under ws; nil when the upgrade did not go
	// through Serve's hijack (each frame is then written on its own).
	cork    *corkConn
	max     int
	timeout time.Duration
	// ctx ends when the reader is done with the socket.
	ctx     context.Context
	agentID string
	log     *zap.Logger

	mu sync.Mutex
	// queue holds the frames not written yet, oldest first; inflight
	// counts the frames of the batch being written.
	queue    []*agentsession.Frame
	inflight int
	// writing is set while a writer goroutine runs; at most one does.
	writing bool
	// closeAsked is set by the first Close, with code and reason.
	closeAsked bool
	code       websocket.StatusCode
	reason     string
	// stopped is set by stop: no writer or ping starts after it.
	stopped bool
	writers sync.WaitGroup
	pinger  *time.Timer
}

var _ agentsession.Sink = (*conn)(nil)

func newConn(ctx context.Context, ws *websocket.Conn, cork *corkConn, max int, timeout time.Duration, agentID string, log *zap.Logger) *conn {
	return &conn{ws: ws, cork: cork, max: max, timeout: timeout, ctx: ctx, agentID: agentID, log: log}
}

// Push queues frame without blocking; false when the queue (with the batch
// being written) holds max frames.
func (c *conn) Push(frame *agentsession.Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue)+c.inflight >= c.max {
		return false
	}
	c.queue = append(c.queue, frame)
	c.wakeWriterLocked()
	return true
}

// Close asks the writer to close the socket with code; it never blocks.
func (c *conn) Close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeAsked {
		return
	}
	c.closeAsked, c.code, c.reason = true, websocket.StatusCode(code), reason
	c.wakeWriterLocked()
}

// wakeWriterLocked starts the writer unless one runs or the socket ended.
func (c *conn) wakeWriterLocked() {
	if c.writing || c.stopped {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.write()
}

// write writes the queued frames in order, a batch at a time, until the
// queue is empty, then ends; a requested close wins over queued frames.
func (c *conn) write() {
	defer c.writers.Done()
	var batch []*agentsession.Frame
	for {
		c.mu.Lock()
		c.inflight = 0
		if c.closeAsked {
			c.queue = nil
			c.mu.Unlock()
			// writing stays set: nothing is written after the close.
			c.closeHandshake()
			return
		}
		if len(c.queue) == 0 || c.ctx.Err() != nil {
			c.queue = nil // the backing arrays go with the burst
			c.writing = false
			c.mu.Unlock()
			return
		}
		// The previous batch's array takes what comes meanwhile.
		batch, c.queue = c.queue, batch[:0]
		c.inflight = len(batch)
		c.mu.Unlock()

		err := c.writeBatch(batch)
		clear(batch)
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Debug("agent socket write", zap.String("agent_id", c.agentID), zap.Error(err))
			}
			_ = c.ws.CloseNow()
			c.mu.Lock()
			c.queue, c.inflight = nil, 0
			c.mu.Unlock()
			return // writing stays set: the connection is gone
		}
	}
}

// writeBatch writes frames in order: corked, into one write (or a few,
// when they exceed maxCorked) bounded by the write timeout.
func (c *conn) writeBatch(frames []*agentsession.Frame) error {
	if c.cork == nil {
		for _, f := range frames {
			if b := f.Bytes(); b != nil {
				wctx, cancel := context.WithTimeout(c.ctx, c.timeout)
				err := c.ws.Write(wctx, websocket.MessageText, b)
				cancel()
				if err != nil {
					return err
				}
			}
		}
		return nil
	}
	c.cork.cork()
	for _, f := range frames {
		b := f.Bytes()
		if b == nil {
			continue
		}
		// Corked, the write only copies: no context deadline (and no
		// timer) per frame; the flush below is bounded instead.
		if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
			c.cork.discard()
			return err
		}
		if c.cork.buffered() >= maxCorked {
			if err := c.cork.flush(c.timeout, false); err != nil {
				return err
			}
		}
	}
	return c.cork.flush(c.timeout, true)
}

// closeHandshake sends the requested close frame and waits (bounded by the
// library's own timeouts) for the client's answer; the reader sees the
// connection end and the socket ends.
func (c *conn) closeHandshake() {
	err := c.ws.Close(c.code, c.reason)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		c.log.Debug("agent socket close handshake", zap.String("agent_id", c.agentID), zap.Int("code", int(c.code)), zap.Error(err))
	}
}

// startPings pings every interval and calls alive for every pong. An
// unanswered ping is not fatal by itself: the session closes a socket it
// has not heard from for its idle timeout, with a close code. A ping whose
// write times out has already closed the connection (the library closes it
// on a write timeout), and the reader then ends the socket.
func (c *conn) startPings(interval time.Duration, alive func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ping := func() {
		// Counted with the writers, so that the socket ends only after a
		// ping in flight finished.
		c.mu.Lock()
		if c.stopped {
			c.mu.Unlock()
			return
		}
		c.writers.Add(1)
		c.mu.Unlock()
		defer c.writers.Done()
		pctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		err := c.ws.Ping(pctx)
		cancel()
		if err == nil {
			alive()
		} else if c.ctx.Err() == nil {
			c.log.Debug("agent socket ping unanswered", zap.String("agent_id", c.agentID), zap.Error(err))
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.stopped {
			c.pinger.Reset(interval)
		}
	}
	c.pinger = time.AfterFunc(interval, ping)
}

// stop is called by run once the reader ended and ctx was cancelled: no
// writer or ping starts after it, and it returns when the running writer
// and ping (if any) ended.
func (c *conn) stop() {
	c.mu.Lock()
	c.stopped = true
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.mu.Unlock()
	c.writers.Wait()
}
