package actors_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/wacc/engine/actors"
)

// recorder is a Publisher that keeps the types it was handed.
type recorder struct {
	mu    sync.Mutex
	types []string
}

func (r *recorder) Publish(ev actors.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.types = append(r.types, ev.Type)
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.types...)
}

func TestBusDeliversTheTypesEachSubscriberWants(t *testing.T) {
	t.Parallel()
	var bus actors.Bus // the zero value is ready
	sockets, assigner, all := &recorder{}, &recorder{}, &recorder{}
	bus.Subscribe(sockets, actors.SocketEvents...)
	stopAssigner := bus.Subscribe(assigner, actors.EventConversationUpdated, actors.EventAgentRequested)
	bus.Subscribe(all)

	for _, typ := range []string{actors.EventMessageCreated, actors.EventAgentRequested, actors.EventConversationUpdated, actors.EventNotification} {
		bus.Publish(actors.Event{Type: typ})
	}
	assert.Equal(t, []string{actors.EventMessageCreated, actors.EventConversationUpdated, actors.EventNotification}, sockets.got(),
		"agent.requested never reaches a socket")
	assert.Equal(t, []string{actors.EventAgentRequested, actors.EventConversationUpdated}, assigner.got())
	assert.Len(t, all.got(), 4, "no types: every event")

	stopAssigner()
	stopAssigner()
	bus.Publish(actors.Event{Type: actors.EventAgentRequested})
	assert.Len(t, assigner.got(), 2, "nothing after unsubscribing")
	assert.Len(t, all.got(), 5, "the others stay subscribed")
}

func TestBusIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	bus := actors.NewBus()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := &recorder{}
			stop := bus.Subscribe(r, actors.EventMessageCreated)
			bus.Publish(actors.Event{Type: actors.EventMessageCreated})
			stop()
		}()
		go func() {
			defer wg.Done()
			bus.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: fmt.Sprint(i)})
		}()
	}
	wg.Wait()
}

// discard is a subscriber that does nothing.
type discard struct{}

func (discard) Publish(actors.Event) {}

// BenchmarkBusPublish measures the bus's own cost on the path of every
// event: with the engine's two subscribers (sockets and the assigner), one
// of which skips the event's type. It allocates nothing.
func BenchmarkBusPublish(b *testing.B) {
	bus := actors.NewBus()
	bus.Subscribe(discard{}, actors.SocketEvents...)
	bus.Subscribe(discard{}, actors.EventConversationUpdated, actors.EventConversationAssigned, actors.EventAgentRequested)
	ev := actors.Event{Type: actors.EventMessageCreated, ConversationID: "conv-1", State: actors.StateActive, PhoneNumberID: "pn", WaID: "49151"}
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(ev)
	}
}
