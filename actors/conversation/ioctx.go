package conversation

import (
	"context"
	"sync"
	"time"
)

// ioContext is the context of one message's store calls: it ends at a
// deadline fixed when the message started, as context.WithTimeout's does,
// but makes its timer and channel only when a store call asks for Done
// (database/sql does; a store that never waits, or a call answered from a
// cache, does not). So the common message costs one small allocation
// instead of a timer, a channel and a cancel func. finish ends it, as a
// CancelFunc would.
type ioContext struct {
	deadline time.Time
	mu       sync.Mutex
	// ctx is made by the first Done and ends with this context.
	ctx      context.Context
	cancel   context.CancelFunc
	finished bool
}

var _ context.Context = (*ioContext)(nil)

// newIOContext returns a context that ends d from now.
func newIOContext(d time.Duration) *ioContext {
	return &ioContext{deadline: time.Now().Add(d)}
}

// endBy moves the deadline earlier to t, if t is earlier (as
// context.WithDeadline would for a child). Call it before the context is
// handed to a store call.
func (c *ioContext) endBy(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.deadline) {
		c.deadline = t
	}
}

// Deadline is when the context ends.
func (c *ioContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Value carries nothing of its own. Once Done has made the inner context,
// it answers for it, so that a context derived from this one (a store's
// own timeout) hooks onto the inner one's cancellation directly, as it
// would onto a context.WithTimeout, instead of starting a goroutine to
// watch Done.
func (c *ioContext) Value(key any) any {
	c.mu.Lock()
	inner := c.ctx
	c.mu.Unlock()
	if inner == nil {
		return nil
	}
	return inner.Value(key)
}

// Done is closed at the deadline or by finish, whichever is first.
func (c *ioContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithDeadline(context.Background(), c.deadline)
		if c.finished {
			c.cancel()
		}
	}
	return c.ctx.Done()
}

// Err is context.Canceled once finished, context.DeadlineExceeded once the
// deadline has passed, and nil before.
func (c *ioContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ctx != nil:
		return c.ctx.Err()
	case c.finished:
		return context.Canceled
	case !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

// finish ends the context: the message's store calls are over. It is safe
// to call twice.
func (c *ioContext) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finished = true
	if c.cancel != nil {
		c.cancel()
	}
}
