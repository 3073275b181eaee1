package supervisors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// OpenConversations is what Rehydrate reads: keyset pages of the open
// conversations updated since a cut-off, newest first (see
// actors.ConversationStore).
type OpenConversations interface {
	OpenConversationsSince(ctx context.Context, since, afterUpdatedAt time.Time, afterID string, limit int) ([]actors.Conversation, error)
}

// Rehydration says what one Rehydrate did.
type Rehydration struct {
	// Since is the cut-off: conversations updated before it stayed out.
	Since time.Time
	// Read is how many open conversations the store returned; Spawned how
	// many actors were spawned with their state. The others were in memory
	// already (a message got there first) or on their way out.
	Read, Spawned int
	// Truncated is set when the limit stopped the walk before the cut-off.
	Truncated bool
	Duration  time.Duration
}

// rehydratePage is how many conversations Rehydrate reads and hands over at
// a time; it bounds the memory rehydration holds besides the actors.
const rehydratePage = 1000

// hydrateTimeout bounds how long one page waits for its shards.
const hydrateTimeout = time.Minute

// Rehydrate brings back into memory, after a restart, the conversations
// that were there before: those in state new or active updated within the
// idle timeout (Config.IdleTimeout; all open ones when it is 0), most
// recently updated first, at most limit of them (0: no limit). Each is
// spawned holding the state read here, its timers armed, so its first
// message costs no store read. It reads a page at a time and waits for the
// shards to take a page before reading the next, so it holds at most one
// page besides the actors. A key that already has an actor (a message got
// there first, with state at least as fresh) is left alone.
//
// The rule is an approximation of "in memory before the restart": an actor
// stays IdleTimeout after its last message, and most messages save the
// conversation (UpdatedAt), but delivery statuses do not. A rehydrated
// actor then stays for a full IdleTimeout unless a message comes.
//
// It logs one info line when done and returns what it did; an error (the
// store, ctx ending, a shard not answering) stops it where it is, leaving
// what it spawned in place.
func (h *Host) Rehydrate(ctx context.Context, store OpenConversations, limit int) (Rehydration, error) {
	start := time.Now()
	now := time.Now
	if h.deps.Clock != nil {
		now = h.deps.Clock.Now
	}
	var r Rehydration
	if idle := h.deps.Config.IdleTimeout; idle > 0 {
		r.Since = now().Add(-idle).UTC().Truncate(time.Millisecond)
	}
	var afterAt time.Time
	afterID := ""
	for {
		n := rehydratePage
		if limit > 0 {
			n = min(n, limit-r.Read)
			if n <= 0 {
				// The limit is reached: truncated only if one more is
				// there (exactly limit open conversations is not).
				more, err := store.OpenConversationsSince(ctx, r.Since, afterAt, afterID, 1)
				r.Truncated = err != nil || len(more) > 0
				break
			}
		}
		page, err := store.OpenConversationsSince(ctx, r.Since, afterAt, afterID, n)
		if err != nil {
			r.Duration = time.Since(start)
			return r, fmt.Errorf("rehydrate conversations: %w", err)
		}
		r.Read += len(page)
		spawned, err := h.hydrate(ctx, page)
		r.Spawned += spawned
		if err != nil {
			r.Duration = time.Since(start)
			return r, fmt.Errorf("rehydrate conversations: %w", err)
		}
		if len(page) < n {
			break
		}
		last := page[len(page)-1]
		afterAt, afterID = last.UpdatedAt, last.ID
	}
	r.Duration = time.Since(start)
	h.log.Info("conversations rehydrated", zap.Int("count", r.Spawned), zap.Int("read", r.Read), zap.Time("since", r.Since),
		zap.Bool("truncated", r.Truncated), zap.Duration("duration", r.Duration))
	return r, nil
}

// hydrate hands one page to the shards, one batch per shard, and waits for
// every shard to have spawned its part. It returns how many actors were
// spawned.
func (h *Host) hydrate(ctx context.Context, page []actors.Conversation) (int, error) {
	if len(page) == 0 {
		return 0, nil
	}
	batches := map[*actor.PID][]actors.Conversation{}
	for _, c := range page {
		pid := h.shard(conversation.Key{PhoneNumberID: c.PhoneNumberID, WaID: c.WaID})
		batches[pid] = append(batches[pid], c)
	}
	futures := make([]*actor.Future, 0, len(batches))
	for pid, batch := range batches {
		futures = append(futures, h.system.Root.RequestFuture(pid, hydrate{conversations: batch}, hydrateTimeout))
	}
	spawned := 0
	var firstErr error
	for _, f := range futures {
		// Wait for every future even after an error: a page is only done
		// when every shard has answered or timed out.
		res, err := f.Result()
		switch {
		case err != nil:
			if firstErr == nil {
				firstErr = fmt.Errorf("hand a page to a shard: %w", err)
			}
		default:
			spawned += res.(int)
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return spawned, firstErr
}

// hydrate asks a shard to spawn the actors of conversations with their
// state; the shard answers how many it spawned.
type hydrate struct {
	conversations []actors.Conversation
}

// hydrate spawns, for each conversation whose key has no actor, one that
// holds it, and returns how many it spawned.
func (s *shard) hydrate(c actor.Context, convs []actors.Conversation) int {
	n := 0
	for _, conv := range convs {
		key := conversation.Key{PhoneNumberID: conv.PhoneNumberID, WaID: conv.WaID}
		if s.children.has(key) || !key.Valid() {
			continue
		}
		if _, ok := s.stopping[key]; ok {
			continue
		}
		if _, ok := s.parked[key]; ok {
			continue
		}
		pid, err := c.SpawnNamed(s.hydrated, key.Name())
		if err != nil {
			s.log.Error("conversation actor of this key already running", zap.String("actor", key.Name()), zap.Error(err))
			continue
		}
		// Hydrate is the first message in the child's mailbox: whatever the
		// shard forwards to it later comes after.
		c.Send(pid, conversation.Hydrate{Conversation: conv})
		s.children.put(key, pid)
		n++
	}
	return n
}
