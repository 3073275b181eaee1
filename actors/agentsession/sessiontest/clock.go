package sessiontest

import (
	"sort"
	"sync"
	"time"

	"github.com/wacc/engine/actors/agentsession"
)

// Clock is a fake agentsession.Clock: time moves only by Advance, which
// runs the functions of the timers that came due, in order, on the
// caller's goroutine.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

var _ agentsession.Clock = (*Clock)(nil)

// NewClock returns a clock at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

type timer struct {
	c       *Clock
	at      time.Time
	f       func()
	stopped bool
}

// Stop cancels the timer if it has not fired.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.stopped {
		return false
	}
	t.stopped = true
	return true
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d; d <= 0 runs f at once.
func (c *Clock) AfterFunc(d time.Duration, f func()) agentsession.Timer {
	c.mu.Lock()
	t := &timer{c: c, at: c.now.Add(d), f: f}
	if d <= 0 {
		t.stopped = true
		c.mu.Unlock()
		f()
		return t
	}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	return t
}

// Advance moves the clock by d and runs every timer due by then.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*timer
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// Pending is how many timers wait to fire.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}
