package agentsession_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
)

// countingSink drains instantly: it counts frames and bytes.
type countingSink struct {
	frames *atomic.Int64
	bytes  *atomic.Int64
}

func (s countingSink) Push(f *agentsession.Frame) bool {
	s.frames.Add(1)
	s.bytes.Add(int64(len(f.Bytes())))
	return true
}

func (s countingSink) Close(int, string) {}

// BenchmarkPublish measures the fan-out of one conversation event to every
// session of a hub (all supervisors, so every session gets every event),
// including the sessions' work: the timer stops only once every session
// has pushed every event.
func BenchmarkPublish(b *testing.B) {
	data := actors.ConversationView{ID: "conv-1", CustomerID: "cust-1", PhoneNumberID: "pn-1", WaID: "919876543210",
		State: "active", Unread: 3, CreatedAt: time.Unix(1700000000, 0).UTC(), UpdatedAt: time.Unix(1700000100, 0).UTC()}
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			system := actor.NewActorSystem()
			defer system.Shutdown()
			h := agentsession.NewHub(system, agentsession.Options{Log: zap.NewNop()})
			var frames, bytes atomic.Int64
			sessions := make([]*agentsession.Session, n)
			for i := range sessions {
				sessions[i] = h.Open(actors.User{ID: fmt.Sprintf("sup-%d", i), Role: actors.RoleSupervisor}, time.Time{}, agentsession.Source{}, countingSink{&frames, &bytes})
			}
			defer func() {
				for _, s := range sessions {
					s.Closed()
				}
			}()
			waitFrames(b, &frames, int64(n)) // the hellos
			frames.Store(0)
			bytes.Store(0)
			ev := actors.Event{Type: actors.EventConversationUpdated, ConversationID: data.ID, State: data.State, Data: data}

			b.ReportAllocs()
			b.ResetTimer()
			// Not b.Loop: it stops the timer before the sessions drain.
			for range b.N {
				h.Publish(ev)
			}
			waitFrames(b, &frames, int64(b.N)*int64(n))
			b.StopTimer()
			b.SetBytes(bytes.Load() / int64(b.N))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*int64(n)), "ns/delivery")
		})
	}
}

func waitFrames(b *testing.B, frames *atomic.Int64, want int64) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for frames.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("sessions pushed %d of %d frames", frames.Load(), want)
		}
		runtime.Gosched()
	}
}
