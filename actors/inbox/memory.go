package inbox

import (
	"context"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Entries from memory, completions in batches.
//
// The gateway hands the entries it has just made durable to Accept, so
// while everything goes well the dispatcher never reads an entry back from
// the store: the store is read (ClaimInbox) only at start, after a round
// with failures or deferrals, when the in-memory queue overflowed, when
// Notify says entries were appended behind its back, and every safetyPoll.
// Polling goes on until a read returns fewer entries than it asked for: by
// then every entry committed before the read was seen, and every entry
// committed after it is in the queue (Accept is called after the commit).
// A read returns only the entries this node may take (see lease.go): other
// nodes' entries under a live lease are neither seen nor waited for.
//
// An applied entry is deleted by flushDone, one DELETE for all the entries
// completed within completionDelay (or completionBatch of them), instead
// of one DELETE per round: at 200 webhooks/s a round holds one entry, and
// its own DELETE cost as much as its INSERT. Until its DELETE, a completed
// entry stays in known, so a read of the store skips it; a crash in between
// applies it again on restart, which is harmless (duplicate wamids are
// dropped, statuses only move forward, template events and errors[] are
// idempotent).
type memory struct {
	// mu guards fresh, overflow and poll (Accept runs on the gateway's
	// goroutine).
	mu    sync.Mutex
	fresh []actors.InboxEntry
	// poll: the next round reads the store.
	poll bool

	// mine are the entries this process appended (AppendInbox) and has not
	// deleted, with when: an entry read back that is not among them was
	// accepted by another node or an earlier process, and may have been
	// applied already (see redelivered). Guarded by mu.
	mine map[string]time.Time

	// Run's goroutine only.
	// known are the ids taken (in flight) or completed and not yet deleted.
	known map[string]struct{}
	// done are the completed ids waiting for their DELETE, since doneSince.
	done      []string
	doneSince time.Time
}

// Sizes. Measured on the bench's shared 2-core machine (ingest, 1.5 KB
// text webhooks, 2026-12-06): at 200/s every round held one entry and its
// own DELETE cost ~70 µs of engine CPU (profile: MarkInboxDone 0.14 s of
// 10 s at 200 webhooks/s), as much as the inbox INSERT; deleting every
// 250 ms makes that one statement per ~50 entries at 200/s.
//
// freshMax: at saturation the conversations apply more slowly than the
// gateway accepts, the queue overflows and every entry behind it is read
// back from the store and parsed again. Engine CPU µs per webhook, bench
// `run ingest --quick --steps 200,1000,5000`, runs alternated on the same
// machine (2026-12-06, loaded by other work: ±20% between identical runs):
//
//	freshMax  saturation          @5000/s             @1000/s
//	1024      561 617 496 492     546 331 401 418     801 651 647 554
//	4096      486 461 432 556     465 311 333 415     506 453 697 603
//	8192      563 645             409 416             489 700
//
// 4096 was lower in three pairs of four and 8192 no better, so 4096: at most
// ~4096 × (1.5 KB body + its parsed batch, ~2 KB) ≈ 14 MB held. A round
// of 64 entries (dispatchBatch 64, freshMax 4096) measured saturation 447
// and 363, @1000/s 642 and 670: no better than 256, which is kept, as are
// the two rounds in flight (not varied).
const (
	// dispatchBatch bounds the entries of one round.
	dispatchBatch = 256
	// freshMax bounds the queue of accepted entries waiting in memory
	// with their parsed batches; beyond it, they are read back from the
	// store and parsed again.
	freshMax = 16 * dispatchBatch
	// completionBatch and completionDelay: completed entries are deleted
	// once this many wait, or the oldest waited this long.
	completionBatch = 256
	completionDelay = 250 * time.Millisecond
	// safetyPoll: the store is read at least this often, whatever the
	// bookkeeping says.
	safetyPoll = 30 * time.Second
)

// Accept hands over entries just made durable by AppendInbox, in append
// order, and wakes the dispatcher. Entries beyond the queue's bound are left
// to the store.
func (d *Dispatcher) Accept(entries []actors.InboxEntry) {
	d.mu.Lock()
	if len(d.fresh)+len(entries) > freshMax {
		// The store has them all: read them back from there.
		d.poll = true
		d.fresh = nil
	} else {
		// Queued even while polling: a read that ends polling may have
		// started before they were committed.
		d.fresh = append(d.fresh, entries...)
	}
	d.mu.Unlock()
	d.holding.Store(true)
	d.signal()
}

// polling reports whether the next round reads the store.
func (d *Dispatcher) polling() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.poll
}

// take returns the entries of the next round: up to a batch, none taken
// before and not yet completed or given up (known: in flight, or waiting
// for their DELETE), not deferred, not set aside.
func (d *Dispatcher) take(ctx context.Context) ([]actors.InboxEntry, error) {
	d.mu.Lock()
	poll := d.poll
	var fresh []actors.InboxEntry
	if poll {
		// The store holds everything queued here: drop the queue, read.
		d.fresh = nil
	} else {
		n := min(len(d.fresh), d.batch)
		fresh = d.fresh[:n:n]
		d.fresh = d.fresh[n:]
		if len(d.fresh) == 0 {
			d.fresh = nil
		}
	}
	d.mu.Unlock()
	if !poll {
		out := fresh[:0]
		for _, e := range fresh {
			// Already taken by a read of the store that saw it committed.
			if _, seen := d.known[e.ID]; !seen {
				out = append(out, e)
				d.known[e.ID] = struct{}{}
			}
		}
		return out, nil
	}
	return d.read(ctx)
}

// read takes the next round from the store and ends polling once a read
// saw every pending entry.
func (d *Dispatcher) read(ctx context.Context) ([]actors.InboxEntry, error) {
	// Deleting the completed first keeps the read small.
	if err := d.flushDone(ctx, true); err != nil {
		return nil, err
	}
	now := time.Now()
	for id, until := range d.deferred {
		if now.After(until) {
			delete(d.deferred, id)
		}
	}
	limit := d.batch + len(d.known) + len(d.deferred)
	entries, err := d.store.ClaimInbox(ctx, d.node, now, now.Add(d.lease), limit)
	if err != nil {
		return nil, err
	}
	if len(entries) < limit {
		// Every entry that may be taken was seen; deferred ones are read
		// again when their time comes (deferralsDue).
		d.mu.Lock()
		d.poll = false
		d.mu.Unlock()
	}
	if ce := d.log.Check(zap.DebugLevel, "inbox entries claimed"); ce != nil && len(entries) > 0 {
		ids := make([]string, len(entries))
		for i, e := range entries {
			ids[i] = e.ID + "/" + e.Owner + "/" + strconv.Itoa(e.Attempts)
		}
		ce.Write(zap.Strings("entries", ids))
	}
	kept := entries[:0]
	for _, e := range entries {
		_, taken := d.known[e.ID]
		_, later := d.deferred[e.ID]
		if !taken && !later && e.Attempts < MaxAttempts && len(kept) < d.batch {
			kept = append(kept, e)
			d.known[e.ID] = struct{}{}
		}
	}
	if len(entries) > 0 {
		// Claimed, kept or not: renew from now on (see lease.go).
		d.holding.Store(true)
	}
	if len(kept) == d.batch {
		// There may be more behind them.
		d.mu.Lock()
		d.poll = true
		d.mu.Unlock()
	}
	return kept, nil
}

// deferralsDue drops the deferrals that ended by now and reports whether
// there were any: their entries are to be read from the store again.
func (d *Dispatcher) deferralsDue(now time.Time) bool {
	due := false
	for id, until := range d.deferred {
		if !now.Before(until) {
			delete(d.deferred, id)
			due = true
		}
	}
	return due
}

// accepted records entries this process appended. Entries another node
// deleted (it took them over) would stay: past mineMax, those older than
// mineMaxAge are dropped.
func (d *Dispatcher) accepted(entries []actors.InboxEntry) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mine == nil {
		d.mine = map[string]time.Time{}
	}
	if len(d.mine) > mineMax {
		for id, at := range d.mine {
			if now.Sub(at) > mineMaxAge {
				delete(d.mine, id)
			}
		}
	}
	for _, e := range entries {
		d.mine[e.ID] = now
	}
}

// Bounds of mine.
const (
	mineMax    = 100_000
	mineMaxAge = 30 * time.Minute
)

// redelivered reports whether e may have been applied before: it failed
// an attempt, or this process did not accept it (another node did, and
// died or stalled, or an earlier run of this engine). The conversation
// then announces its message again if it finds it stored (see
// conversation.Inbound.Redelivery); a fresh entry's duplicate wamid is a
// separate delivery by Meta, announced once.
func (d *Dispatcher) redelivered(e actors.InboxEntry) bool {
	if e.Attempts > 0 {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.mine[e.ID]
	return !ok
}

// forget drops a taken entry that is not completed: it is read back from
// the store when it is tried again.
func (d *Dispatcher) forget(id string) {
	delete(d.known, id)
	d.mu.Lock()
	d.poll = true
	d.mu.Unlock()
}

// completed queues the deletion of applied entries.
func (d *Dispatcher) completed(ids []string, now time.Time) {
	if len(d.done) == 0 {
		d.doneSince = now
	}
	d.done = append(d.done, ids...)
}

// flushDone deletes the completed entries when they are due (or now, with
// force) in one statement.
func (d *Dispatcher) flushDone(ctx context.Context, force bool) error {
	if len(d.done) == 0 || !force && len(d.done) < completionBatch && time.Since(d.doneSince) < completionDelay {
		return nil
	}
	if err := d.store.MarkInboxDone(ctx, d.done); err != nil {
		return err
	}
	if ce := d.log.Check(zap.DebugLevel, "inbox entries deleted"); ce != nil {
		ce.Write(zap.Strings("entries", d.done))
	}
	d.mu.Lock()
	for _, id := range d.done {
		delete(d.known, id)
		delete(d.mine, id)
	}
	d.mu.Unlock()
	d.done = d.done[:0]
	return nil
}

// flushOnExit deletes the completed entries when Run ends.
func (d *Dispatcher) flushOnExit() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.flushDone(ctx, true); err != nil {
		d.log.Warn("delete applied inbox entries on stop; they are applied again (as duplicates) at start", zap.Error(err))
	}
}

// idleWait is how long Run waits for a wake-up: until the retry after
// backoff, the completions' flush, the first deferral's end or the safety
// read, whichever comes first.
func (d *Dispatcher) idleWait(backoff time.Duration, lastPoll time.Time) time.Duration {
	wait := d.pollEvery - time.Since(lastPoll)
	if backoff > 0 {
		wait = min(wait, backoff)
	}
	if len(d.done) > 0 {
		wait = min(wait, completionDelay-time.Since(d.doneSince))
	}
	now := time.Now()
	for _, until := range d.deferred {
		wait = min(wait, until.Sub(now)+time.Millisecond)
	}
	return max(wait, time.Millisecond)
}
