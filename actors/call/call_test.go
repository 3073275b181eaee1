package call_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
)

func TestCompletedCallEveryTransitionStoredThenAnnouncedAndAudited(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.runSender()
	c := h.start(newCall("agent-1", customer("1234")))
	require.Equal(t, actors.StateNew, c.State)
	require.Equal(t, actors.CallQueued, c.Status)
	require.EqualValues(t, 1, c.Version)

	done := h.waitState(c.ID, actors.StateClosed, actors.CallCompleted)
	assert.Equal(t, 42, done.DurationSec)
	assert.NotEmpty(t, done.ExotelSid)
	assert.Contains(t, done.RecordingURL, done.ExotelSid)
	assert.False(t, done.AnsweredAt.IsZero(), "answered at")
	assert.False(t, done.EndedAt.IsZero(), "ended at")
	assert.True(t, done.ConnectStartedAt.IsZero(), "connect mark cleared")
	require.Len(t, h.sandbox.CallsTo(c.To), 1)
	placed := h.sandbox.CallsTo(c.To)[0]
	assert.Equal(t, c.ID, placed.CustomField)
	assert.Equal(t, done.ExotelSid, placed.Sid)

	require.Equal(t, []string{"new/queued", "active/ringing", "active/in-progress", "closed/completed"}, h.events.states(c.ID))
	for _, v := range h.events.of(c.ID) {
		assert.Equal(t, "agent-1", v.AgentID)
	}
	require.Equal(t, []string{
		"agent-1 calls.status success status=queued state=new",
		"system calls.status success status=ringing state=active",
		"system calls.status success status=in-progress state=active",
		"system calls.status success status=completed state=closed",
	}, h.audit.of(c.ID))
	// Every callback was applied and marked so (the actor marks a callback
	// right after the write that applied it, which waitState saw).
	require.Eventually(t, func() bool {
		unapplied, err := h.store.UnappliedCallEvents(context.Background(), 10)
		return err == nil && len(unapplied) == 0
	}, waitFor, tick, "every callback marked applied")
	require.Zero(t, h.applyErrs.Load())
	// A closed call's actor leaves memory.
	require.Eventually(t, func() bool { return h.calls.Live() == 0 }, waitFor, tick)
	// ...and comes back for a late command, answering from the store.
	again := h.ask(c.ID, call.Activate{})
	require.Equal(t, done.Version, again.Call.Version)
}

func TestOutcomesCloseTheCallWithExotelsStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.runSender()
	for suffix, status := range map[string]string{sandbox.SuffixBusy: actors.CallBusy, sandbox.SuffixNoAnswer: actors.CallNoAnswer,
		sandbox.SuffixFailed: actors.CallFailed} {
		c := h.start(newCall("agent-"+suffix, customer(suffix)))
		done := h.waitState(c.ID, actors.StateClosed, status)
		assert.Zero(t, done.DurationSec, status)
		assert.True(t, done.AnsweredAt.IsZero(), status)
		assert.Equal(t, []string{"new/queued", "active/ringing", "closed/" + status}, h.events.states(c.ID))
	}
}

func TestAgentWithALiveCallIsBusy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first := h.start(newCall("agent-1", customer("1111")))
	second := newCall("agent-1", customer("2222"))
	_, err := call.Ask(h.calls, second.ID, call.Start{Call: second}, askTimeout)
	require.ErrorIs(t, err, call.ErrAgentBusy)
	require.ErrorIs(t, err, actors.ErrConflict)
	_, err = h.store.Call(context.Background(), second.ID)
	require.ErrorIs(t, err, actors.ErrNotFound)
	require.Empty(t, h.events.of(second.ID))
	// The refused call's actor left; a command for it is not found.
	_, err = call.Ask(h.calls, second.ID, call.Activate{}, askTimeout)
	require.ErrorIs(t, err, actors.ErrNotFound)

	// A repeated Start answers the stored call and stores nothing new.
	again := h.ask(first.ID, call.Start{Call: first})
	require.Equal(t, first.Version, again.Call.Version)
	require.Len(t, h.events.of(first.ID), 1)

	// Once the first call is closed, the agent may call again.
	h.ask(first.ID, call.ConnectFailed{Reason: "refused", Final: true})
	third := h.start(newCall("agent-1", customer("3333")))
	require.Equal(t, actors.StateNew, third.State)
}

func TestCallbacksAreMonotonicAndIdempotent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.start(newCall("agent-1", customer("4444")))
	require.Equal(t, call.ConnectGo, h.ask(c.ID, call.BeginConnect{}).Connect)
	c = h.ask(c.ID, call.Connected{Sid: "sid-4444", Status: actors.CallRinging}).Call
	require.Equal(t, actors.StateActive, c.State)

	base := time.Now().UTC().Truncate(time.Second)
	event := func(typ, status string, at time.Time, dur int) actors.CallEvent {
		ev := actors.CallEvent{ID: actors.NewID(), CallID: c.ID, CallSid: "sid-4444", EventType: typ, Status: status,
			DurationSec: dur, DateUpdated: at, Body: []byte(`{}`), ReceivedAt: at}
		_, err := h.store.AddCallEvent(context.Background(), ev)
		require.NoError(t, err)
		return ev
	}
	answered := event("answered", actors.CallInProgress, base.Add(5*time.Second), 0)
	completed := event("terminal", actors.CallCompleted, base.Add(65*time.Second), 60)
	lateAnswered := event("answered", actors.CallInProgress, base.Add(6*time.Second), 0)
	lateFailed := event("terminal", actors.CallFailed, base.Add(70*time.Second), 0)

	r := h.ask(c.ID, call.Callback{Event: answered})
	require.True(t, r.Applied)
	require.Equal(t, actors.CallInProgress, r.Call.Status)
	require.Equal(t, base.Add(5*time.Second), r.Call.AnsweredAt)
	// The same callback again changes nothing.
	r = h.ask(c.ID, call.Callback{Event: answered})
	require.False(t, r.Applied)

	r = h.ask(c.ID, call.Callback{Event: completed})
	require.True(t, r.Applied)
	closed := r.Call
	require.Equal(t, actors.StateClosed, closed.State)
	require.Equal(t, 60, closed.DurationSec)
	require.Equal(t, base.Add(65*time.Second), closed.EndedAt)

	// A late answered, a repeated terminal and another terminal status
	// after completed change nothing, and are marked applied all the same.
	for _, ev := range []actors.CallEvent{lateAnswered, completed, lateFailed} {
		r = h.ask(c.ID, call.Callback{Event: ev})
		require.False(t, r.Applied, ev.Status)
		require.NoError(t, r.Err)
	}
	stored := h.stored(c.ID)
	require.Equal(t, closed.Version, stored.Version)
	require.Equal(t, actors.CallCompleted, stored.Status)
	unapplied, err := h.store.UnappliedCallEvents(context.Background(), 10)
	require.NoError(t, err)
	require.Empty(t, unapplied)
	require.Equal(t, []string{"new/queued", "active/ringing", "active/in-progress", "closed/completed"}, h.events.states(c.ID))

	// A callback of another Exotel call is not this call's.
	other := h.start(newCall("agent-2", customer("5555")))
	h.ask(other.ID, call.BeginConnect{})
	h.ask(other.ID, call.Connected{Sid: "sid-5555", Status: actors.CallRinging})
	stray := event("terminal", actors.CallBusy, base, 0)
	stray.CallID, stray.CallSid = other.ID, "sid-elsewhere"
	r = h.ask(other.ID, call.Callback{Event: stray})
	require.False(t, r.Applied)
	require.Equal(t, actors.StateActive, r.Call.State)
}

func TestCallbackBeforeTheConnectAnswerActivatesTheCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.start(newCall("agent-1", customer("6666")))
	require.Equal(t, call.ConnectGo, h.ask(c.ID, call.BeginConnect{}).Connect)
	ev := actors.CallEvent{ID: actors.NewID(), CallID: c.ID, CallSid: "sid-6666", EventType: "answered", Status: actors.CallInProgress,
		DateUpdated: time.Now().UTC().Truncate(time.Second)}
	_, err := h.store.AddCallEvent(context.Background(), ev)
	require.NoError(t, err)
	r := h.ask(c.ID, call.Callback{Event: ev})
	require.True(t, r.Applied)
	require.Equal(t, actors.StateActive, r.Call.State)
	require.Equal(t, "sid-6666", r.Call.ExotelSid)
	require.True(t, r.Call.ConnectStartedAt.IsZero())
	require.False(t, r.Call.DeadlineAt.IsZero())
	// The sender's retry is told Exotel has the call; a connect answer
	// with the same sid is a repeat, another sid a second call.
	require.Equal(t, call.ConnectSkip, h.ask(c.ID, call.BeginConnect{}).Connect)
	require.Equal(t, r.Call.Version, h.ask(c.ID, call.Connected{Sid: "sid-6666", Status: actors.CallRinging}).Call.Version)
	_, err = call.Ask(h.calls, c.ID, call.Connected{Sid: "sid-other"}, askTimeout)
	require.ErrorIs(t, err, actors.ErrConflict)
}

func TestBeginConnectLetsOneDeliveryConnect(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.start(newCall("agent-1", customer("7777")))
	first := h.ask(c.ID, call.BeginConnect{})
	require.Equal(t, call.ConnectGo, first.Connect)
	require.False(t, first.Call.ConnectStartedAt.IsZero())
	require.Equal(t, first.Call.ConnectStartedAt, h.stored(c.ID).ConnectStartedAt, "persisted before answering")
	require.Equal(t, call.ConnectWait, h.ask(c.ID, call.BeginConnect{}).Connect)

	// Past the connect timeout the outcome is unknown: resolve it.
	h.clock.Advance(testConfig.ConnectTimeout)
	resolve := h.ask(c.ID, call.BeginConnect{})
	require.Equal(t, call.ConnectResolve, resolve.Connect)
	require.Equal(t, first.Call.ConnectStartedAt, resolve.Call.ConnectStartedAt)
	h.ask(c.ID, call.ConnectFailed{Reason: "not placed", StartedAt: resolve.Call.ConnectStartedAt})
	second := h.ask(c.ID, call.BeginConnect{})
	require.Equal(t, call.ConnectGo, second.Connect)
	// A late failure of the first connect does not clear the second's mark.
	h.ask(c.ID, call.ConnectFailed{Reason: "late", StartedAt: first.Call.ConnectStartedAt})
	require.Equal(t, call.ConnectWait, h.ask(c.ID, call.BeginConnect{}).Connect)
	// Marking connecting is bookkeeping: nothing announced.
	require.Equal(t, []string{"new/queued"}, h.events.states(c.ID))
}

func TestMissingTerminalCallbackIsSettledByLookup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.runSender()
	c := h.start(newCall("agent-1", customer(sandbox.SuffixLostTerminal)))
	active := h.waitState(c.ID, actors.StateActive, actors.CallInProgress)
	require.Eventually(t, func() bool { return h.sandbox.LiveCalls() == 0 }, waitFor, tick, "sandbox call over")
	require.WithinDuration(t, time.Now().Add(90*time.Second), active.DeadlineAt, 10*time.Second)

	// Past the deadline, the call expires and Exotel's details settle it.
	h.clock.Advance(91 * time.Second)
	h.ask(c.ID, call.Activate{})
	done := h.waitState(c.ID, actors.StateClosed, actors.CallCompleted)
	assert.Equal(t, 42, done.DurationSec)
	assert.Equal(t, 1, done.LookupAttempts)
	assert.NotEmpty(t, done.RecordingURL)
	assert.False(t, done.EndedAt.IsZero())
	require.Equal(t, []string{"new/queued", "active/ringing", "active/in-progress", "expired/in-progress", "closed/completed"},
		h.events.states(c.ID))
}

func TestLookupBacksOffWhileExotelSaysTheCallIsLive(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withTalkDelay(time.Hour))
	h.runSender()
	c := h.start(newCall("agent-1", customer("8181")))
	h.waitState(c.ID, actors.StateActive, actors.CallInProgress)
	h.clock.Advance(91 * time.Second)

	// Each lookup finds the call in progress: the next one waits 1, 2, 3
	// and 3 minutes (LookupBackoff doubled, at most LookupMaxBackoff).
	for attempt, wait := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		before := h.lookup.calls.Load()
		h.ask(c.ID, call.Activate{})
		var got actors.Call
		require.Eventually(t, func() bool {
			got = h.stored(c.ID)
			return got.LookupAttempts == attempt+1
		}, waitFor, tick)
		require.Equal(t, before+1, h.lookup.calls.Load())
		require.Equal(t, actors.StateExpired, got.State)
		require.Equal(t, actors.CallInProgress, got.Status, "a live status never lowers the stored one")
		require.WithinDuration(t, h.clock.Now().Add(wait), got.NextLookupAt, 5*time.Second)
		// Not due yet: a message does not look up again.
		h.ask(c.ID, call.Activate{})
		require.Equal(t, before+1, h.lookup.calls.Load())
		h.clock.Advance(wait)
	}
	require.Equal(t, []string{"new/queued", "active/ringing", "active/in-progress", "expired/in-progress"}, h.events.states(c.ID))
}

func TestCallExotelDoesNotKnowClosesFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.start(newCall("agent-1", customer("9191")))
	h.ask(c.ID, call.BeginConnect{})
	h.ask(c.ID, call.Connected{Sid: "no-such-sid", Status: actors.CallRinging})
	h.clock.Advance(91 * time.Second)
	h.ask(c.ID, call.Activate{})
	done := h.waitState(c.ID, actors.StateClosed, actors.CallFailed)
	require.NotEmpty(t, done.Reason)
	require.Equal(t, 1, done.LookupAttempts)
}

func TestQueuedCallNotAcceptedInTimeIsCanceled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.start(newCall("agent-1", customer("1212")))
	h.clock.Advance(testConfig.QueueTTL)
	h.ask(c.ID, call.Activate{})
	done := h.waitState(c.ID, actors.StateClosed, actors.CallCanceled)
	require.NotEmpty(t, done.Reason)
	require.Equal(t, []string{"new/queued", "closed/canceled"}, h.events.states(c.ID))

	// The job, delivered late, is skipped: the customer is not rung.
	h.runSender()
	require.Eventually(t, func() bool { return h.jobDone(c.ID) }, waitFor, tick)
	require.Empty(t, h.sandbox.CallsTo(c.To))
	// The agent is free again.
	h.start(newCall("agent-1", customer("1213")))
}

func TestQueueThatRefusesTheJobClosesTheCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	require.NoError(t, h.queue.Close())
	c := newCall("agent-1", customer("1313"))
	res, err := call.Ask(h.calls, c.ID, call.Start{Call: c}, askTimeout)
	require.ErrorIs(t, err, actors.ErrUnavailable)
	require.Equal(t, actors.StateClosed, res.Call.State)
	stored := h.stored(c.ID)
	require.Equal(t, actors.CallFailed, stored.Status)
	require.Contains(t, stored.Reason, "not queued")
	require.Equal(t, []string{"closed/failed"}, h.events.states(c.ID))
	require.Equal(t, []string{"agent-1 calls.status failure status=failed state=closed"}, h.audit.of(c.ID))
}

func TestConnectTimeoutDoesNotPlaceASecondCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.runSender()
	c := h.start(newCall("agent-1", customer(sandbox.SuffixConnectTimeout)))
	done := h.waitState(c.ID, actors.StateClosed, actors.CallCompleted)
	require.Equal(t, 42, done.DurationSec)
	require.Eventually(t, func() bool { return h.jobDone(c.ID) }, waitFor, tick, "the job is settled")
	require.Len(t, h.sandbox.CallsTo(c.To), 1)
}

func TestRequeueReopensACallThatFailedBeforeExotel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withMaxAttempts(2))
	h.sandbox.ArmFault(sandbox.FaultUnavailable, 2)
	h.runSender()
	c := h.start(newCall("agent-1", customer("1414")))
	failed := h.waitState(c.ID, actors.StateClosed, actors.CallFailed)
	require.Contains(t, failed.Reason, "dead-lettered")
	dead, err := h.queue.ListDeadLetters(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)

	// While the agent is on another call, the re-drive is refused.
	other := h.start(newCall("agent-1", customer("1415")))
	_, err = call.Ask(h.calls, c.ID, call.Requeue{}, askTimeout)
	require.ErrorIs(t, err, call.ErrAgentBusy)
	require.Equal(t, failed.Version, h.stored(c.ID).Version)
	h.waitState(other.ID, actors.StateClosed, actors.CallCompleted)

	h.clock.Advance(time.Hour) // the re-drive's TTL counts from the re-drive
	r := h.ask(c.ID, call.Requeue{})
	require.Equal(t, actors.StateNew, r.Call.State)
	require.Equal(t, actors.CallQueued, r.Call.Status)
	require.Empty(t, r.Call.Reason)
	require.WithinDuration(t, h.clock.Now(), r.Call.StartedAt, 5*time.Second)
	n, err := h.queue.Redrive(context.Background(), []string{c.ID})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	h.waitState(c.ID, actors.StateClosed, actors.CallCompleted)
	require.Len(t, h.sandbox.CallsTo(c.To), 1)
	require.Equal(t, []string{"new/queued", "closed/failed", "new/queued", "active/ringing", "active/in-progress", "closed/completed"},
		h.events.states(c.ID))

	// Only a call that failed before Exotel had it can be re-queued.
	_, err = call.Ask(h.calls, c.ID, call.Requeue{}, askTimeout)
	require.ErrorIs(t, err, call.ErrClosed)
}

func TestCommandsForAnUnknownCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, cmd := range []call.Command{call.Activate{}, call.BeginConnect{}, call.Connected{Sid: "x"}, call.Requeue{},
		call.Callback{Event: actors.CallEvent{ID: "e1", CallSid: "x", Status: actors.CallCompleted}}} {
		r, err := call.Ask(h.calls, "no-such-call", cmd, askTimeout)
		require.ErrorIs(t, err, actors.ErrNotFound, "%T", cmd)
		if _, ok := cmd.(call.BeginConnect); ok {
			require.Equal(t, call.ConnectSkip, r.Connect)
		}
	}
	_, err := call.Ask(h.calls, "a/b", call.Activate{}, askTimeout)
	require.ErrorIs(t, err, actors.ErrNotFound)
	bad := newCall("agent-1", customer("1515"))
	bad.ID = "a/b"
	_, err = call.Ask(h.calls, bad.ID, call.Start{Call: bad}, askTimeout)
	require.Error(t, err)
	require.False(t, errors.Is(err, call.ErrNoAnswer))
	require.Eventually(t, func() bool { return h.calls.Live() == 0 }, waitFor, tick)
}
