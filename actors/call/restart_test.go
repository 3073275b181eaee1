package call_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/gateway/outbound/exotel"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// panicStore panics on the first save of a completed call once armed, as
// a bug in the write path would.
type panicStore struct {
	*sqlitestore.Store
	armed  atomic.Bool
	panics atomic.Int32
}

func (p *panicStore) SaveCall(ctx context.Context, c actors.Call) error {
	if c.Status == actors.CallCompleted && p.armed.CompareAndSwap(true, false) {
		p.panics.Add(1)
		panic("bug while saving a call")
	}
	return p.Store.SaveCall(ctx, c)
}

func TestPanicRestartsTheCallFromItsPersistedState(t *testing.T) {
	t.Parallel()
	var ps *panicStore
	h := newHarness(t, withStore(func(s *sqlitestore.Store) call.Store {
		ps = &panicStore{Store: s}
		return ps
	}))
	c := h.start(newCall("agent-1", customer("2121")))
	h.ask(c.ID, call.BeginConnect{})
	active := h.ask(c.ID, call.Connected{Sid: "sid-2121", Status: actors.CallRinging}).Call
	other := h.start(newCall("agent-2", customer("2122")))

	ev := actors.CallEvent{ID: actors.NewID(), CallID: c.ID, CallSid: "sid-2121", EventType: "terminal", Status: actors.CallCompleted,
		DurationSec: 30, DateUpdated: time.Now().UTC().Truncate(time.Second)}
	_, err := h.store.AddCallEvent(context.Background(), ev)
	require.NoError(t, err)
	ps.armed.Store(true)
	// The panic loses that one answer (the caller times out)...
	_, err = call.Ask(h.calls, c.ID, call.Callback{Event: ev}, 500*time.Millisecond)
	require.ErrorIs(t, err, call.ErrNoAnswer)
	require.EqualValues(t, 1, ps.panics.Load())

	// ...the other call carries on...
	require.Equal(t, other.Version, h.ask(other.ID, call.Activate{}).Call.Version)
	// ...and the restarted actor holds what was stored, not what it was
	// about to store.
	r := h.ask(c.ID, call.Activate{})
	require.Equal(t, active.Version, r.Call.Version)
	require.Equal(t, actors.StateActive, r.Call.State)
	unapplied, err := h.store.UnappliedCallEvents(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, unapplied, 1)

	// Replaying the unapplied callback settles the call.
	r = h.ask(c.ID, call.Callback{Event: unapplied[0]})
	require.True(t, r.Applied)
	require.Equal(t, actors.CallCompleted, r.Call.Status)
	require.Equal(t, active.Version+1, r.Call.Version)
	require.Equal(t, []string{"new/queued", "active/ringing", "closed/completed"}, h.events.states(c.ID))
}

func TestRestartRehydratesLiveCallsTheirTimersAndMissingJobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	// queued: accepted, its job in the in-process queue that dies with
	// the engine.
	queued := h.start(newCall("agent-1", customer("3131")))
	// connecting: the engine died while its connect request was in
	// flight (never sent).
	// TimeOut 1: the sender looks a lost connect up for at least 2×TimeOut
	// (both legs ringing) before it places the call again.
	connectingCall := newCall("agent-2", customer("3132"))
	connectingCall.TimeOut = 1
	connecting := h.start(connectingCall)
	require.Equal(t, call.ConnectGo, h.ask(connecting.ID, call.BeginConnect{}).Connect)
	// active: Exotel has it and will never send its terminal callback; a
	// 2s deadline (TimeOut 1 + TimeLimit 1) that passes after the restart.
	lost := newCall("agent-3", customer(sandbox.SuffixLostTerminal))
	lost.TimeOut, lost.TimeLimit = 1, 1
	lost = h.start(lost)
	require.Equal(t, call.ConnectGo, h.ask(lost.ID, call.BeginConnect{}).Connect)
	placed, err := h.client.Connect(ctx, exotel.ConnectRequest{CallID: lost.ID, From: lost.From, To: lost.To, TimeLimit: 1, TimeOut: 1})
	require.NoError(t, err)
	h.ask(lost.ID, call.Connected{Sid: placed.Sid, Status: placed.Status})

	h.restart()

	// The active call expires on its own timer and is settled by lookup.
	done := h.waitState(lost.ID, actors.StateClosed, actors.CallCompleted)
	require.Equal(t, 42, done.DurationSec)
	expired := false
	for _, s := range h.events.states(lost.ID) {
		expired = expired || strings.HasPrefix(s, "expired/")
	}
	require.True(t, expired, "announced expired before closed: %v", h.events.states(lost.ID))

	// The new calls' jobs are published again; each is placed once.
	h.runSender()
	h.waitState(queued.ID, actors.StateClosed, actors.CallCompleted)
	h.waitState(connecting.ID, actors.StateClosed, actors.CallCompleted)
	require.Len(t, h.sandbox.CallsTo(queued.To), 1)
	require.Len(t, h.sandbox.CallsTo(connecting.To), 1)
	require.Len(t, h.sandbox.CallsTo(lost.To), 1)

	// After a second restart no call is live: nothing to rehydrate.
	h.restart()
	live, err := h.store.LiveCalls(ctx)
	require.NoError(t, err)
	require.Empty(t, live)
	require.Zero(t, h.calls.Live())
}

// failingStore fails every save while failing is set, as a full disk would.
type failingStore struct {
	*sqlitestore.Store
	failing atomic.Bool
}

func (f *failingStore) SaveCall(ctx context.Context, c actors.Call) error {
	if f.failing.Load() {
		return errors.New("disk I/O error")
	}
	return f.Store.SaveCall(ctx, c)
}

func TestStoreFailureIsAnsweredAndChangesNothing(t *testing.T) {
	t.Parallel()
	var fs *failingStore
	h := newHarness(t, withStore(func(s *sqlitestore.Store) call.Store {
		fs = &failingStore{Store: s}
		return fs
	}))
	c := h.start(newCall("agent-1", customer("4141")))
	require.Equal(t, call.ConnectGo, h.ask(c.ID, call.BeginConnect{}).Connect)
	fs.failing.Store(true)
	_, err := call.Ask(h.calls, c.ID, call.Connected{Sid: "sid-4141", Status: actors.CallRinging}, askTimeout)
	require.ErrorIs(t, err, actors.ErrUnavailable)
	r, err := call.Ask(h.calls, c.ID, call.BeginConnect{}, askTimeout)
	require.NoError(t, err)
	require.Equal(t, call.ConnectWait, r.Connect, "still connecting, as stored")
	require.Equal(t, actors.StateNew, h.stored(c.ID).State)
	require.Equal(t, []string{"new/queued"}, h.events.states(c.ID))

	fs.failing.Store(false)
	r = h.ask(c.ID, call.Connected{Sid: "sid-4141", Status: actors.CallRinging})
	require.Equal(t, actors.StateActive, r.Call.State)
	require.Equal(t, c.Version+2, r.Call.Version)
}
