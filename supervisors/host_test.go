package supervisors

import (
	"context"
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
	"github.com/wacc/engine/persistence/sqlitestore"
)

// panicStore panics when asked to store a message whose text is "panic", as
// a bug in the write path would.
type panicStore struct {
	*sqlitestore.Store
	panics atomic.Int32
}

func (p *panicStore) AppendMessageAndSave(ctx context.Context, m actors.Message, c actors.Conversation) error {
	if m.Text == "panic" {
		p.panics.Add(1)
		panic("bug while storing a message")
	}
	return p.Store.AppendMessageAndSave(ctx, m, c)
}

func newStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func inbound(key conversation.Key, wamid, text string) conversation.Inbound {
	return conversation.Inbound{Msg: actors.InboundMessage{PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, WaMessageID: wamid,
		Type: "text", Text: text, Content: []byte(`{"body":"` + text + `"}`), Timestamp: time.Now()}}
}

func ask(t *testing.T, h *Host, key conversation.Key, cmd conversation.Command) conversation.Result {
	t.Helper()
	res, err := conversation.Ask(h, key, cmd, 5*time.Second)
	require.NoError(t, err)
	return res
}

func TestPanicRestartsOnlyThatConversation(t *testing.T) {
	t.Parallel()
	store := &panicStore{Store: newStore(t)}
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	deps := &conversation.Deps{Store: store, Config: conversation.Config{Window: time.Hour, IdleTimeout: time.Minute}, Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))}
	h := NewHost(system, deps, 2, deps.Log)
	a := conversation.Key{PhoneNumberID: "pn", WaID: "911111111111"}
	b := conversation.Key{PhoneNumberID: "pn", WaID: "922222222222"}

	ca := ask(t, h, a, inbound(a, "wamid.a1", "hello")).Conversation
	cb := ask(t, h, b, inbound(b, "wamid.b1", "hello")).Conversation
	require.Equal(t, 2, h.Live())

	// The panic fails that one request at once (the caller retries)...
	began := time.Now()
	_, err := conversation.Ask(h, a, inbound(a, "wamid.a2", "panic"), 5*time.Second)
	require.ErrorIs(t, err, actors.ErrUnavailable)
	require.NotErrorIs(t, err, conversation.ErrNoAnswer, "answered by the supervisor, not left to time out")
	require.Less(t, time.Since(began), time.Second)
	require.EqualValues(t, 1, store.panics.Load())

	// ...while the other conversation carries on, in the same actor.
	rb := ask(t, h, b, inbound(b, "wamid.b2", "still here"))
	require.Equal(t, cb.ID, rb.Conversation.ID)
	require.EqualValues(t, 2, rb.Conversation.Seq)

	// The restarted conversation reloaded its persisted state.
	ra := ask(t, h, a, inbound(a, "wamid.a3", "after restart"))
	require.Equal(t, ca.ID, ra.Conversation.ID)
	require.EqualValues(t, 2, ra.Conversation.Seq)
	require.Equal(t, 2, ra.Conversation.Unread)
	require.Equal(t, 2, h.Live())
}

func TestIdleConversationsPassivateAndReactivate(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	deps := &conversation.Deps{Store: store, Config: conversation.Config{Window: time.Hour, IdleTimeout: 200 * time.Millisecond}, Log: zap.NewNop()}
	h := NewHost(system, deps, 1, deps.Log)
	k := conversation.Key{PhoneNumberID: "pn", WaID: "933333333333"}
	first := ask(t, h, k, inbound(k, "wamid.p1", "one")).Conversation
	require.Equal(t, 1, h.Live())
	require.Eventually(t, func() bool { return h.Live() == 0 }, 5*time.Second, 20*time.Millisecond)
	// Messages sent in a burst while the actor stops are all applied, in order.
	var replies []conversation.Reply
	for i := 0; i < 20; i++ {
		replies = append(replies, h.Request(k, inbound(k, "wamid.p"+string(rune('a'+i)), "burst"), 5*time.Second))
	}
	for _, r := range replies {
		_, err := conversation.Await(k, r)
		require.NoError(t, err)
	}
	c, err := store.Conversation(context.Background(), first.ID)
	require.NoError(t, err)
	require.EqualValues(t, 21, c.Seq)
}

// TestTwoActivationsOfOneConversation runs two hosts (as two nodes would)
// over one store: the stale activation's write is rejected, it stops, and no
// message is lost or double counted.
func TestTwoActivationsOfOneConversation(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	newHost := func() *Host {
		system := actor.NewActorSystem()
		t.Cleanup(system.Shutdown)
		deps := &conversation.Deps{Store: store, Config: conversation.Config{Window: time.Hour, IdleTimeout: time.Minute}, Log: zap.NewNop()}
		return NewHost(system, deps, 1, deps.Log)
	}
	h1, h2 := newHost(), newHost()
	k := conversation.Key{PhoneNumberID: "pn", WaID: "944444444444"}
	c := ask(t, h1, k, inbound(k, "wamid.t1", "one")).Conversation
	ask(t, h2, k, inbound(k, "wamid.t2", "two")) // h2 loads version 2 and moves on
	// h1 still holds version 2 (stale): its write is rejected; the message is
	// applied on top of the newer state and the activation retires.
	ask(t, h1, k, inbound(k, "wamid.t3", "three"))
	require.Eventually(t, func() bool { return h1.Live() == 0 }, 5*time.Second, 10*time.Millisecond, "stale activation stopped")
	ask(t, h2, k, inbound(k, "wamid.t4", "four")) // h2 is now stale too: same story
	ask(t, h1, k, inbound(k, "wamid.t5", "five")) // fresh activation on h1

	got, err := store.Conversation(context.Background(), c.ID)
	require.NoError(t, err)
	require.Equal(t, 5, got.Unread, "every message counted once")
	require.EqualValues(t, 5, got.Seq)
	ms, _, err := store.ListMessages(context.Background(), c.ID, "", 100)
	require.NoError(t, err)
	require.Len(t, ms, 5)
}

// TestConversationKeysSurviveTheirActorsName checks that every key the host
// accepts comes back from its actor's name (which is how a conversation
// actor, restarted or not, knows its key), and that a key that would not is
// refused.
func TestConversationKeysSurviveTheirActorsName(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	deps := &conversation.Deps{Store: store, Config: conversation.Config{Window: time.Hour, IdleTimeout: time.Minute}, Log: zap.NewNop()}
	h := NewHost(system, deps, 1, deps.Log)
	tests := []struct {
		name string
		key  conversation.Key
		// wantErr is the error a message to key is answered with.
		wantErr error
	}{
		{name: "digits", key: conversation.Key{PhoneNumberID: "106540352242922", WaID: "4915112345678"}},
		{name: "slash in the customer's id", key: conversation.Key{PhoneNumberID: "106540352242922", WaID: "49/151"}},
		{name: "slash in the business number", key: conversation.Key{PhoneNumberID: "1065/40", WaID: "4915112345679"}, wantErr: conversation.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back, ok := conversation.KeyFromName(tt.key.Name())
			require.True(t, ok)
			assert.Equal(t, tt.wantErr == nil, back == tt.key, "key read back from its name: %+v", back)

			res, err := conversation.Ask(h, tt.key, inbound(tt.key, "wamid."+tt.name, "hello"), 5*time.Second)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.NotErrorIs(t, err, conversation.ErrNoAnswer, "the host answered")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.key.WaID, res.Conversation.WaID)
			assert.Equal(t, tt.key.PhoneNumberID, res.Conversation.PhoneNumberID)
		})
	}
}
