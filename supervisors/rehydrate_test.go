package supervisors

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/actors/conversation/conversationtest"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// countingStore counts the reads an activation makes of its conversation.
type countingStore struct {
	*sqlitestore.Store
	loads atomic.Int32
}

func (s *countingStore) OpenConversation(ctx context.Context, phoneNumberID, waID string) (actors.Conversation, error) {
	s.loads.Add(1)
	return s.Store.OpenConversation(ctx, phoneNumberID, waID)
}

// newHostOver starts a host, in a fresh actor system, over store: what a
// restarted engine does. clock nil is the system clock.
func newHostOver(t *testing.T, store conversation.Store, cfg conversation.Config, clock conversation.Clock) *Host {
	t.Helper()
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	deps := &conversation.Deps{Store: store, Config: cfg, Log: zap.NewNop(), Clock: clock}
	return NewHost(system, deps, 4, deps.Log)
}

// seedConversation stores an open conversation of customer waID as an
// earlier process would have left it.
func seedConversation(t *testing.T, store *sqlitestore.Store, waID, state string, updated, expires time.Time) actors.Conversation {
	t.Helper()
	c := actors.Conversation{ID: actors.NewID(), CustomerID: actors.NewID(), PhoneNumberID: "pn", WaID: waID, State: state,
		LastInboundAt: updated, ExpiresAt: expires, NextTimerAt: expires, Unread: 1, Seq: 1, Version: 1,
		CreatedAt: updated, UpdatedAt: updated}
	if state == actors.StateClosed {
		c.ClosedAt, c.NextTimerAt = updated, time.Time{}
	}
	require.NoError(t, store.CreateConversation(t.Context(), c))
	return c
}

func TestRehydratedConversationsNeedNoLoad(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: newStore(t)}
	cfg := conversation.Config{Window: 24 * time.Hour, IdleTimeout: time.Hour}
	now := time.Now().UTC().Truncate(time.Millisecond)
	expires := now.Add(23 * time.Hour)
	var open []actors.Conversation
	for i := range 5 {
		open = append(open, seedConversation(t, store.Store, fmt.Sprintf("91000000000%d", i), actors.StateActive, now.Add(-time.Duration(i)*time.Minute), expires))
	}
	open = append(open, seedConversation(t, store.Store, "919999999990", actors.StateNew, now, expires))
	// Left out: closed, expired, and idle for longer than the idle timeout.
	seedConversation(t, store.Store, "918888888881", actors.StateClosed, now, time.Time{})
	seedConversation(t, store.Store, "918888888882", actors.StateExpired, now, now.Add(-time.Minute))
	seedConversation(t, store.Store, "918888888883", actors.StateActive, now.Add(-2*time.Hour), expires)

	h := newHostOver(t, store, cfg, nil)
	r, err := h.Rehydrate(t.Context(), store, 0)
	require.NoError(t, err)
	assert.Equal(t, len(open), r.Spawned)
	assert.Equal(t, len(open), r.Read)
	assert.False(t, r.Truncated)
	assert.Equal(t, len(open), h.Live())
	assert.Zero(t, store.loads.Load(), "rehydration reads pages, not one conversation at a time")

	for i, c := range open {
		key := conversation.Key{PhoneNumberID: c.PhoneNumberID, WaID: c.WaID}
		res := ask(t, h, key, inbound(key, fmt.Sprintf("wamid.r%d", i), "after the restart"))
		assert.Equal(t, c.ID, res.Conversation.ID, "the rehydrated conversation takes the message")
		assert.EqualValues(t, 2, res.Conversation.Seq)
		assert.Equal(t, 2, res.Conversation.Unread)
	}
	assert.Zero(t, store.loads.Load(), "a message to a rehydrated conversation reads nothing more")
	assert.Equal(t, len(open), h.Live())
}

func TestRehydratedConversationFiresItsTimerWithoutAMessage(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: newStore(t)}
	clock := conversationtest.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	now := clock.Now()
	// The window ends in 300ms; no sweeper runs, so only the rehydrated
	// actor's own timer can expire it.
	c := seedConversation(t, store.Store, "917777777777", actors.StateActive, now, now.Add(300*time.Millisecond))
	h := newHostOver(t, store, conversation.Config{Window: 24 * time.Hour, IdleTimeout: time.Hour}, clock)
	r, err := h.Rehydrate(t.Context(), store, 0)
	require.NoError(t, err)
	require.Equal(t, 1, r.Spawned)
	// The actor arms its one timer for the idle timeout when it starts,
	// then earlier, for the window, once Hydrate is applied: wait for that.
	require.Eventually(t, func() bool {
		at, ok := clock.Next()
		return ok && clock.Armed() == 1 && at.Before(now.Add(time.Second))
	}, 5*time.Second, 5*time.Millisecond, "the hydrated actor armed its timer for the window")

	clock.Advance(299 * time.Millisecond)
	got, err := store.Conversation(t.Context(), c.ID)
	require.NoError(t, err)
	require.Equal(t, actors.StateActive, got.State, "not expired before its time")
	clock.Advance(2 * time.Millisecond)
	require.Eventually(t, func() bool {
		got, err := store.Conversation(context.Background(), c.ID)
		return err == nil && got.State == actors.StateExpired
	}, 10*time.Second, 5*time.Millisecond, "the armed timer expires the conversation")
	assert.Zero(t, store.loads.Load())
}

func TestRehydrateLeavesLiveConversationsAlone(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: newStore(t)}
	cfg := conversation.Config{Window: 24 * time.Hour, IdleTimeout: time.Hour}
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := seedConversation(t, store.Store, "916666666661", actors.StateActive, now.Add(-time.Minute), now.Add(time.Hour))
	b := seedConversation(t, store.Store, "916666666662", actors.StateActive, now, now.Add(time.Hour))
	h := newHostOver(t, store, cfg, nil)

	// A message reaches a before rehydration does: its actor reads the
	// store, and rehydration must not replace it.
	ka := conversation.Key{PhoneNumberID: "pn", WaID: a.WaID}
	first := ask(t, h, ka, inbound(ka, "wamid.l1", "before"))
	require.EqualValues(t, 2, first.Conversation.Version)
	require.EqualValues(t, 1, store.loads.Load())

	r, err := h.Rehydrate(t.Context(), store, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, r.Read)
	assert.Equal(t, 1, r.Spawned, "only b was not in memory")
	assert.Equal(t, 2, h.Live())

	res := ask(t, h, ka, inbound(ka, "wamid.l2", "after"))
	assert.EqualValues(t, 3, res.Conversation.Seq, "the first activation kept its state")
	kb := conversation.Key{PhoneNumberID: "pn", WaID: b.WaID}
	res = ask(t, h, kb, inbound(kb, "wamid.l3", "after"))
	assert.Equal(t, b.ID, res.Conversation.ID)
	assert.EqualValues(t, 1, store.loads.Load(), "b was rehydrated, not loaded")
}

func TestRehydrateStopsAtItsLimitNewestFirst(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: newStore(t)}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var seeded []actors.Conversation
	for i := range 5 {
		seeded = append(seeded, seedConversation(t, store.Store, fmt.Sprintf("91500000000%d", i), actors.StateNew, now.Add(-time.Duration(i)*time.Second), now.Add(time.Hour)))
	}
	h := newHostOver(t, store, conversation.Config{Window: 24 * time.Hour, IdleTimeout: time.Hour}, nil)
	r, err := h.Rehydrate(t.Context(), store, 3)
	require.NoError(t, err)
	assert.Equal(t, 3, r.Spawned)
	assert.True(t, r.Truncated)

	// The three newest are in memory and read nothing; the oldest two are
	// activated from the store as usual.
	for i, c := range seeded {
		key := conversation.Key{PhoneNumberID: "pn", WaID: c.WaID}
		res := ask(t, h, key, inbound(key, fmt.Sprintf("wamid.m%d", i), "hi"))
		assert.Equal(t, c.ID, res.Conversation.ID)
		wantLoads := max(0, i-2)
		assert.EqualValues(t, wantLoads, store.loads.Load(), "reads after the message to conversation %d", i)
	}
	assert.Equal(t, 5, h.Live())
}

func TestRehydratedConversationSurvivesARestart(t *testing.T) {
	t.Parallel()
	store := &panicStore{Store: newStore(t)}
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := seedConversation(t, store.Store, "914444444444", actors.StateActive, now, now.Add(time.Hour))
	h := newHostOver(t, store, conversation.Config{Window: 24 * time.Hour, IdleTimeout: time.Hour}, nil)
	_, err := h.Rehydrate(t.Context(), store.Store, 0)
	require.NoError(t, err)
	key := conversation.Key{PhoneNumberID: "pn", WaID: c.WaID}

	_, err = conversation.Ask(h, key, inbound(key, "wamid.s1", "panic"), 500*time.Millisecond)
	require.ErrorIs(t, err, actors.ErrUnavailable, "the panic fails that request")
	require.EqualValues(t, 1, store.panics.Load())

	// The restarted actor kept its key (from its name) and reads its
	// conversation from the store on this message.
	res := ask(t, h, key, inbound(key, "wamid.s2", "after the panic"))
	assert.Equal(t, c.ID, res.Conversation.ID)
	assert.EqualValues(t, 2, res.Conversation.Seq)
	assert.Equal(t, 1, h.Live())
}

// failingSaveStore refuses every conversation save, as a store that is down
// would, and counts the attempts.
type failingSaveStore struct {
	*sqlitestore.Store
	saves atomic.Int32
}

func (f *failingSaveStore) SaveConversation(context.Context, actors.Conversation) error {
	f.saves.Add(1)
	return fmt.Errorf("save conversation: disk I/O error: %w", actors.ErrUnavailable)
}

// A due timer whose write fails is retried after a pause, not at once: an
// outage must not turn every due conversation into a busy loop.
func TestFailingTimerWriteIsRetriedAfterAPause(t *testing.T) {
	t.Parallel()
	store := &failingSaveStore{Store: newStore(t)}
	clock := conversationtest.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	now := clock.Now()
	seedConversation(t, store.Store, "917777777777", actors.StateActive, now.Add(-time.Minute), now.Add(-time.Second))
	h := newHostOver(t, store, conversation.Config{Window: 24 * time.Hour, IdleTimeout: time.Hour}, clock)
	_, err := h.Rehydrate(t.Context(), store.Store, 0)
	require.NoError(t, err)
	// The actor arms its one timer for the idle timeout when it starts,
	// then earlier, for the window, once Hydrate is applied: wait for that.
	require.Eventually(t, func() bool {
		at, ok := clock.Next()
		return ok && clock.Armed() == 1 && at.Before(now.Add(time.Second))
	}, 5*time.Second, 5*time.Millisecond, "the hydrated actor armed its timer for the window")

	clock.Advance(time.Millisecond)
	// The due expiry is tried, fails, and the actor arms its one timer for
	// the retry.
	require.Eventually(t, func() bool { return store.saves.Load() == 1 && clock.Armed() == 1 }, 5*time.Second, 5*time.Millisecond)
	at, ok := clock.Next()
	require.True(t, ok)
	pause := at.Sub(clock.Now())
	assert.GreaterOrEqual(t, pause, time.Second, "retried after a pause, not at once")

	// Nothing fires before the pause is over: time is the clock's.
	clock.Advance(pause - time.Millisecond)
	assert.EqualValues(t, 1, store.saves.Load(), "not tried again during the pause")
	clock.Advance(time.Millisecond)
	require.Eventually(t, func() bool { return store.saves.Load() == 2 }, 5*time.Second, 5*time.Millisecond, "tried again once the pause is over")
	assert.Equal(t, 1, h.Live())
}

func TestRehydrateLimitEqualToTheOpenOnesIsNotTruncated(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range 2 {
		seedConversation(t, store, fmt.Sprintf("91600000000%d", i), actors.StateActive, now, now.Add(time.Hour))
	}
	h := newHostOver(t, store, conversation.Config{Window: 24 * time.Hour, IdleTimeout: time.Hour}, nil)
	r, err := h.Rehydrate(t.Context(), store, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, r.Spawned)
	assert.False(t, r.Truncated, "nothing was left out")
}
