package agentsocket

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxCorked is how many bytes a batch gathers before they are written
// (a batch larger than that is written in several writes).
const maxCorked = 64 << 10

// corkBufs are the buffers of corked batches: a socket holds one only while
// it writes a batch, so an idle socket holds none.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// corkConn is the connection under a socket's websocket.Conn: the library
// writes every WebSocket frame (and flushes it) through it. Uncorked, a
// write goes straight to the connection. Corked (while the socket's writer
// writes a batch), writes are gathered in order, the library's flushes
// included, and reach the connection in one write at flush. WebSocket
// messages written back to back in one write are what the protocol allows:
// each is a complete frame.
//
// The library serialises its frame writes (and a frame bigger than its
// bufio buffer reaches Write in pieces, all under that lock, from one
// goroutine); a ping or a close written by another goroutine while corked
// is gathered with the batch. Whatever is written uncorked is a complete
// frame in one Write, which the connection does not interleave with
// another Write.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    *[]byte
}

// Write gathers p while corked, else writes it.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.corked {
		*c.buf = append(*c.buf, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// cork starts gathering writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		c.corked = true
		c.buf = corkBufs.Get().(*[]byte)
	}
}

// buffered is how many bytes are gathered.
func (c *corkConn) buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return 0
	}
	return len(*c.buf)
}

// flush writes what was gathered, in one write that must finish within
// timeout, and stays corked for what is written meanwhile; with uncork it
// writes until nothing is left and uncorks. On error the gathered bytes
// are dropped and the connection is uncorked (the caller closes it).
func (c *corkConn) flush(timeout time.Duration, uncork bool) error {
	for {
		c.mu.Lock()
		if !c.corked {
			c.mu.Unlock()
			return nil
		}
		out := c.buf
		if len(*out) == 0 {
			if uncork {
				c.corked, c.buf = false, nil
				c.mu.Unlock()
				putCorkBuf(out)
				return nil
			}
			c.mu.Unlock()
			return nil
		}
		// Writes that come during this one are gathered in a fresh buffer
		// and written next.
		c.buf = corkBufs.Get().(*[]byte)
		c.mu.Unlock()

		err := c.SetWriteDeadline(time.Now().Add(timeout))
		if err == nil {
			_, err = c.Conn.Write(*out)
			// A socket's later writes (pings, the close handshake) bound
			// themselves; the deadline must not outlive this one.
			if derr := c.SetWriteDeadline(time.Time{}); err == nil {
				err = derr
			}
		}
		putCorkBuf(out)
		if err != nil {
			c.discard()
			return err
		}
		if !uncork {
			return nil
		}
	}
}

// discard drops what was gathered and uncorks.
func (c *corkConn) discard() {
	c.mu.Lock()
	buf := c.buf
	c.corked, c.buf = false, nil
	c.mu.Unlock()
	if buf != nil {
		putCorkBuf(buf)
	}
}

func putCorkBuf(b *[]byte) {
	if cap(*b) > maxCorked*2 {
		return // one very large batch does not stay in the pool
	}
	*b = (*b)[:0]
	corkBufs.Put(b)
}

// corkingWriter is the ResponseWriter Serve hands to the upgrade: its
// Hijack puts a corkConn under the connection the library gets.
type corkingWriter struct {
	http.ResponseWriter
	cork *corkConn
}

// Hijack hijacks the underlying connection (through any wrappers) and
// wraps it in a corkConn.
func (w *corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.cork = &corkConn{Conn: nc}
	// The hijacked writer is fresh (the 101 went out before the hijack);
	// anything it held is written first, then it writes to the cork.
	if err := brw.Flush(); err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	brw.Writer.Reset(w.cork)
	return w.cork, brw, nil
}

// Unwrap is the ResponseWriter under w (http.ResponseController).
func (w *corkingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
