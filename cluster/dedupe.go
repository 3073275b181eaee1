package cluster

import (
	"sync"
	"time"
)

// Bounds of the router's memory of answered commands.
const (
	// dedupeFor is how long an answer is kept for a retry of its command.
	dedupeFor = 5 * time.Minute
	// dedupeMax is how many answers are kept at most; the oldest go first.
	dedupeMax = 100_000
)

// dedupe remembers commands by message id so that a retried command is
// applied once on this node: a retry of a command in flight joins its
// answer, and a retry of an answered one gets the same answer while it is
// remembered (dedupeFor, at most dedupeMax answers). Safe for concurrent
// use.
type dedupe struct {
	mu      sync.Mutex
	entries map[string]*dedupeEntry
	// order[head:] are the ids of answered entries, oldest first.
	order []doneAt
	head  int
}

type dedupeEntry struct {
	done    bool
	answer  *Answer
	waiters []func(*Answer)
}

type doneAt struct {
	id string
	at time.Time
}

func newDedupe() *dedupe { return &dedupe{entries: map[string]*dedupeEntry{}} }

// begin registers reply for the command id. It reports whether the caller
// must apply the command (the first time); otherwise reply is called with
// the answer, now if it is known, or when the first one finishes.
func (d *dedupe) begin(id string, reply func(*Answer)) bool {
	d.mu.Lock()
	e, ok := d.entries[id]
	if !ok {
		d.entries[id] = &dedupeEntry{waiters: []func(*Answer){reply}}
		d.mu.Unlock()
		return true
	}
	if e.done {
		a := e.answer
		d.mu.Unlock()
		reply(a)
		return false
	}
	e.waiters = append(e.waiters, reply)
	d.mu.Unlock()
	return false
}

// finish records the answer of id and hands it to everyone waiting. An
// undelivered answer is not remembered: a retry applies the command again
// (conversation commands carry their own ids, so that is harmless).
func (d *dedupe) finish(id string, a *Answer, now time.Time) {
	d.mu.Lock()
	e := d.entries[id]
	if e == nil {
		d.mu.Unlock()
		return
	}
	waiters := e.waiters
	e.waiters = nil
	if a.GetUndelivered() != "" {
		delete(d.entries, id)
	} else {
		e.done, e.answer = true, a
		d.order = append(d.order, doneAt{id: id, at: now})
		d.expire(now)
	}
	d.mu.Unlock()
	for _, w := range waiters {
		w(a)
	}
}

// expire forgets answers older than dedupeFor and the oldest beyond
// dedupeMax. Called with mu held.
func (d *dedupe) expire(now time.Time) {
	for d.head < len(d.order) && (now.Sub(d.order[d.head].at) > dedupeFor || len(d.order)-d.head > dedupeMax) {
		delete(d.entries, d.order[d.head].id)
		d.order[d.head] = doneAt{}
		d.head++
	}
	if d.head > len(d.order)/2 {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}

// size is how many commands are remembered (in flight or answered).
func (d *dedupe) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.entries)
}
