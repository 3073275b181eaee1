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
