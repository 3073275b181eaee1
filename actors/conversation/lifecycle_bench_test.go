package conversation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// discardOutbox takes every job and keeps none.
type discardOutbox struct{}

func (discardOutbox) Publish(context.Context, actors.OutboundJob) error { return nil }

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSendLifecycleSQLite is one outbound message's life as its
// conversation actor sees it, over the SQLite store: the send (stored and
// queued), the sender's outcome (stored by the sender, then told to the
// actor) and Meta's three statuses (sent, delivered, read). 64
// conversations each run their messages one after another, all at once,
// so the store's group committer batches as under load. cpu-µs/op is the
// process's CPU time (the store's included) per message.
func BenchmarkSendLifecycleSQLite(b *testing.B) { sendLifecycle(b, false, false) }

// BenchmarkSendLifecycleSQLiteFenced is BenchmarkSendLifecycleSQLite with
// fencing on (Deps.Epochs): every write also checks the key's epoch in its
// committer job.
func BenchmarkSendLifecycleSQLiteFenced(b *testing.B) { sendLifecycle(b, false, true) }

// BenchmarkSendLifecycleSQLiteBatchedStatuses is BenchmarkSendLifecycleSQLite
// with Meta's three statuses handed over together (StatusesChanged), as the
// inbox does when they are in one round: one store write for the three.
func BenchmarkSendLifecycleSQLiteBatchedStatuses(b *testing.B) { sendLifecycle(b, true, false) }

func sendLifecycle(b *testing.B, batched, fenced bool) {
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
	const conversations = 64
	keys := make([]conversation.Key, conversations)
	ask := func(k conversation.Key, cmd conversation.Command) {
		if _, err := conversation.Ask(dir, k, cmd, 10*time.Second); err != nil {
			b.Error(err)
		}
	}
	for i := range keys {
		keys[i] = conversation.Key{PhoneNumberID: key.PhoneNumberID, WaID: fmt.Sprintf("49151%08d", i)}
		ask(keys[i], conversation.Inbound{Msg: actors.InboundMessage{PhoneNumberID: keys[i].PhoneNumberID, WaID: keys[i].WaID,
			WaMessageID: "wamid.in-" + keys[i].WaID, Type: "text", Text: "hello", Content: []byte(`{"body":"hello"}`), Timestamp: time.Now()}})
	}
	b.ResetTimer()
	cpu := cpuTime()
	var wg sync.WaitGroup
	for c := range conversations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := keys[c]
			for i := c; i < b.N; i += conversations {
				id := fmt.Sprintf("out-%d", i)
				wamid := "wamid." + id
				send := text(id, "hi")
				ask(k, send)
				if _, err := store.UpdateMessageStatus(ctx, id, actors.StatusSent, wamid, nil, time.Now().UTC()); err != nil {
					b.Error(err)
				}
				ask(k, conversation.SendOutcome{MessageID: id, WaMessageID: wamid, Status: actors.StatusSent})
				ups := make([]actors.StatusUpdate, 0, 3)
				for _, st := range []string{actors.StatusSent, actors.StatusDelivered, actors.StatusRead} {
					ups = append(ups, actors.StatusUpdate{PhoneNumberID: k.PhoneNumberID, RecipientID: k.WaID,
						WaMessageID: wamid, Status: st, Timestamp: time.Now()})
				}
				if batched {
					ask(k, conversation.StatusesChanged{Updates: ups})
					continue
				}
				for _, u := range ups {
					ask(k, conversation.StatusChanged{Update: u})
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}
