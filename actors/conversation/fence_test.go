package conversation_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/actors/conversation/conversationtest"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// fenceNode is one engine of a cluster in a test: its own actor system and
// parent, over a store it shares with the other nodes, fencing every
// activation (Deps.Epochs) and counting refused writes.
type fenceNode struct {
	t      *testing.T
	dir    directory
	probe  *probe
	events *eventLog
	outbox *outbox
	fenced atomic.Int64
	// retired counts the commands a retiring activation refused.
	retired atomic.Int64
}

// openFencedStore is a real SQLite store for the nodes of one test.
func openFencedStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "engine.db"), zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newFenceNode(t *testing.T, store *sqlitestore.Store, clock *conversationtest.Clock, cfg conversation.Config) *fenceNode {
	t.Helper()
	n := &fenceNode{t: t, probe: &probe{}, events: &eventLog{}, outbox: &outbox{}}
	system := quietSystem()
	t.Cleanup(system.Shutdown)
	deps := &conversation.Deps{Store: store, Publisher: n.events, Outbox: n.outbox, Config: cfg, Clock: clock,
		Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), Epochs: store, FencedWrite: func() { n.fenced.Add(1) },
		RetiredCommand: func() { n.retired.Add(1) }}
	props := actor.PropsFromProducer(func() actor.Actor {
		return &parent{props: conversation.Props(system, deps), hydrated: conversation.HydratedProps(system, deps),
			children: map[conversation.Key]*actor.PID{}, probe: n.probe}
	})
	n.dir = directory{system: system, parent: system.Root.Spawn(props)}
	return n
}

func (n *fenceNode) ask(cmd conversation.Command) (conversation.Result, error) {
	n.t.Helper()
	return conversation.Ask(n.dir, key, cmd, 5*time.Second)
}

// askOnce delivers cmd once (Ask delivers a command refused as stale again,
// to the key's next activation): the answer of the activation it reaches.
func (n *fenceNode) askOnce(cmd conversation.Command) (conversation.Result, error) {
	n.t.Helper()
	return conversation.Await(key, n.dir.Request(key, cmd, 5*time.Second))
}

func (n *fenceNode) must(cmd conversation.Command) conversation.Result {
	n.t.Helper()
	res, err := n.ask(cmd)
	require.NoError(n.t, err)
	return res
}

// fenceInbound is a customer's text message at clock's now.
func fenceInbound(clock *conversationtest.Clock, wamid, body string) conversation.Inbound {
	return conversation.Inbound{Msg: actors.InboundMessage{PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, WaMessageID: wamid, Type: "text",
		Text: body, Content: []byte(`{"body":"` + body + `"}`), Timestamp: clock.Now(), ProfileName: "Asha"}}
}

// TestFenceRefusesTheOlderActivationsWrite runs two activations of one
// conversation on two nodes over one store, as after a node froze and
// another took its conversations over: the newer activation has only read
// (it wrote nothing yet), and the older one's write is refused all the
// same, changes nothing, is counted, and stops the older actor; the newer
// then writes, and the older node's next command activates it afresh.
func TestFenceRefusesTheOlderActivationsWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		// name names the older activation's write.
		name string
		// prepare runs on the older node before the newer one activates.
		prepare func(t *testing.T, old *fenceNode, clock *conversationtest.Clock, store *sqlitestore.Store)
		// stale is the older node's command whose write is refused.
		stale func(clock *conversationtest.Clock, convID string) conversation.Command
		// unchanged checks that the refused write left the store as it was.
		unchanged func(t *testing.T, ctx context.Context, s *sqlitestore.Store, convID string)
	}{
		{name: "an inbound message",
			stale: func(clock *conversationtest.Clock, _ string) conversation.Command {
				return fenceInbound(clock, "wamid.2", "two")
			},
			unchanged: func(t *testing.T, ctx context.Context, s *sqlitestore.Store, _ string) {
				_, err := s.MessageByWaID(ctx, "wamid.2")
				require.ErrorIs(t, err, actors.ErrNotFound, "the refused message was not stored")
			}},
		{name: "a close",
			stale: func(_ *conversationtest.Clock, convID string) conversation.Command {
				return conversation.Close{ConversationID: convID, ByUserID: "sup-1"}
			},
			unchanged: func(t *testing.T, ctx context.Context, s *sqlitestore.Store, convID string) {
				c, err := s.Conversation(ctx, convID)
				require.NoError(t, err)
				assert.True(t, c.Open(), "the refused close left it open")
			}},
		{name: "a send",
			stale: func(_ *conversationtest.Clock, _ string) conversation.Command { return text("o1", "hello") },
			unchanged: func(t *testing.T, ctx context.Context, s *sqlitestore.Store, _ string) {
				_, err := s.Message(ctx, "o1")
				require.ErrorIs(t, err, actors.ErrNotFound, "the refused send stored nothing")
			}},
		{name: "a delivery status",
			prepare: func(t *testing.T, old *fenceNode, clock *conversationtest.Clock, store *sqlitestore.Store) {
				old.must(text("o1", "hello"))
				// The sender stores the outcome, then tells the actor.
				_, err := store.UpdateMessageStatus(t.Context(), "o1", actors.StatusSent, "wamid.o1", nil, clock.Now())
				require.NoError(t, err)
				old.must(conversation.SendOutcome{MessageID: "o1", WaMessageID: "wamid.o1", Status: actors.StatusSent})
			},
			stale: func(clock *conversationtest.Clock, _ string) conversation.Command {
				return conversation.StatusChanged{Update: actors.StatusUpdate{PhoneNumberID: key.PhoneNumberID, WaMessageID: "wamid.o1",
					RecipientID: key.WaID, Status: actors.StatusDelivered, Timestamp: clock.Now()}}
			},
			unchanged: func(t *testing.T, ctx context.Context, s *sqlitestore.Store, _ string) {
				m, err := s.Message(ctx, "o1")
				require.NoError(t, err)
				assert.Equal(t, actors.StatusSent, m.Status, "the refused status left the message sent")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			store := openFencedStore(t)
			clock := conversationtest.NewClock(start)
			old, newer := newFenceNode(t, store, clock, testConfig), newFenceNode(t, store, clock, testConfig)

			c := old.must(fenceInbound(clock, "wamid.1", "one")).Conversation
			if tt.prepare != nil {
				tt.prepare(t, old, clock, store)
			}
			before, err := store.Conversation(ctx, c.ID)
			require.NoError(t, err)
			// The newer activation reads and writes nothing: a Tick with
			// no timer due.
			newer.must(conversation.Tick{})

			_, err = old.askOnce(tt.stale(clock, c.ID))
			require.ErrorIs(t, err, actors.ErrFenced)
			require.ErrorIs(t, err, conversation.ErrStale, "callers that retry a stale activation retry a fenced one")
			var f *conversation.Failure
			require.ErrorAs(t, err, &f)
			assert.Equal(t, conversation.CodeFenced, f.Code)
			assert.Equal(t, int64(1), old.fenced.Load(), "the refusal is counted")
			require.Eventually(t, func() bool { return len(old.probe.stopped()) == 1 }, 5*time.Second, 2*time.Millisecond,
				"the older activation stopped")
			after, err := store.Conversation(ctx, c.ID)
			require.NoError(t, err)
			assert.Equal(t, before, after, "the refused write changed nothing")
			tt.unchanged(t, ctx, store, c.ID)

			// The newer activation writes.
			res := newer.must(fenceInbound(clock, "wamid.3", "three"))
			assert.Equal(t, before.Version+1, res.Conversation.Version)
			assert.Zero(t, newer.fenced.Load())

			// The older node's next command activates afresh: it reads the
			// newer state and now fences the other node.
			res = old.must(fenceInbound(clock, "wamid.4", "four"))
			assert.Equal(t, before.Version+2, res.Conversation.Version, "applied on top of the newer activation's write")
			_, err = newer.askOnce(fenceInbound(clock, "wamid.5", "five"))
			require.ErrorIs(t, err, actors.ErrFenced)
			assert.Equal(t, int64(1), newer.fenced.Load())
		})
	}
}

// TestFencedActivationAnswersEveryQueuedCommand: commands queued behind
// the write that fences an activation are answered at once (refused as
// stale, or applied by the key's next activation), none waits for its
// caller's timeout, and a command sent without waiting for an answer is
// applied by the next activation rather than dropped.
func TestFencedActivationAnswersEveryQueuedCommand(t *testing.T) {
	t.Parallel()
	store := openFencedStore(t)
	clock := conversationtest.NewClock(start)
	old, newer := newFenceNode(t, store, clock, testConfig), newFenceNode(t, store, clock, testConfig)
	old.must(fenceInbound(clock, "wamid.1", "one"))
	newer.must(conversation.Tick{})

	// The first of these is fenced; the rest wait in the mailbox behind it.
	const queued = 30
	replies := make([]conversation.Reply, queued)
	for i := range replies {
		replies[i] = old.dir.Request(key, fenceInbound(clock, fmt.Sprintf("wamid.q%d", i), "queued"), 4*time.Second)
	}
	old.dir.Send(key, fenceInbound(clock, "wamid.sent", "sent without waiting"))
	stale, applied := 0, 0
	for i, r := range replies {
		_, err := conversation.Await(key, r)
		switch {
		case err == nil:
			applied++
		case errors.Is(err, conversation.ErrStale):
			stale++
		default:
			t.Errorf("queued command %d: %v (a command queued behind a fenced write must be answered, not time out)", i, err)
		}
	}
	t.Logf("%d refused as stale, %d applied by the next activation", stale, applied)
	assert.Positive(t, stale, "the fenced write and the commands behind it are refused as stale")
	assert.Equal(t, int64(stale), old.fenced.Load()+old.retired.Load(), "each refusal counted: the fenced write, then the retired commands")
	require.Eventually(t, func() bool {
		_, err := store.MessageByWaID(t.Context(), "wamid.sent")
		return err == nil
	}, 5*time.Second, 5*time.Millisecond, "a command sent without waiting reaches the next activation")
}

// TestFenceExpiresAWindowOnceWithStaleTimersAndTheSweeper: both nodes hold
// an activation of one conversation with its expiry armed, and a sweeper
// ticks it from the store through the older node as well; when the window
// ends it expires exactly once, the stale activation's timer write being
// refused.
func TestFenceExpiresAWindowOnceWithStaleTimersAndTheSweeper(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := testConfig
	cfg.IdleTimeout, cfg.Warning = 0, 0
	store := openFencedStore(t)
	clock := conversationtest.NewClock(start)
	old, newer := newFenceNode(t, store, clock, cfg), newFenceNode(t, store, clock, cfg)

	c := old.must(fenceInbound(clock, "wamid.1", "one")).Conversation
	require.False(t, c.NextTimerAt.IsZero())
	newer.must(conversation.Tick{})
	require.Eventually(t, func() bool { return clock.Armed() == 2 }, 5*time.Second, 2*time.Millisecond, "both activations armed the expiry")

	sweepCtx, stop := context.WithCancel(ctx)
	swept := make(chan error, 1)
	sw := &conversation.Sweeper{Store: store, Directory: old.dir, Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		MaxSleep: 5 * time.Millisecond, Now: clock.Now}
	go func() { swept <- sw.Run(sweepCtx) }()
	t.Cleanup(func() {
		stop()
		assert.NoError(t, <-swept)
	})

	clock.Advance(c.ExpiresAt.Sub(clock.Now()) + time.Millisecond)
	require.Eventually(t, func() bool {
		got, err := store.Conversation(ctx, c.ID)
		return err == nil && got.State == actors.StateExpired
	}, 5*time.Second, 2*time.Millisecond, "the window expired")
	require.Eventually(t, func() bool { return old.fenced.Load()+newer.fenced.Load() >= 1 }, 5*time.Second, 2*time.Millisecond,
		"a stale timer write was refused")
	// Let the sweeper go round again: nothing is due any more.
	next, ok, err := store.NextTimer(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "no timer left (next %v)", next)

	expired := func(l *eventLog) int {
		n := 0
		for _, ev := range l.ofType(actors.EventConversationUpdated) {
			if ev.State == actors.StateExpired {
				n++
			}
		}
		return n
	}
	assert.Equal(t, 1, expired(old.events)+expired(newer.events), "one expiry published")
	got, err := store.Conversation(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, c.Version+1, got.Version, "one expiry written")
}

// TestAskDeliversAFencedCommandAgainToTheNextActivation: Ask hands a
// command refused as stale (here fenced: it applied nothing) to the key's
// next activation, which reloads and applies it once.
func TestAskDeliversAFencedCommandAgainToTheNextActivation(t *testing.T) {
	t.Parallel()
	store := openFencedStore(t)
	clock := conversationtest.NewClock(start)
	old, newer := newFenceNode(t, store, clock, testConfig), newFenceNode(t, store, clock, testConfig)
	old.must(fenceInbound(clock, "wamid.1", "one"))
	newer.must(conversation.Tick{})

	res, err := old.ask(text("o1", "hello"))
	require.NoError(t, err, "delivered again after the refusal")
	assert.Equal(t, int64(1), old.fenced.Load(), "the first delivery was refused")
	assert.Equal(t, "o1", res.Message.ID)
	m, err := store.Message(t.Context(), "o1")
	require.NoError(t, err)
	assert.Equal(t, actors.StatusQueued, m.Status, "stored once, by the next activation")
}
