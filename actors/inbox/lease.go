package inbox

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Leases: one inbox, several nodes.
//
// Every node of a cluster appends the webhooks it accepts to one inbox in
// the shared store and applies entries from it; an entry is applied by the
// node holding its lease (owner, lease-until). The node that accepts a
// webhook holds it from the append on (AppendInbox stamps the lease), so
// its in-memory fast path (Accept) is unchanged and no other node takes the
// entry while it lives. A node reads the store with ClaimInbox, which hands
// it only entries unclaimed, its own, or whose lease ran out (a dead or
// frozen node's), leased to it in the same atomic write. While it holds
// entries a node renews its live leases every lease/3 (renewLeases, beside
// Run, so a round awaiting slow conversations does not let them lapse); in
// cluster mode it reads the store every lease/2, so a dead node's entries
// are taken over within about 1.5 leases of its last renewal. Lease ends
// are compared with the reader's clock: the nodes' clocks must agree to
// well within a lease (NTP does).
//
// Applying an entry twice stays harmless (conversations drop duplicate
// wamids, statuses only move forward), so the leases are about work, not
// correctness: a node frozen past its lease may finish an entry another
// node took over meanwhile, and both delete it.
//
// Why the inbox stays in the store rather than a RabbitMQ quorum queue, and
// what a claim costs: see the package doc.

const (
	// SingleNode is the owner of every lease in single-node mode
	// (Options.NodeID empty): a restarted engine finds its previous
	// process's entries its own and takes them at once, as before leases.
	SingleNode = "local"
	// DefaultLease is how long an entry stays a node's without renewal.
	DefaultLease = 10 * time.Second
)

// AppendInbox stores entries leased to this node for a lease, so that no
// other node takes them while this one dispatches them from memory
// (Accept). The gateway writes accepted webhooks through it. The entries
// given are not changed.
func (d *Dispatcher) AppendInbox(ctx context.Context, entries []actors.InboxEntry) error {
	until := time.Now().Add(d.lease)
	if !d.servingNow() {
		// Not serving: leased to nobody, so the serving nodes claim it at
		// once (this node takes it back from the store when it serves
		// again, if nobody did).
		until = time.Now()
	}
	leased := make([]actors.InboxEntry, len(entries))
	for i, e := range entries {
		e.Owner, e.LeaseUntil = d.node, until
		leased[i] = e
	}
	if err := d.store.AppendInbox(ctx, leased); err != nil {
		return err
	}
	d.accepted(entries)
	return nil
}

// holds reports whether the dispatcher holds entries whose leases must
// not lapse: taken and not yet deleted, deferred, or queued from memory.
func (d *Dispatcher) holds() bool {
	if len(d.known) > 0 || len(d.deferred) > 0 {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.fresh) > 0
}

// renewLeases renews this node's live leases every lease/3 while the
// dispatcher holds entries (from the moment they are accepted or claimed
// until Run finds it holds none), until ctx ends; a renewal may take up to
// lease/2. A failed renewal is logged:
// the entries may then be taken over by another node and applied twice,
// which is harmless.
func (d *Dispatcher) renewLeases(ctx context.Context) {
	every := max(d.lease/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !d.holding.Load() || !d.servingNow() {
			// A node that does not serve lets its leases lapse: the
			// serving nodes take its entries over.
			continue
		}
		now := time.Now()
		rctx, cancel := context.WithTimeout(ctx, d.lease/2)
		n, err := d.store.RenewInbox(rctx, d.node, now, now.Add(d.lease))
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("renew inbox leases; another node may take the entries over", zap.Error(err))
			}
			continue
		}
		d.log.Debug("inbox leases renewed", zap.Int("entries", n))
	}
}

// servingNow reports Options.Serving (true when unset).
func (d *Dispatcher) servingNow() bool { return d.serving == nil || d.serving() }

// waitServing waits until the node serves again, checking every
// servingCheck; false when ctx ended first.
func (d *Dispatcher) waitServing(ctx context.Context) bool {
	d.log.Warn("this node does not serve conversations; the inbox hands nothing over and lets its leases lapse")
	t := time.NewTicker(servingCheck)
	defer t.Stop()
	for !d.servingNow() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	d.log.Info("this node serves conversations again; the inbox resumes")
	return true
}

// servingCheck is how often a dispatcher that does not serve checks
// whether it serves again.
const servingCheck = 100 * time.Millisecond
