package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// RunCalls is the contract suite of actors.CallStore. open gives a fresh,
// empty store and registers its own cleanup. Beyond the doc comments in
// package actors it pins down:
//
//   - CreateCall stores Version 1 whatever c.Version says. Every field
//     round-trips; times in UTC at millisecond precision, zero times stay
//     zero.
//   - A taken id is ErrDuplicate whatever the agent (even when the call
//     holding it is that agent's live call), and a failed create leaves the
//     agent as it was. Only State closed frees an agent; a closed call may be
//     created beside a live one of its agent. Of concurrent creates of live
//     calls of one agent exactly one wins; the others get ErrConflict.
//   - SaveCall replaces every field but ID; any Version other than stored+1
//     is ErrConflict and changes nothing, also when a re-opened call's
//     agent is busy.
//   - CallByExotelSid("") is ErrNotFound. LiveCalls orders by StartedAt,
//     then ID; CallsOfCustomer and CallsOfConversation by StartedAt, then
//     ID, both descending, and a zero afterStartedAt is the first page; a
//     limit below 1 gives an empty page. CallsOfConversation("") is empty
//     even when calls without a conversation exist.
//   - AddCallEvent of a stored ID changes nothing, whatever the new
//     event's fields. UnappliedCallEvents orders by ReceivedAt, then ID;
//     MarkCallEventApplied of an absent ID is ErrNotFound, a repeat is no
//     error. Body bytes are kept exactly.
//   - CallStatistics: see RunCallStatistics.
func RunCalls(t *testing.T, open func(t *testing.T) actors.CallStore) {
	runCases(t, open, []caseOf[actors.CallStore]{
		{name: "create then read every field", check: checkCallCreate},
		{name: "a taken id is a duplicate and changes nothing", check: checkCallDuplicate},
		{name: "one live call per agent", check: checkCallOneLivePerAgent},
		{name: "concurrent creates for one agent: one wins", check: checkCallCreateRace},
		{name: "save is conditional on the version", check: checkCallSave},
		{name: "by exotel sid", check: checkCallByExotelSid},
		{name: "live calls, oldest first, and the live call of an agent", check: checkLiveCalls},
		{name: "calls of a customer, newest first, keyset paged", check: checkCallsOfCustomer},
		{name: "calls of a conversation, newest first, keyset paged", check: checkCallsOfConversation},
		{name: "add call event is idempotent", check: checkAddCallEvent},
		{name: "unapplied call events, oldest first, until marked", check: checkUnappliedCallEvents},
	})
	t.Run("statistics", func(t *testing.T) { RunCallStatistics(t, open) })
}

// liveCall is a queued call of agent to customer, every optional field
// zero.
func liveCall(id, agent, customer string, started time.Time) actors.Call {
	return actors.Call{
		ID: id, CustomerID: customer, AgentID: agent, From: "+919800000001", To: "+919812345678",
		CallerID: "+918047112233", State: actors.StateNew, Status: actors.CallQueued, TimeLimit: 3600, TimeOut: 30,
		StartedAt: started, Version: 1, CreatedAt: started, UpdatedAt: started,
	}
}

// closedCall is a completed call of agent with talk time.
func closedCall(id, agent, customer string, started time.Time) actors.Call {
	c := liveCall(id, agent, customer, started)
	c.State, c.Status, c.ExotelSid, c.DurationSec = actors.StateClosed, actors.CallCompleted, "sid-"+id, 42
	c.AnsweredAt, c.EndedAt, c.UpdatedAt = started.Add(10*time.Second), started.Add(52*time.Second), started.Add(time.Minute)
	return c
}

// fullCall is a call with every field set.
func fullCall(id string) actors.Call {
	return actors.Call{
		ID: id, CustomerID: "cu-full", AgentID: "u-agent-full", ConversationID: "c-full",
		From: "+919800000009", To: "+919812340009", CallerID: "+918047112233", Record: true,
		State: actors.StateExpired, Status: actors.CallInProgress, ExotelSid: "b6cfaf0e1c5a4b7c9a1e" + id,
		DurationSec: 17, RecordingURL: "https://recordings.exotel.com/" + id + ".mp3", Reason: "no terminal callback",
		TimeLimit: 1800, TimeOut: 45,
		DeadlineAt: base.Add(31 * time.Minute), NextLookupAt: base.Add(32 * time.Minute), LookupAttempts: 3,
		ConnectStartedAt: base.Add(time.Second), LastEventAt: base.Add(40 * time.Second),
		AnsweredAt: base.Add(20 * time.Second), EndedAt: base.Add(50 * time.Second),
		StartedAt: base, Version: 7, CreatedAt: base.Add(-time.Millisecond), UpdatedAt: base.Add(time.Minute),
	}
}

func mustCall(t *testing.T, ctx context.Context, s actors.CallStore, id string) actors.Call {
	t.Helper()
	c, err := s.Call(ctx, id)
	require.NoError(t, err, "call %s", id)
	return c
}

func callIDs(cs []actors.Call) []string { return idsOf(cs, func(c actors.Call) string { return c.ID }) }

func checkCallCreate(t *testing.T, ctx context.Context, s actors.CallStore) {
	want := fullCall("k1")
	// Nanoseconds and a zone other than UTC go in; UTC milliseconds come out.
	in := want
	in.StartedAt = want.StartedAt.Add(999 * time.Microsecond).In(time.FixedZone("IST", 19800))
	require.NoError(t, s.CreateCall(ctx, in))
	want.Version = 1
	assert.Equal(t, want, mustCall(t, ctx, s, "k1"))

	zero := liveCall("k2", "u-agent2", "cu2", base)
	require.NoError(t, s.CreateCall(ctx, zero))
	got := mustCall(t, ctx, s, "k2")
	assert.Equal(t, zero, got)
	for name, at := range map[string]time.Time{"DeadlineAt": got.DeadlineAt, "NextLookupAt": got.NextLookupAt,
		"ConnectStartedAt": got.ConnectStartedAt, "LastEventAt": got.LastEventAt, "AnsweredAt": got.AnsweredAt, "EndedAt": got.EndedAt} {
		assert.True(t, at.IsZero(), "%s comes back zero", name)
	}

	_, err := s.Call(ctx, "absent")
	require.ErrorIs(t, err, actors.ErrNotFound)
}

func checkCallDuplicate(t *testing.T, ctx context.Context, s actors.CallStore) {
	first := liveCall("k1", "u-agent1", "cu1", base)
	require.NoError(t, s.CreateCall(ctx, first))

	again := liveCall("k1", "u-agent1", "cu9", base.Add(time.Hour))
	require.ErrorIs(t, s.CreateCall(ctx, again), actors.ErrDuplicate, "same id, same (busy) agent")
	other := liveCall("k1", "u-agent2", "cu9", base.Add(time.Hour))
	require.ErrorIs(t, s.CreateCall(ctx, other), actors.ErrDuplicate, "same id, another agent")
	closed := closedCall("k1", "u-agent3", "cu9", base.Add(time.Hour))
	require.ErrorIs(t, s.CreateCall(ctx, closed), actors.ErrDuplicate, "same id, closed")
	assert.Equal(t, first, mustCall(t, ctx, s, "k1"), "the stored call is unchanged")

	// The failed creates left u-agent2 free.
	require.NoError(t, s.CreateCall(ctx, liveCall("k2", "u-agent2", "cu2", base)))
}

func checkCallOneLivePerAgent(t *testing.T, ctx context.Context, s actors.CallStore) {
	require.NoError(t, s.CreateCall(ctx, liveCall("k1", "a1", "cu1", base)))
	require.ErrorIs(t, s.CreateCall(ctx, liveCall("k2", "a1", "cu2", base.Add(time.Second))), actors.ErrConflict)
	_, err := s.Call(ctx, "k2")
	require.ErrorIs(t, err, actors.ErrNotFound, "the refused call is not stored")
	expired := liveCall("k2", "a1", "cu2", base.Add(time.Second))
	expired.State = actors.StateExpired
	require.ErrorIs(t, s.CreateCall(ctx, expired), actors.ErrConflict, "an expired call is live")

	// Closed calls of a busy agent, and other agents, are no conflict.
	require.NoError(t, s.CreateCall(ctx, closedCall("k3", "a1", "cu3", base.Add(-time.Hour))))
	require.NoError(t, s.CreateCall(ctx, liveCall("k4", "a2", "cu1", base)))

	// A save keeping the call live keeps the agent.
	k1 := mustCall(t, ctx, s, "k1")
	k1.State, k1.Status, k1.ExotelSid, k1.Version = actors.StateActive, actors.CallRinging, "sid-k1", 2
	require.NoError(t, s.SaveCall(ctx, k1))
	require.ErrorIs(t, s.CreateCall(ctx, liveCall("k5", "a1", "cu1", base)), actors.ErrConflict)

	// Closing frees the agent.
	k1.State, k1.Status, k1.Version = actors.StateClosed, actors.CallBusy, 3
	require.NoError(t, s.SaveCall(ctx, k1))
	require.NoError(t, s.CreateCall(ctx, liveCall("k5", "a1", "cu1", base.Add(time.Minute))))

	// Re-opening a closed call while its agent is busy changes nothing.
	reopen := k1
	reopen.State, reopen.Status, reopen.Version = actors.StateNew, actors.CallQueued, 4
	require.ErrorIs(t, s.SaveCall(ctx, reopen), actors.ErrConflict)
	assert.Equal(t, k1, mustCall(t, ctx, s, "k1"), "the closed call is unchanged")
	live, err := s.LiveCallOfAgent(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, "k5", live.ID)

	// Once the agent is free again the re-open succeeds and holds the agent.
	k5 := mustCall(t, ctx, s, "k5")
	k5.State, k5.Status, k5.Reason, k5.Version = actors.StateClosed, actors.CallFailed, "connect refused", 2
	require.NoError(t, s.SaveCall(ctx, k5))
	require.NoError(t, s.SaveCall(ctx, reopen))
	assert.Equal(t, reopen, mustCall(t, ctx, s, "k1"))
	live, err = s.LiveCallOfAgent(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, "k1", live.ID)
	require.ErrorIs(t, s.CreateCall(ctx, liveCall("k6", "a1", "cu1", base)), actors.ErrConflict)
}

func checkCallCreateRace(t *testing.T, ctx context.Context, s actors.CallStore) {
	const n = 12
	errs := make([]error, n)
	Race(n, func(i int) {
		errs[i] = s.CreateCall(ctx, liveCall(fmt.Sprintf("k%02d", i), "a1", "cu1", base.Add(time.Duration(i)*time.Second)))
	})
	winner, failed := AtMostOneWinner(t, errs, actors.ErrConflict)
	live, err := s.LiveCallOfAgent(ctx, "a1")
	landed := -1
	if err == nil {
		_, serr := fmt.Sscanf(live.ID, "k%02d", &landed)
		require.NoError(t, serr, "live call id %q", live.ID)
	} else {
		require.ErrorIs(t, err, actors.ErrNotFound)
	}
	Landed(t, winner, failed, landed)
	all, err := s.LiveCalls(ctx)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(all), 1, "at most one live call of the agent: %v", callIDs(all))
}

func checkCallSave(t *testing.T, ctx context.Context, s actors.CallStore) {
	require.NoError(t, s.CreateCall(ctx, liveCall("k1", "a1", "cu1", base)))
	loaded := mustCall(t, ctx, s, "k1")

	next := fullCall("k1")
	next.Version = 2
	require.NoError(t, s.SaveCall(ctx, next))
	assert.Equal(t, next, mustCall(t, ctx, s, "k1"), "every field but the id replaced")

	for _, v := range []int64{0, 1, 2, 4} {
		stale := loaded
		stale.Version, stale.Status, stale.Reason = v, actors.CallFailed, fmt.Sprintf("stale %d", v)
		require.ErrorIs(t, s.SaveCall(ctx, stale), actors.ErrConflict, "version %d", v)
	}
	assert.Equal(t, next, mustCall(t, ctx, s, "k1"), "lost saves changed nothing")

	absent := liveCall("absent", "a9", "cu9", base)
	absent.Version = 2
	require.ErrorIs(t, s.SaveCall(ctx, absent), actors.ErrNotFound)
	_, err := s.Call(ctx, "absent")
	require.ErrorIs(t, err, actors.ErrNotFound, "a save creates nothing")
}

func checkCallByExotelSid(t *testing.T, ctx context.Context, s actors.CallStore) {
	require.NoError(t, s.CreateCall(ctx, liveCall("k1", "a1", "cu1", base)))
	require.NoError(t, s.CreateCall(ctx, closedCall("k2", "a2", "cu1", base)))
	_, err := s.CallByExotelSid(ctx, "sid-k1")
	require.ErrorIs(t, err, actors.ErrNotFound, "no sid yet")
	_, err = s.CallByExotelSid(ctx, "")
	require.ErrorIs(t, err, actors.ErrNotFound, "the empty sid names no call")

	k1 := mustCall(t, ctx, s, "k1")
	k1.State, k1.Status, k1.ExotelSid, k1.Version = actors.StateActive, actors.CallRinging, "sid-k1", 2
	require.NoError(t, s.SaveCall(ctx, k1))
	got, err := s.CallByExotelSid(ctx, "sid-k1")
	require.NoError(t, err)
	assert.Equal(t, k1, got)
	got, err = s.CallByExotelSid(ctx, "sid-k2")
	require.NoError(t, err)
	assert.Equal(t, "k2", got.ID)
	_, err = s.CallByExotelSid(ctx, "sid-k3")
	require.ErrorIs(t, err, actors.ErrNotFound)
}

func checkLiveCalls(t *testing.T, ctx context.Context, s actors.CallStore) {
	live, err := s.LiveCalls(ctx)
	require.NoError(t, err)
	assert.Empty(t, live)
	_, err = s.LiveCallOfAgent(ctx, "a1")
	require.ErrorIs(t, err, actors.ErrNotFound)

	active := liveCall("k4", "a4", "cu1", base.Add(-time.Minute))
	active.State, active.Status = actors.StateActive, actors.CallInProgress
	expired := liveCall("k2", "a2", "cu2", base)
	expired.State = actors.StateExpired
	for _, c := range []actors.Call{
		liveCall("k3", "a3", "cu1", base), // same StartedAt as k2: by id
		expired,
		active,
		liveCall("k1", "a1", "cu3", base.Add(time.Minute)),
		closedCall("k0", "a1", "cu3", base.Add(-time.Hour)),
		closedCall("k5", "a5", "cu3", base.Add(-time.Hour)),
	} {
		require.NoError(t, s.CreateCall(ctx, c), "create %s", c.ID)
	}
	live, err = s.LiveCalls(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"k4", "k2", "k3", "k1"}, callIDs(live))
	assert.Equal(t, active, live[0])

	got, err := s.LiveCallOfAgent(ctx, "a2")
	require.NoError(t, err)
	assert.Equal(t, expired, got)
	got, err = s.LiveCallOfAgent(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, "k1", got.ID, "the live call, not the closed one")
	_, err = s.LiveCallOfAgent(ctx, "a5")
	require.ErrorIs(t, err, actors.ErrNotFound, "only closed calls")
	_, err = s.LiveCallOfAgent(ctx, "a9")
	require.ErrorIs(t, err, actors.ErrNotFound)
}

func checkCallsOfCustomer(t *testing.T, ctx context.Context, s actors.CallStore) {
	// cu1's calls newest first: k7, then k4 k5 k6 (one instant, ids
	// descending: k6 k5 k4), k3, k2, k1; cu2's and cu10's are never listed.
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	calls := []actors.Call{
		closedCall("k1", "a1", "cu1", at(0)),
		closedCall("k2", "a2", "cu1", at(1)),
		closedCall("k3", "a1", "cu1", at(2)),
		closedCall("k4", "a1", "cu1", at(3)),
		closedCall("k6", "a2", "cu1", at(3)),
		closedCall("k5", "a3", "cu1", at(3)),
		liveCall("k7", "a1", "cu1", at(4)),
		closedCall("k8", "a1", "cu2", at(2)),
		closedCall("k9", "a1", "cu10", at(3)),
	}
	for _, c := range calls {
		require.NoError(t, s.CreateCall(ctx, c), "create %s", c.ID)
	}
	want := []string{"k7", "k6", "k5", "k4", "k3", "k2", "k1"}

	all, err := s.CallsOfCustomer(ctx, "cu1", time.Time{}, "", 100)
	require.NoError(t, err)
	assert.Equal(t, want, callIDs(all))
	assert.Equal(t, calls[6], all[0], "every field")

	for _, size := range []int{1, 2, 3, 7} {
		var got []string
		after, afterID := time.Time{}, ""
		for range 10 {
			page, err := s.CallsOfCustomer(ctx, "cu1", after, afterID, size)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), size)
			if len(page) == 0 {
				break
			}
			got = append(got, callIDs(page)...)
			last := page[len(page)-1]
			after, afterID = last.StartedAt, last.ID
		}
		assert.Equal(t, want, got, "pages of %d", size)
	}

	// A cursor inside the run of equal StartedAt.
	page, err := s.CallsOfCustomer(ctx, "cu1", at(3), "k5", 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"k4", "k3"}, callIDs(page))

	none, err := s.CallsOfCustomer(ctx, "cu1", time.Time{}, "", 0)
	require.NoError(t, err)
	assert.Empty(t, none, "limit 0")
	none, err = s.CallsOfCustomer(ctx, "cu-none", time.Time{}, "", 10)
	require.NoError(t, err)
	assert.Empty(t, none, "a customer without calls")
}

func checkCallsOfConversation(t *testing.T, ctx context.Context, s actors.CallStore) {
	// cv1's calls newest first: k7, then k4 k5 k6 (one instant, ids
	// descending: k6 k5 k4), k3, k2, k1. Never listed: k8 of cv2 (the same
	// customer), k9 of cv10 (a prefix match would take it), k10 of the same
	// customer without a conversation, k11 of another customer started at
	// k4's instant without a conversation.
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	of := func(c actors.Call, conversation string) actors.Call { c.ConversationID = conversation; return c }
	calls := []actors.Call{
		of(closedCall("k1", "a1", "cu1", at(0)), "cv1"),
		of(closedCall("k2", "a2", "cu1", at(1)), "cv1"),
		of(closedCall("k3", "a1", "cu1", at(2)), "cv1"),
		of(closedCall("k4", "a1", "cu1", at(3)), "cv1"),
		of(closedCall("k6", "a2", "cu1", at(3)), "cv1"),
		of(closedCall("k5", "a3", "cu1", at(3)), "cv1"),
		of(liveCall("k7", "a1", "cu1", at(4)), "cv1"),
		of(closedCall("k8", "a1", "cu1", at(2)), "cv2"),
		of(closedCall("k9", "a1", "cu1", at(3)), "cv10"),
		closedCall("k10", "a2", "cu1", at(4)),
		closedCall("k11", "a3", "cu2", at(3)),
	}
	for _, c := range calls {
		require.NoError(t, s.CreateCall(ctx, c), "create %s", c.ID)
	}
	want := []string{"k7", "k6", "k5", "k4", "k3", "k2", "k1"}

	all, err := s.CallsOfConversation(ctx, "cv1", time.Time{}, "", 100)
	require.NoError(t, err)
	assert.Equal(t, want, callIDs(all))
	assert.Equal(t, calls[6], all[0], "every field")

	for _, size := range []int{1, 2, 3, 7} {
		var got []string
		after, afterID := time.Time{}, ""
		for range 10 {
			page, err := s.CallsOfConversation(ctx, "cv1", after, afterID, size)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), size)
			if len(page) == 0 {
				break
			}
			got = append(got, callIDs(page)...)
			last := page[len(page)-1]
			after, afterID = last.StartedAt, last.ID
		}
		assert.Equal(t, want, got, "pages of %d", size)
	}

	// A cursor inside the run of equal StartedAt.
	page, err := s.CallsOfConversation(ctx, "cv1", at(3), "k5", 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"k4", "k3"}, callIDs(page))

	other, err := s.CallsOfConversation(ctx, "cv2", time.Time{}, "", 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"k8"}, callIDs(other), "the customer's other conversation")

	none, err := s.CallsOfConversation(ctx, "cv1", time.Time{}, "", 0)
	require.NoError(t, err)
	assert.Empty(t, none, "limit 0")
	none, err = s.CallsOfConversation(ctx, "cv-none", time.Time{}, "", 10)
	require.NoError(t, err)
	assert.Empty(t, none, "a conversation without calls")
	for _, cursor := range []time.Time{{}, at(9)} {
		none, err = s.CallsOfConversation(ctx, "", cursor, "k99", 10)
		require.NoError(t, err)
		assert.Empty(t, none, "no conversation names no calls (cursor %v)", cursor)
	}

	// The customer's listing still has every call, with or without a
	// conversation.
	ofCustomer, err := s.CallsOfCustomer(ctx, "cu1", time.Time{}, "", 100)
	require.NoError(t, err)
	assert.Equal(t, []string{"k7", "k10", "k9", "k6", "k5", "k4", "k8", "k3", "k2", "k1"}, callIDs(ofCustomer))
}

// callEvent is a callback of call k1 received at received.
func callEvent(id string, received time.Time) actors.CallEvent {
	return actors.CallEvent{
		ID: id, CallID: "k1", CallSid: "sid-k1", EventType: "terminal", Status: actors.CallCompleted,
		DurationSec: 42, RecordingURL: "https://recordings.exotel.com/k1.mp3", DateUpdated: received.Add(-time.Second),
		Body: []byte(`{"CallSid":"sid-k1","EventType":"terminal","Status":"completed"}`), ReceivedAt: received,
	}
}

func checkAddCallEvent(t *testing.T, ctx context.Context, s actors.CallStore) {
	e := callEvent("e1", base)
	e.Body = []byte{0xff, 0x00, 'S', 't', 'a', 't', 'u', 's', 0xfe} // not UTF-8, not JSON
	inserted, err := s.AddCallEvent(ctx, e)
	require.NoError(t, err)
	assert.True(t, inserted)

	repeat := callEvent("e1", base.Add(time.Hour))
	repeat.Status, repeat.DurationSec = actors.CallBusy, 0
	inserted, err = s.AddCallEvent(ctx, repeat)
	require.NoError(t, err)
	assert.False(t, inserted, "a repeat is not inserted")

	minimal := actors.CallEvent{ID: "e2", CallSid: "sid-k2", EventType: "answered", Status: actors.CallInProgress, ReceivedAt: base.Add(time.Second)}
	inserted, err = s.AddCallEvent(ctx, minimal)
	require.NoError(t, err)
	assert.True(t, inserted)

	got, err := s.UnappliedCallEvents(ctx, 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, e, got[0], "the first one is kept, byte for byte")
	assert.Equal(t, "e2", got[1].ID)
	assert.Empty(t, got[1].Body)
	assert.True(t, got[1].DateUpdated.IsZero())
	assert.True(t, got[1].AppliedAt.IsZero())
}

func checkUnappliedCallEvents(t *testing.T, ctx context.Context, s actors.CallStore) {
	none, err := s.UnappliedCallEvents(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, none)

	for _, e := range []actors.CallEvent{
		callEvent("e4", base.Add(3*time.Second)),
		callEvent("e3", base.Add(time.Second)),
		callEvent("e1", base.Add(2*time.Second)),
		callEvent("e2", base.Add(time.Second)), // same instant as e3: by id
	} {
		inserted, err := s.AddCallEvent(ctx, e)
		require.NoError(t, err)
		require.True(t, inserted, e.ID)
	}
	unapplied := func(limit int) []string {
		t.Helper()
		es, err := s.UnappliedCallEvents(ctx, limit)
		require.NoError(t, err)
		return idsOf(es, func(e actors.CallEvent) string { return e.ID })
	}
	assert.Equal(t, []string{"e2", "e3", "e1", "e4"}, unapplied(10))
	assert.Equal(t, []string{"e2", "e3"}, unapplied(2))
	assert.Empty(t, unapplied(0))

	require.NoError(t, s.MarkCallEventApplied(ctx, "e3", base.Add(time.Minute)))
	require.NoError(t, s.MarkCallEventApplied(ctx, "e4", base.Add(time.Minute)))
	assert.Equal(t, []string{"e2", "e1"}, unapplied(10))
	require.NoError(t, s.MarkCallEventApplied(ctx, "e3", base.Add(2*time.Minute)), "a repeat")
	require.ErrorIs(t, s.MarkCallEventApplied(ctx, "absent", base), actors.ErrNotFound)

	// A repeat of an applied callback stays applied.
	inserted, err := s.AddCallEvent(ctx, callEvent("e3", base.Add(time.Hour)))
	require.NoError(t, err)
	assert.False(t, inserted)
	assert.Equal(t, []string{"e2", "e1"}, unapplied(10))
}
