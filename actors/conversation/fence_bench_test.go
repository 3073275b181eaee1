package conversation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// BenchmarkActivationSQLite is what bringing a conversation's actor into
// memory costs over the SQLite store: one op is the first command (a Tick
// with nothing due, so it writes nothing) to a conversation stored but not
// in memory, 64 at a time. Unfenced, an activation is one read.
func BenchmarkActivationSQLite(b *testing.B) { activation(b, false) }

// BenchmarkActivationSQLiteFenced is BenchmarkActivationSQLite with fencing
// on (Deps.Epochs): each activation also acquires its key's epoch, a write
// (one committer job, batched with the others in flight).
func BenchmarkActivationSQLiteFenced(b *testing.B) { activation(b, true) }

func activation(b *testing.B, fenced bool) {
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "engine.db"), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	system := quietSystem()
	defer system.Shutdown()
	cfg := conversation.Config{Window: 24 * time.Hour, IdleTimeout: time.Hour, IOTimeout: 10 * time.Second}
	deps := &conversation.Deps{Store: store, Outbox: discardOutbox{}, Config: cfg, Log: zap.NewNop()}
	if fenced {
		deps.Epochs = store
	}
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &parent{props: conversation.Props(system, deps), hydrated: conversation.HydratedProps(system, deps),
			children: map[conversation.Key]*actor.PID{}, probe: &probe{}}
	}))
	dir := directory{system: system, parent: pid}
	const workers = 64
	keys := make([]conversation.Key, b.N)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < b.N; i += workers {
				keys[i] = conversation.Key{PhoneNumberID: key.PhoneNumberID, WaID: fmt.Sprintf("49%011d", i)}
				c := actors.Conversation{ID: fmt.Sprintf("c-%d", i), CustomerID: "cu", PhoneNumberID: keys[i].PhoneNumberID, WaID: keys[i].WaID,
					State: actors.StateActive, LastInboundAt: now, ExpiresAt: now.Add(24 * time.Hour), NextTimerAt: now.Add(24 * time.Hour),
					CreatedAt: now, UpdatedAt: now}
				if err := store.CreateConversation(ctx, c); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for w := range workers {
		wg.Go(func() {
			for i := w; i < b.N; i += workers {
				if _, err := conversation.Ask(dir, keys[i], conversation.Tick{}, 10*time.Second); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}
