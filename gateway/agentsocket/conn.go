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
type conn struct {
	ws *websocket.Conn
	// out is the bounded queue of frames the writer drains.
	out chan []byte
	// closeReq is closed by the first Close; code and reason are set
	// before it is closed.
	closeReq  chan struct{}
	closeOnce sync.Once
	code      websocket.StatusCode
	reason    string
}

var _ agentsession.Sink = (*conn)(nil)

// Push queues frame without blocking; false when the queue is full.
func (c *conn) Push(frame []byte) bool {
	select {
	case c.out <- frame:
		return true
	default:
		return false
	}
}

// Close asks the writer to close the socket with code; it never blocks.
func (c *conn) Close(code int, reason string) {
	c.closeOnce.Do(func() {
		c.code, c.reason = websocket.StatusCode(code), reason
		close(c.closeReq)
	})
}

// writeLoop writes queued frames in order until ctx ends or a close is
// requested; a requested close wins over queued frames.
func (c *conn) writeLoop(ctx context.Context, timeout time.Duration, log *zap.Logger) {
	for {
		select {
		case <-c.closeReq:
			c.closeHandshake(log)
			return
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-c.closeReq:
			c.closeHandshake(log)
			return
		case b := <-c.out:
			wctx, cancel := context.WithTimeout(ctx, timeout)
			err := c.ws.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					log.Debug("agent socket write", zap.Error(err))
				}
				_ = c.ws.CloseNow()
				return
			}
		}
	}
}

// closeHandshake sends the requested close frame and waits (bounded by the
// library's own timeouts) for the client's answer; the reader sees the
// connection end and Serve finishes.
func (c *conn) closeHandshake(log *zap.Logger) {
	err := c.ws.Close(c.code, c.reason)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		log.Debug("agent socket close handshake", zap.Int("code", int(c.code)), zap.Error(err))
	}
}

// pingLoop pings every interval; an unanswered ping drops the connection.
func (c *conn) pingLoop(ctx context.Context, interval, timeout time.Duration, log *zap.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, timeout)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					log.Debug("agent socket ping", zap.Error(err))
				}
				_ = c.ws.CloseNow()
				return
			}
		}
	}
}
