package supervisors

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/persistence/memqueue"
)

func newCalls(t *testing.T) (*Calls, *memqueue.Queue) {
	t.Helper()
	store := newStore(t)
	q := memqueue.New(memqueue.Options{})
	t.Cleanup(func() { _ = q.Close() })
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	c := NewCalls(system, &call.Deps{Store: store, Outbox: q, Log: log}, log)
	t.Cleanup(func() { c.Stop(context.Background()) })
	return c, q
}

func testCall(agent string) actors.Call {
	return actors.Call{ID: actors.NewID(), CustomerID: "cust", AgentID: agent, From: "+919800000001", To: "+919876541234",
		CallerID: "08047112233", TimeOut: 30, TimeLimit: 60}
}

func askCall(t *testing.T, c *Calls, id string, cmd call.Command) call.Result {
	t.Helper()
	r, err := call.Ask(c, id, cmd, 5*time.Second)
	require.NoError(t, err)
	return r
}

func TestCallsHoldCommandsWhileAClosedCallStops(t *testing.T) {
	t.Parallel()
	calls, _ := newCalls(t)
	c := testCall("agent-1")
	askCall(t, calls, c.ID, call.Start{Call: c})
	require.Equal(t, 1, calls.Live())
	// Commands sent while the closed call's actor stops all reach its
	// successor, in order.
	calls.Send(c.ID, call.ConnectFailed{Reason: "refused", Final: true})
	var replies []call.Reply
	for range 20 {
		replies = append(replies, calls.Request(c.ID, call.Activate{}, 5*time.Second))
	}
	for _, r := range replies {
		res, err := call.Await(c.ID, r)
		require.NoError(t, err)
		require.Equal(t, actors.StateClosed, res.Call.State)
	}
	require.Eventually(t, func() bool { return calls.Live() == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestCallsKeepAnActorForACallRequeuedAsItStops(t *testing.T) {
	t.Parallel()
	calls, _ := newCalls(t)
	c := testCall("agent-1")
	askCall(t, calls, c.ID, call.Start{Call: c})
	// The Requeue reaches the closing actor or its successor: either way
	// the live call keeps an actor (its timers need one).
	calls.Send(c.ID, call.ConnectFailed{Reason: "dead-lettered", Final: true})
	r := askCall(t, calls, c.ID, call.Requeue{})
	require.Equal(t, actors.StateNew, r.Call.State)
	require.Eventually(t, func() bool { return calls.Live() == 1 }, 5*time.Second, 10*time.Millisecond)
	// It stays: a live call is not passivated.
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, 1, calls.Live())
}

func TestCallsRefuseIDsThatCannotNameACall(t *testing.T) {
	t.Parallel()
	calls, _ := newCalls(t)
	for _, id := range []string{"", "a/b", string(make([]byte, 129))} {
		_, err := call.Ask(calls, id, call.Activate{}, 5*time.Second)
		require.ErrorIs(t, err, actors.ErrNotFound, "%q", id)
	}
	bad := testCall("agent-1")
	bad.ID = "a/b"
	_, err := call.Ask(calls, bad.ID, call.Start{Call: bad}, 5*time.Second)
	require.Error(t, err)
	require.NotErrorIs(t, err, call.ErrNoAnswer)
	require.Zero(t, calls.Live())
}

func TestCallsRehydrateActivatesEveryLiveCall(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	q := memqueue.New(memqueue.Options{})
	t.Cleanup(func() { _ = q.Close() })
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	ctx := context.Background()
	// Three calls stored by an engine that is gone: two live, one closed.
	now := time.Now().UTC().Truncate(time.Millisecond)
	var live []string
	for i, state := range []string{actors.StateNew, actors.StateActive, actors.StateClosed} {
		c := testCall("agent-" + state)
		c.State, c.Status, c.StartedAt, c.CreatedAt, c.UpdatedAt, c.Version = actors.StateNew, actors.CallQueued, now, now, now, 1
		require.NoError(t, store.CreateCall(ctx, c), i)
		if state != actors.StateNew {
			c.Version, c.State, c.ExotelSid, c.DeadlineAt = 2, state, "sid-"+state, now.Add(time.Hour)
			if state == actors.StateClosed {
				c.Status = actors.CallCompleted
			}
			require.NoError(t, store.SaveCall(ctx, c))
		}
		if state != actors.StateClosed {
			live = append(live, c.ID)
		}
	}
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	calls := NewCalls(system, &call.Deps{Store: store, Outbox: q, Log: log}, log)
	t.Cleanup(func() { calls.Stop(ctx) })
	n, err := calls.Rehydrate(ctx, store)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, 2, calls.Live())

	// The new call's job, lost with the old engine, is queued again.
	jobs := make(chan actors.OutboundJob, 4)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = q.Consume(cctx, func(d actors.Delivery) {
			jobs <- d.Job()
			_ = d.Ack()
		})
	}()
	select {
	case job := <-jobs:
		require.Equal(t, actors.JobCallConnect, job.Kind)
		require.Equal(t, live[0], job.CallID)
		require.Equal(t, live[0], job.MessageID)
		require.JSONEq(t, `{}`, string(job.Body))
	case <-time.After(5 * time.Second):
		t.Fatal("the new call's job was not published again")
	}
	select {
	case job := <-jobs:
		t.Fatalf("unexpected job %+v", job)
	case <-time.After(100 * time.Millisecond):
	}
}
