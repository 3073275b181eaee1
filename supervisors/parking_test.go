package supervisors

import (
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// TestConversationParkedAfterItsRestartBudget: a conversation whose actor
// panics on every message is restarted maxRestarts times, each failing
// message answered at once; the next failure parks it (an error log and
// Parked), and while parked its requests are refused at once and its
// fire-and-forget commands held, while another conversation carries on.
// After the park a fresh actor gets what was held, then new messages.
func TestConversationParkedAfterItsRestartBudget(t *testing.T) {
	t.Parallel()
	store := &panicStore{Store: newStore(t)}
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	core, logs := observer.New(zapcore.InfoLevel)
	deps := &conversation.Deps{Store: store, Config: conversation.Config{Window: time.Hour, IdleTimeout: time.Minute}, Log: zap.New(core)}
	h := NewHost(system, deps, 1, deps.Log)
	h.sup.parkFor = time.Second
	a := conversation.Key{PhoneNumberID: "pn", WaID: "915555555555"}
	b := conversation.Key{PhoneNumberID: "pn", WaID: "916666666666"}
	ask(t, h, a, inbound(a, "wamid.pa0", "hello"))
	ask(t, h, b, inbound(b, "wamid.pb0", "hello"))

	for i := 0; i <= maxRestarts; i++ {
		began := time.Now()
		_, err := conversation.Ask(h, a, inbound(a, "wamid.pa-panic", "panic"), 5*time.Second)
		require.ErrorIs(t, err, actors.ErrUnavailable, "failure %d", i+1)
		require.Less(t, time.Since(began), time.Second, "failure %d is answered at once", i+1)
	}
	require.Eventually(t, func() bool { return h.Parked() == 1 }, 2*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("parked").Len(), "one alert at ERROR")

	// Parked: refused at once, without a new actor.
	_, err := conversation.Ask(h, a, inbound(a, "wamid.pa1", "while parked"), 5*time.Second)
	require.ErrorIs(t, err, actors.ErrUnavailable)
	require.True(t, strings.Contains(err.Error(), "parked"), err.Error())
	h.Send(a, conversation.Tick{}) // held for the next activation
	// The other conversation is unaffected.
	rb := ask(t, h, b, inbound(b, "wamid.pb1", "still here"))
	require.EqualValues(t, 2, rb.Conversation.Seq)

	// After the park a fresh actor takes the conversation back, state intact.
	time.Sleep(time.Second)
	ra := ask(t, h, a, inbound(a, "wamid.pa1", "after the park"))
	require.EqualValues(t, 2, ra.Conversation.Seq)
	require.EqualValues(t, maxRestarts+1, store.panics.Load())
	require.Equal(t, 1, logs.FilterMessageSnippet("parked conversation activated again").Len(), "the park's end is logged")
}
