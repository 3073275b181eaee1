package agentsession_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/agentsession/sessiontest"
)

// streamReplayer is an in-memory event stream: Replay answers the events
// after a cursor, or err; gate, when set, holds Replay until closed.
type streamReplayer struct {
	mu     sync.Mutex
	events []actors.Event
	err    error
	gate   chan struct{}
	asked  chan string
}

func (r *streamReplayer) Replay(ctx context.Context, cursor string, fn func(actors.Event) bool) error {
	if r.asked != nil {
		r.asked <- cursor
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	events, err := append([]actors.Event(nil), r.events...), r.err
	r.mu.Unlock()
	if err != nil {
		return err
	}
	var from int
	_, _ = fmt.Sscanf(cursor, "%d-0", &from)
	for _, ev := range events {
		var n int
		_, _ = fmt.Sscanf(ev.Cursor, "%d-0", &n)
		if n > from && !fn(ev) {
			return nil
		}
	}
	return nil
}

// streamEvent is the n-th event of the stream, for assignee.
func streamEvent(n int, assignee string) actors.Event {
	return actors.Event{Type: actors.EventMessageCreated, ConversationID: "c-" + assignee, AssigneeID: assignee,
		Data: map[string]int{"n": n}, Cursor: fmt.Sprintf("%d-0", n)}
}

func dataN(t *testing.T, f sessiontest.Frame) int {
	t.Helper()
	var d struct{ N int }
	require.NoError(t, json.Unmarshal(f.Data, &d))
	return d.N
}

func TestResumingSocketGetsMissedFramesThenLiveOnesEachOnce(t *testing.T) {
	rp := &streamReplayer{gate: make(chan struct{}), asked: make(chan string, 1)}
	for n := 1; n <= 5; n++ {
		assignee := "agent-1"
		if n == 4 {
			assignee = "agent-2" // not for agent-1: never replayed to it
		}
		rp.events = append(rp.events, streamEvent(n, assignee))
	}
	h := newHubWith(t, agentsession.Options{Replay: rp})
	sink := &sessiontest.Sink{}
	s := h.OpenAfter(user("agent-1", actors.RoleAgent), time.Time{}, agentsession.Source{}, sink, "2-0")
	t.Cleanup(s.Closed)
	require.Equal(t, "2-0", <-rp.asked)
	// Live while the replay is read: 5 is in the stream already (replayed,
	// not pushed twice), 6 is new.
	h.Publish(streamEvent(5, "agent-1"))
	h.Publish(streamEvent(6, "agent-1"))
	assert.Zero(t, sink.Count(), "nothing before the replay is read: hello comes first")
	close(rp.gate)

	sink.WaitFrame(t, 3)
	// This node's reader may deliver an event the replay read already
	// after the session went live: still once.
	h.Publish(streamEvent(5, "agent-1"))
	h.Publish(streamEvent(7, "agent-1"))
	sink.WaitFrame(t, 4)
	frames := sink.Frames(t)
	require.Len(t, frames, 5)
	assert.Equal(t, agentsession.FrameHello, frames[0].Type)
	var got []int
	for _, f := range frames[1:] {
		assert.Equal(t, fmt.Sprintf("%d-0", dataN(t, f)), f.Cursor, "each frame carries its cursor")
		got = append(got, dataN(t, f))
	}
	assert.Equal(t, []int{3, 5, 6, 7}, got, "missed frames once, in order, then live ones")
	assert.Equal(t, agentsession.StateActive, s.State())
}

func TestResumeThatCannotReplayTellsTheClientToReload(t *testing.T) {
	many := &streamReplayer{}
	for n := 1; n <= 10; n++ {
		many.events = append(many.events, streamEvent(n, "agent-1"))
	}
	cases := []struct {
		name string
		// replay is the hub's Replayer; nil: the engine runs alone.
		replay    agentsession.Replayer
		maxReplay int
		reason    string
	}{
		{name: "cursor trimmed from the stream", replay: &streamReplayer{err: fmt.Errorf("replay: %w", actors.ErrCursorExpired)},
			reason: agentsession.ResyncCursorExpired},
		{name: "stream unreadable", replay: &streamReplayer{err: fmt.Errorf("replay: %w", actors.ErrUnavailable)},
			reason: agentsession.ResyncUnavailable},
		{name: "more missed than a socket is sent at once", replay: many, maxReplay: 3, reason: agentsession.ResyncTooMany},
		{name: "engine without an event stream", reason: agentsession.ResyncCursorExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHubWith(t, agentsession.Options{Replay: tc.replay, MaxReplay: tc.maxReplay})
			h.Publish(streamEvent(20, "nobody")) // the hub's live position
			sink := &sessiontest.Sink{}
			s := h.OpenAfter(user("agent-1", actors.RoleAgent), time.Time{}, agentsession.Source{}, sink, "1-0")
			t.Cleanup(s.Closed)
			resync := sink.WaitFrame(t, 1)
			frames := sink.Frames(t)
			require.Equal(t, agentsession.FrameHello, frames[0].Type)
			var hello struct{ Cursor string }
			require.NoError(t, json.Unmarshal(frames[0].Data, &hello))
			assert.Equal(t, "20-0", hello.Cursor, "the client resumes later from the live position")
			require.Equal(t, agentsession.FrameSessionResync, resync.Type)
			var d struct{ Reason string }
			require.NoError(t, json.Unmarshal(resync.Data, &d))
			assert.Equal(t, tc.reason, d.Reason)
			h.Publish(streamEvent(21, "agent-1"))
			live := sink.WaitFrame(t, 2)
			assert.Equal(t, "21-0", live.Cursor, "live events follow")
			assert.Len(t, sink.Frames(t), 3)
		})
	}
}

func TestHelloCarriesTheLiveCursorAndFramesTheirOwn(t *testing.T) {
	h := newHubWith(t, agentsession.Options{})
	h.Publish(streamEvent(9, "agent-1"))
	sink := &sessiontest.Sink{}
	open(t, h, user("agent-1", actors.RoleAgent), sink)
	var hello struct{ Cursor string }
	require.NoError(t, json.Unmarshal(sink.Frames(t)[0].Data, &hello))
	assert.Equal(t, "9-0", hello.Cursor)
	h.Publish(streamEvent(10, "agent-1"))
	h.Publish(actors.Event{Type: actors.EventMessageCreated, AssigneeID: "agent-1", Data: map[string]int{"n": 11}})
	sink.WaitFrame(t, 2)
	frames := sink.Frames(t)
	assert.Equal(t, "10-0", frames[1].Cursor)
	assert.Empty(t, frames[2].Cursor, "an event delivered without the stream has no cursor")
	assert.Equal(t, map[string]int{"agent-1": 1}, h.ActiveSessions())
}

func TestValidCursor(t *testing.T) {
	cases := []struct {
		cursor string
		valid  bool
	}{
		{"1733500000000-0", true}, {"0-0", true}, {"", false}, {"abc", false}, {"1-", false}, {"-1", false},
		{"1-2-3", false}, {"18446744073709551616-0", false}, {"1 -0", false},
	}
	for _, tc := range cases {
		t.Run(tc.cursor, func(t *testing.T) {
			assert.Equal(t, tc.valid, agentsession.ValidCursor(tc.cursor))
		})
	}
}

func TestDisconnectAllClosesEverySocketOfTheHub(t *testing.T) {
	h := newHubWith(t, agentsession.Options{})
	agent, sup := &sessiontest.Sink{}, &sessiontest.Sink{}
	open(t, h, user("agent-1", actors.RoleAgent), agent)
	open(t, h, user("sup-1", actors.RoleSupervisor), sup)
	h.DisconnectAll(agentsession.CloseTryAgainLater, agentsession.ReasonEventsLost)
	for _, s := range []*sessiontest.Sink{agent, sup} {
		code, reason := s.WaitClosed(t)
		assert.Equal(t, agentsession.CloseTryAgainLater, code)
		assert.Equal(t, agentsession.ReasonEventsLost, reason)
	}
	assert.False(t, h.Online("agent-1"))
	assert.False(t, h.Online("sup-1"))
}
