package conversation_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// TestWindowTimers fires the window warning and then the expiry, once by
// the actor's own timer (it stays in memory) and once by the Sweeper's
// Tick (the actor was passivated, as most idle conversations are).
func TestWindowTimers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// idle is the idle timeout: 0 keeps the actor in memory.
		idle time.Duration
		// sweep runs the Sweeper, whose Ticks are then the only way the
		// timers can fire.
		sweep bool
	}{
		{name: "by the actor's own timer", idle: 0},
		{name: "by the sweeper's tick after passivation", idle: 10 * time.Minute, sweep: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig
			cfg.IdleTimeout = tt.idle
			h := newHarness(t, cfg)
			c := h.must(h.inbound("wamid.1", "hello")).Conversation
			h.must(conversation.Assign{ConversationID: c.ID, AgentID: "ag-1", ByUserID: "sup-1"})
			if tt.sweep {
				h.clock.Advance(tt.idle)
				h.eventually(func() bool { return len(h.probe.stopped()) == 1 }, "passivated")
				require.Zero(t, h.clock.Armed(), "a passivated actor has no timer")
				ctx, cancel := context.WithCancel(context.Background())
				sw := &conversation.Sweeper{Store: h.store, Directory: h.dir, Log: zap.NewNop(), MaxSleep: 5 * time.Millisecond, Now: h.clock.Now}
				done := make(chan error, 1)
				go func() { done <- sw.Run(ctx) }()
				t.Cleanup(func() {
					cancel()
					require.NoError(t, <-done)
				})
			}

			// The warning, an hour before the window ends.
			h.clock.Advance(c.NextTimerAt.Sub(h.clock.Now()) - time.Millisecond)
			assert.Equal(t, []string{actors.NotifyAssigned}, h.store.notificationsOf("ag-1"), "no warning before its time")
			h.clock.Advance(2 * time.Millisecond)
			h.eventually(func() bool { return !h.store.conversation(c.ID).WarnedAt.IsZero() }, "warned")
			warned := h.store.conversation(c.ID)
			assert.Equal(t, actors.StateNew, warned.State)
			assert.Equal(t, c.ExpiresAt, warned.NextTimerAt, "the expiry is next")
			// The notification is stored right after the write the store shows.
			h.eventually(func() bool {
				return slices.Equal([]string{actors.NotifyAssigned, actors.NotifyWindowExpiring}, h.store.notificationsOf("ag-1"))
			}, "the assignee is warned")

			// The expiry, at the window's end.
			h.clock.Advance(c.ExpiresAt.Sub(h.clock.Now()) + time.Millisecond)
			h.eventually(func() bool { return h.store.conversation(c.ID).State == actors.StateExpired }, "expired")
			expired := h.store.conversation(c.ID)
			assert.True(t, expired.NextTimerAt.IsZero(), "no timer left")
			// Published right after the write the store shows.
			h.eventually(func() bool {
				updates := h.events.ofType(actors.EventConversationUpdated)
				return len(updates) > 0 && updates[len(updates)-1].State == actors.StateExpired
			}, "conversation.updated published with the expired state")
		})
	}
}

func TestTickWithNothingDueChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	c := h.must(h.inbound("wamid.1", "hello")).Conversation
	res := h.must(conversation.Tick{})
	assert.Equal(t, c.Version, res.Conversation.Version, "not saved")
	assert.Equal(t, c.Version, h.store.conversation(c.ID).Version)
}

func TestRestartAfterAPanicReloadsFromTheStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.store.panicText = "panic"
	c := h.must(h.inbound("wamid.1", "hello")).Conversation
	require.EqualValues(t, 1, h.store.loads.Load())

	// Another writer moves the stored conversation on; the actor does not
	// know.
	moved := h.store.conversation(c.ID)
	moved.AssigneeID, moved.Version = "ag-9", moved.Version+1
	h.store.put(moved)

	// A bug: the message panics inside the actor. Its request is lost.
	h.dir.Send(key, h.inbound("wamid.2", "panic"))
	h.eventually(func() bool { return h.store.panics.Load() == 1 }, "the panic happened")

	// The actor was restarted from its props: a fresh one that read the
	// store, not the one that held version 2.
	res := h.must(h.inbound("wamid.3", "after the restart"))
	assert.EqualValues(t, 2, h.store.loads.Load(), "read again when restarted")
	assert.Equal(t, c.ID, res.Conversation.ID)
	assert.Equal(t, "ag-9", res.Conversation.AssigneeID, "the stored state, not the old actor's")
	assert.Equal(t, moved.Version+1, res.Conversation.Version)
	assert.EqualValues(t, 2, res.Conversation.Seq)
	assert.Empty(t, h.probe.stopped(), "restarted in place, not retired")
}

func TestHydratedActorNeedsNoRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// hydrate is what the parent hands the actor.
		hydrate func(stored actors.Conversation) actors.Conversation
		// wantLoads is how many store reads the next message costs.
		wantLoads int32
	}{
		{name: "its open conversation", hydrate: func(c actors.Conversation) actors.Conversation { return c }, wantLoads: 0},
		{name: "another key's conversation is ignored", wantLoads: 1,
			hydrate: func(c actors.Conversation) actors.Conversation { c.WaID = "4915199999999"; return c }},
		{name: "a closed conversation is ignored", wantLoads: 1,
			hydrate: func(c actors.Conversation) actors.Conversation { c.State = actors.StateClosed; return c }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, testConfig)
			stored := actors.Conversation{ID: "conv-1", CustomerID: "cust-1", PhoneNumberID: key.PhoneNumberID, WaID: key.WaID,
				State: actors.StateActive, LastInboundAt: start, ExpiresAt: start.Add(time.Hour), NextTimerAt: start.Add(time.Hour),
				Unread: 1, Seq: 1, CreatedAt: start, UpdatedAt: start}
			require.NoError(t, h.store.CreateConversation(t.Context(), stored))
			stored.Version = 1
			_, err := h.system.Root.RequestFuture(h.dir.parent, spawnHydrated{key: key, conversation: tt.hydrate(stored)}, 5*time.Second).Result()
			require.NoError(t, err)
			if tt.wantLoads == 0 {
				at := h.armed()
				assert.Equal(t, start.Add(testConfig.IdleTimeout), at, "its timers are armed as if it had read the conversation")
			}

			res := h.must(h.inbound("wamid.2", "after the restart"))
			assert.Equal(t, "conv-1", res.Conversation.ID)
			assert.EqualValues(t, 2, res.Conversation.Seq)
			assert.Equal(t, tt.wantLoads, h.store.loads.Load())
		})
	}
}

func TestStaleActivationRetires(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// cmd is the command whose write conflicts.
		cmd func(h *harness, id string) conversation.Command
		// wantErr is the answer: an inbound message is applied on top of
		// the newer state instead.
		wantErr error
	}{
		{name: "a command answers ErrStale", wantErr: conversation.ErrStale,
			cmd: func(_ *harness, id string) conversation.Command {
				return conversation.Close{ConversationID: id, ByUserID: "sup-1"}
			}},
		{name: "an inbound message is applied on the newer state",
			cmd: func(h *harness, _ string) conversation.Command { return h.inbound("wamid.2", "two") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, testConfig)
			c := h.must(h.inbound("wamid.1", "one")).Conversation
			// Another activation (another node) wrote a newer version.
			newer := h.store.conversation(c.ID)
			newer.Unread, newer.Version = 7, newer.Version+1
			h.store.put(newer)

			res, err := h.askOnce(tt.cmd(h, c.ID))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, newer, h.store.conversation(c.ID), "nothing newer overwritten")
			} else {
				require.NoError(t, err)
				assert.Equal(t, 8, res.Conversation.Unread, "counted on top of the newer state")
			}
			h.eventually(func() bool { return len(h.probe.stopped()) == 1 }, "the stale activation stopped")
		})
	}
}

func TestFailedTimerWriteIsRetriedAfterAPause(t *testing.T) {
	t.Parallel()
	cfg := testConfig
	cfg.IdleTimeout = 0
	h := newHarness(t, cfg)
	c := h.must(h.inbound("wamid.1", "hello")).Conversation
	h.store.setSaveErr(fmt.Errorf("disk I/O error: %w", actors.ErrUnavailable))
	saves := h.store.saves.Load()
	h.clock.Advance(c.NextTimerAt.Sub(start) + time.Millisecond)
	h.eventually(func() bool { return h.store.saves.Load() == saves+1 && h.clock.Armed() == 1 }, "tried once, then re-armed")
	at, _ := h.clock.Next()
	pause := at.Sub(h.clock.Now())
	assert.GreaterOrEqual(t, pause, time.Second, "not at once: an outage must not spin")
	h.clock.Advance(pause - time.Millisecond)
	assert.Equal(t, saves+1, h.store.saves.Load())

	h.store.setSaveErr(nil)
	h.clock.Advance(time.Millisecond)
	h.eventually(func() bool { return !h.store.conversation(c.ID).WarnedAt.IsZero() }, "applied once the store is back")
}

func TestStoreFailuresAreAnsweredAsUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "hello"))
	h.store.setSaveErr(fmt.Errorf("disk I/O error: %w", actors.ErrUnavailable))
	_, err := h.ask(h.inbound("wamid.2", "lost?"))
	require.ErrorIs(t, err, actors.ErrUnavailable)
	require.NotErrorIs(t, err, conversation.ErrNoAnswer, "the actor answered")
	var f *conversation.Failure
	require.True(t, errors.As(err, &f))
	assert.Equal(t, conversation.CodeUnavailable, f.Code)
	assert.Contains(t, f.Message, "disk I/O error")
}
