package supervisors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/wacc/engine/actors/conversation"
)

// stopAll asks a shard to stop every conversation actor it holds; it
// answers how many it stopped.
type stopAll struct{}

// StopAll stops every conversation actor in memory and keeps the shards: a
// node that lost its cluster membership calls it so that none of its
// activations keeps serving beside the new owner's. The actors are retired
// first (conversation.Deps.RetireAll): the commands left in their
// mailboxes are refused as stale, or, sent without waiting for an answer,
// handed to their successors; none is applied with the old state. Commands
// that arrive meanwhile wait for the stopping actor as after an idle stop,
// and activate a fresh actor that reloads its state from the store. It returns how many
// actors were told to stop, once every shard has, or ctx's error.
func (h *Host) StopAll(ctx context.Context) (int, error) {
	// Retired first: what waits in their mailboxes is refused (or handed
	// to their successors), not applied with the state they hold.
	h.deps.RetireAll()
	futures := make([]*actor.Future, 0, len(h.shards))
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	for _, pid := range h.shards {
		futures = append(futures, h.system.Root.RequestFuture(pid, stopAll{}, timeout))
	}
	n := 0
	for _, f := range futures {
		v, err := f.Result()
		if err != nil {
			return n, fmt.Errorf("stop conversation actors: %w", err)
		}
		n += v.(int)
	}
	return n, ctx.Err()
}

// stopChildren stops every child as an idle stop does: commands for its key
// wait for it to terminate and go to its successor.
func (s *shard) stopChildren(c actor.Context) int {
	n := 0
	for name, pid := range s.children {
		key, ok := conversation.KeyFromName(name)
		if !ok {
			continue
		}
		delete(s.children, name)
		s.stopping[key] = nil
		// Poison, not Stop: the commands already in its mailbox are
		// answered first, so nothing it was handed is dropped.
		c.Poison(pid)
		n++
	}
	return n
}
