package redisbus

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/servicetest"
)

// recorder is a subscriber that keeps what it got.
type recorder struct {
	mu  sync.Mutex
	got []actors.Event
}

func (r *recorder) Publish(ev actors.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, ev)
}

func (r *recorder) events() []actors.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]actors.Event(nil), r.got...)
}

// node is one engine's worth of relay: its local bus and its relay, running.
type node struct {
	bus   *actors.Bus
	relay *Relay
}

func startNode(t testing.TB, rdb redis.UniversalClient, prefix, name string) *node {
	t.Helper()
	bus := actors.NewBus()
	r := New(rdb, bus, Options{Node: name, Prefix: prefix})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, r.Run(ctx))
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &node{bus: bus, relay: r}
}

func TestEventRoundTripsThroughTheStreamUnchanged(t *testing.T) {
	at := time.Date(2026, 12, 6, 15, 4, 5, 123456789, time.UTC)
	wa := "wamid.1"
	cases := []struct {
		name string
		ev   actors.Event
	}{
		{name: "message created with every key field", ev: actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", State: actors.StateActive,
			AssigneeID: "u1", PhoneNumberID: "pn1", WaID: "4477", PreviousAssigneeID: "u0", At: at,
			Data: actors.MessageView{ID: "m1", ConversationID: "c1", Direction: "inbound", Type: "text", Text: "héllo \"quoted\"",
				Status: "received", WaMessageID: &wa, CreatedAt: at, UpdatedAt: at}}},
		{name: "notification for one user", ev: actors.Event{Type: actors.EventNotification, UserID: "u2", At: at,
			Data: actors.NotificationView{ID: "n1", Kind: actors.NotifyAssigned, Title: "t", Body: "b", CreatedAt: at}}},
		{name: "no data and no time", ev: actors.Event{Type: actors.EventConversationUpdated, ConversationID: "c2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values, err := encode(entry{origin: "A", seq: 7, ev: tc.ev})
			require.NoError(t, err)
			m := map[string]any{}
			for i := 0; i < len(values); i += 2 {
				m[values[i].(string)] = values[i+1]
			}
			got, err := decode("5-1", m)
			require.NoError(t, err)
			assert.Equal(t, "A", got.origin)
			assert.Equal(t, uint64(7), got.seq)
			assert.Equal(t, "5-1", got.ev.Cursor)
			want, err := json.Marshal(tc.ev.Data)
			require.NoError(t, err)
			gotData, err := json.Marshal(got.ev.Data)
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(gotData), "data marshals to the same frame")
			if tc.ev.Data == nil {
				assert.Nil(t, got.ev.Data)
			}
			got.ev.Data, tc.ev.Data, got.ev.Cursor = nil, nil, ""
			assert.Equal(t, tc.ev, got.ev)
		})
	}
}

func TestDecodeRefusesMalformedEntries(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
	}{
		{name: "no origin", values: map[string]any{fieldType: "x", fieldSeq: "1"}},
		{name: "bad sequence", values: map[string]any{fieldOrigin: "A", fieldType: "x", fieldSeq: "one"}},
		{name: "data not JSON", values: map[string]any{fieldOrigin: "A", fieldType: "x", fieldSeq: "1", fieldData: "{"}},
		{name: "bad time", values: map[string]any{fieldOrigin: "A", fieldType: "x", fieldSeq: "1", fieldAt: "yesterday"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode("1-0", tc.values)
			assert.Error(t, err)
		})
	}
}

func TestEventOfNodeAReachesSubscribersOfBothNodesInOrder(t *testing.T) {
	rdb, prefix := servicetest.Redis(t)
	a := startNode(t, rdb, prefix, "A")
	b := startNode(t, rdb, prefix, "B")
	onA, onB := &recorder{}, &recorder{}
	a.relay.Delivered().Subscribe(onA, actors.SocketEvents...)
	b.relay.Delivered().Subscribe(onB, actors.SocketEvents...)
	requestedOnB := &recorder{}
	b.relay.Subscribe(requestedOnB, actors.EventAgentRequested)
	<-a.relay.Ready()
	<-b.relay.Ready()

	const n = 300
	for i := range n {
		a.bus.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "u1",
			Data: map[string]int{"i": i}})
	}
	a.bus.Publish(actors.Event{Type: actors.EventAgentRequested, ConversationID: "c1"})
	for _, r := range []*recorder{onA, onB} {
		require.Eventually(t, func() bool { return len(r.events()) >= n }, 10*time.Second, 5*time.Millisecond)
		got := r.events()
		require.Len(t, got, n, "each event once")
		last := streamID{}
		for i, ev := range got {
			assert.JSONEq(t, fmt.Sprintf(`{"i":%d}`, i), string(ev.Data.(json.RawMessage)), "order kept")
			id, err := parseID(ev.Cursor)
			require.NoError(t, err)
			assert.True(t, last.less(id), "cursors increase")
			last = id
		}
	}
	assert.Empty(t, requestedOnB.events(), "agent.requested stays on the node that asked")
}

func TestReplayReturnsEventsAfterACursorAndRefusesOnesItCannotServe(t *testing.T) {
	rdb, prefix := servicetest.Redis(t)
	bus := actors.NewBus()
	r := New(rdb, bus, Options{Node: "A", Prefix: prefix, MaxLen: 10})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, r.Run(ctx))
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-r.Ready()
	got := &recorder{}
	r.Delivered().Subscribe(got, actors.EventMessageCreated)
	// MAXLEN ~ trims whole blocks of entries: enough events that the
	// first ones surely go.
	// first ones surely go. In rounds, so the reader never lags behind
	// the trimming.
	const n = 1000
	for i := range n {
		bus.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", Data: map[string]int{"i": i}})
		if (i+1)%5 == 0 {
			require.Eventually(t, func() bool { return len(got.events()) == i+1 }, 10*time.Second, time.Millisecond)
		}
	}
	all := got.events()

	replay := func(cursor string) ([]string, error) {
		var ids []string
		err := r.Replay(context.Background(), cursor, func(ev actors.Event) bool {
			ids = append(ids, ev.Cursor)
			return true
		})
		return ids, err
	}
	assert.Zero(t, r.Lost(), "a reader that kept up lost nothing")
	ids, err := replay(all[n-3].Cursor)
	require.NoError(t, err)
	assert.Equal(t, []string{all[n-2].Cursor, all[n-1].Cursor}, ids, "the events after the cursor, in order")
	ids, err = replay(all[n-1].Cursor)
	require.NoError(t, err)
	assert.Empty(t, ids, "nothing after the last")

	_, err = replay(all[0].Cursor)
	require.ErrorIs(t, err, actors.ErrCursorExpired, "events after the first were trimmed")
	last, err := parseID(all[n-1].Cursor)
	require.NoError(t, err)
	_, err = replay(fmt.Sprintf("%d-0", last.ms+60_000))
	require.ErrorIs(t, err, actors.ErrCursorExpired, "a cursor past the stream's end was never handed out")
	_, err = replay("not-a-cursor")
	require.Error(t, err)

	other := New(rdb, actors.NewBus(), Options{Node: "B", Prefix: prefix + "empty:"})
	err = other.Replay(context.Background(), all[0].Cursor, func(actors.Event) bool { return true })
	require.ErrorIs(t, err, actors.ErrCursorExpired, "no stream at all")
}

func TestReaderThatFellBehindTheTrimmingCountsTheLossAndSaysSo(t *testing.T) {
	rdb, prefix := servicetest.Redis(t)
	lostCalled := make(chan struct{}, 1)
	r := New(rdb, actors.NewBus(), Options{Node: "A", Prefix: prefix, MaxLen: 10, OnLost: func() { lostCalled <- struct{}{} }})
	got := &recorder{}
	r.Delivered().Subscribe(got, actors.EventMessageCreated)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The reader stands at the end of an empty stream, then stalls while
	// another node writes far more than the stream keeps.
	pos, err := r.tail(ctx)
	require.NoError(t, err)
	const n = 1000
	writer := New(rdb, actors.NewBus(), Options{Node: "B", Prefix: prefix, MaxLen: 10})
	batch := make([]entry, 0, maxBatch)
	for i := range n {
		batch = append(batch, entry{origin: "B", seq: uint64(i + 1), ev: actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1"}})
		if len(batch) == maxBatch || i == n-1 {
			require.NoError(t, writer.xadd(ctx, batch))
			batch = batch[:0]
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.read(ctx, &pos)
	}()
	select {
	case <-lostCalled:
	case <-time.After(10 * time.Second):
		t.Fatal("the loss was never reported")
	}
	cancel()
	<-done
	assert.Positive(t, r.Lost())
	assert.Equal(t, int64(n), r.Lost()+int64(len(got.events())), "every event either delivered or counted lost")
}

// TestFlushReturnsOnceEveryEventPublishedBeforeIsInTheStream: events
// published, then Flush: when it returns they are all in Redis's stream
// (a process killed right after loses none), whatever the relay's batching.
// Before the relay runs, Flush waits for its context.
func TestFlushReturnsOnceEveryEventPublishedBeforeIsInTheStream(t *testing.T) {
	rdb, prefix := servicetest.Redis(t)
	bus := actors.NewBus()
	r := New(rdb, bus, Options{Node: "F", Prefix: prefix})
	bus.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c0"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	require.ErrorIs(t, r.Flush(ctx), context.DeadlineExceeded, "not running: nothing is written yet")
	cancel()

	a := startNode(t, rdb, prefix, "A")
	<-a.relay.Ready()
	for round := range 5 {
		const n = 200
		for i := range n {
			a.bus.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", Data: map[string]int{"round": round, "i": i}})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		require.NoError(t, a.relay.Flush(ctx))
		cancel()
		length, err := rdb.XLen(context.Background(), prefix+"events").Result()
		require.NoError(t, err)
		require.EqualValues(t, (round+1)*n, length, "every event published before Flush is in the stream when it returns")
	}
}
