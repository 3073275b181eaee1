package supervisors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// TestStopAllStopsEveryActorAndTheNextMessageReloads: StopAll empties the
// host, and the next command for a key activates a fresh actor that reads
// the conversation back from the store.
func TestStopAllStopsEveryActorAndTheNextMessageReloads(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	deps := &conversation.Deps{Store: store, Config: conversation.Config{Window: time.Hour, IdleTimeout: time.Minute}, Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))}
	h := NewHost(system, deps, 3, deps.Log)
	keys := make([]conversation.Key, 10)
	ids := map[conversation.Key]string{}
	for i := range keys {
		keys[i] = conversation.Key{PhoneNumberID: "pn", WaID: fmt.Sprintf("9190000000%02d", i)}
		ids[keys[i]] = ask(t, h, keys[i], inbound(keys[i], fmt.Sprintf("wamid.%d.1", i), "hello")).Conversation.ID
	}
	require.Equal(t, len(keys), h.Live())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := h.StopAll(ctx)
	require.NoError(t, err)
	require.Equal(t, len(keys), n)
	require.Eventually(t, func() bool { return h.Live() == 0 }, 5*time.Second, 10*time.Millisecond)

	for i, key := range keys {
		res := ask(t, h, key, inbound(key, fmt.Sprintf("wamid.%d.2", i), "again"))
		require.Equal(t, ids[key], res.Conversation.ID, "same conversation, reloaded from the store")
		require.Equal(t, 2, res.Conversation.Unread)
	}
	require.Equal(t, len(keys), h.Live())
}

// gatedStore holds the message writes of one wamid until released.
type gatedStore struct {
	conversation.Store
	wamid    string
	entered  chan struct{}
	released chan struct{}
}

func (s *gatedStore) AppendMessageAndSave(ctx context.Context, m actors.Message, c actors.Conversation) error {
	if m.WaMessageID == s.wamid {
		close(s.entered)
		<-s.released
	}
	return s.Store.AppendMessageAndSave(ctx, m, c)
}

// TestStopAllRefusesWhatWaitsInTheMailboxes: commands queued behind a
// write in flight when StopAll runs are not applied with the state of the
// activation being stopped (another node may own the conversation by
// now): each is refused as stale, at once, and a command sent without
// waiting for an answer goes to the key's next actor, which reloads.
func TestStopAllRefusesWhatWaitsInTheMailboxes(t *testing.T) {
	t.Parallel()
	sqlite := newStore(t)
	store := &gatedStore{Store: sqlite, wamid: "wamid.2", entered: make(chan struct{}), released: make(chan struct{})}
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	deps := &conversation.Deps{Store: store, Config: conversation.Config{Window: time.Hour, IdleTimeout: time.Minute}, Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))}
	h := NewHost(system, deps, 1, deps.Log)
	key := conversation.Key{PhoneNumberID: "pn", WaID: "919000000001"}
	ask(t, h, key, inbound(key, "wamid.1", "one"))

	inFlight := h.Request(key, inbound(key, "wamid.2", "in flight"), 5*time.Second)
	<-store.entered
	queued := []conversation.Reply{
		h.Request(key, inbound(key, "wamid.3", "queued"), 5*time.Second),
		h.Request(key, inbound(key, "wamid.4", "queued"), 5*time.Second),
	}
	h.Send(key, inbound(key, "wamid.5", "sent without waiting"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.StopAll(ctx)
	require.NoError(t, err)
	close(store.released)

	_, err = conversation.Await(key, inFlight)
	require.NoError(t, err, "the write in flight when StopAll ran completes")
	for i, r := range queued {
		_, err := conversation.Await(key, r)
		require.ErrorIsf(t, err, conversation.ErrStale, "queued command %d is refused, not applied by the stopped activation", i)
	}
	for _, w := range []string{"wamid.3", "wamid.4"} {
		_, err := sqlite.MessageByWaID(context.Background(), w)
		require.ErrorIs(t, err, actors.ErrNotFound, "%s was not stored", w)
	}
	require.Eventually(t, func() bool {
		_, err := sqlite.MessageByWaID(context.Background(), "wamid.5")
		return err == nil
	}, 5*time.Second, 5*time.Millisecond, "the command sent without waiting reaches the next actor")
	res := ask(t, h, key, inbound(key, "wamid.3", "retried"))
	require.Equal(t, 4, res.Conversation.Unread, "the retry applies on the reloaded state")
}
