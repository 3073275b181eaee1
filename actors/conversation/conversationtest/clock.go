// Package conversationtest helps tests drive conversation actors without
// waiting on real time; it is imported by tests only.
//
// Clock is a conversation.Clock whose time moves only when the test says
// so: Advance moves it and fires, in due order, every timer that comes due,
// each with the clock set to its due time. Timers fire on the goroutine that
// calls Advance (a conversation actor's timer only sends its actor a
// message), outside the clock's lock. A Clock is safe for concurrent use.
package conversationtest

import (
	"sort"
	"sync"
	"time"

	"github.com/wacc/engine/actors/conversation"
)

// Clock is a fake conversation.Clock.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*Timer]struct{}
}

var _ conversation.Clock = (*Clock)(nil)

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, timers: map[*Timer]struct{}{}}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arms a timer that calls f once the clock has moved d on.
func (c *Clock) AfterFunc(d time.Duration, f func()) conversation.Timer {
	t := &Timer{c: c, f: f}
	t.Reset(d)
	return t
}

// Advance moves the clock d on, firing the timers due by then in due order.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		t := c.earliestLocked()
		if t == nil || t.at.After(end) {
			c.now = end
			c.mu.Unlock()
			return
		}
		if t.at.After(c.now) {
			c.now = t.at
		}
		delete(c.timers, t)
		f := t.f
		c.mu.Unlock()
		f()
	}
}

// Armed is how many timers are armed (started or reset and not yet fired
// or stopped).
func (c *Clock) Armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Next is when the earliest armed timer is due; ok is false when none is.
func (c *Clock) Next() (at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.earliestLocked(); t != nil {
		return t.at, true
	}
	return time.Time{}, false
}

func (c *Clock) earliestLocked() *Timer {
	ts := make([]*Timer, 0, len(c.timers))
	for t := range c.timers {
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		return nil
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].at.Before(ts[j].at) })
	return ts[0]
}

// Timer is a timer of a Clock.
type Timer struct {
	c  *Clock
	f  func()
	at time.Time
}

// Reset re-arms the timer to fire d after the clock's current time, and
// reports whether it was armed.
func (t *Timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, armed := t.c.timers[t]
	t.at = t.c.now.Add(max(d, 0))
	t.c.timers[t] = struct{}{}
	return armed
}

// Stop disarms the timer and reports whether it was armed.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, armed := t.c.timers[t]
	delete(t.c.timers, t)
	return armed
}
