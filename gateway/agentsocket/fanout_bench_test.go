package agentsocket_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/gateway/agentsocket"
)

// BenchmarkFanout measures the fan-out path end to end over real loopback
// sockets: hub → session → socket writer → client. Each op is what an
// inbound message publishes (message.created and conversation.updated of
// one conversation), to its assignee (one of 200 agents) and a supervisor:
// four frames. "burst" publishes as fast as it can; "paced" 2000 ops/s.
// cpu-µs/frame is the process's CPU (server and clients) per frame.
func BenchmarkFanout(b *testing.B) {
	const agents = 200
	for _, mode := range []struct {
		name  string
		perMS int // ops per millisecond; 0: unpaced
	}{{"burst", 0}, {"paced-2000/s", 2}} {
		b.Run(mode.name, func(b *testing.B) {
			system := actor.NewActorSystem()
			defer system.Shutdown()
			hub := agentsession.NewHub(system, agentsession.Options{Log: zap.NewNop()})
			srv := agentsocket.New(agentsocket.Options{Hub: hub, Log: zap.NewNop(), BufferSize: 1 << 16})
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id := r.URL.Query().Get("user")
				role := actors.RoleAgent
				if id == "sup" {
					role = actors.RoleSupervisor
				}
				srv.Serve(w, r, actors.User{ID: id, Role: role}, time.Time{}, "127.0.0.1")
			}))
			defer hs.Close()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()

			var frames atomic.Int64
			url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws?user="
			ids := []string{"sup"}
			for i := range agents {
				ids = append(ids, fmt.Sprintf("a%d", i))
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for _, id := range ids {
				ws, _, err := websocket.Dial(ctx, url+id, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = ws.CloseNow() }()
				go func() {
					for {
						if _, _, err := ws.Read(ctx); err != nil {
							return
						}
						frames.Add(1)
					}
				}()
			}
			waitCount(b, &frames, int64(len(ids))) // the hellos
			frames.Store(0)
			data := actors.ConversationView{ID: "conv", CustomerID: "cust", PhoneNumberID: "pn", WaID: "919876543210",
				State: "active", Unread: 3, CreatedAt: time.Unix(1700000000, 0).UTC(), UpdatedAt: time.Unix(1700000100, 0).UTC()}
			msg := actors.MessageView{ID: "msg", ConversationID: "conv", Direction: "inbound", Type: "text", Text: "hello from a customer",
				Status: "received", CreatedAt: time.Unix(1700000100, 0).UTC(), UpdatedAt: time.Unix(1700000100, 0).UTC()}

			cpu0 := processCPU()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if mode.perMS > 0 && i%mode.perMS == 0 {
					if due := start.Add(time.Duration(i/mode.perMS) * time.Millisecond); time.Until(due) > 0 {
						time.Sleep(time.Until(due))
					}
				}
				assignee := fmt.Sprintf("a%d", i%agents)
				hub.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "conv", AssigneeID: assignee, Data: msg})
				hub.Publish(actors.Event{Type: actors.EventConversationUpdated, ConversationID: "conv", AssigneeID: assignee, Data: data})
			}
			want := int64(b.N) * 4
			waitCount(b, &frames, want)
			b.StopTimer()
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(cpu.Microseconds())/float64(want), "cpu-µs/frame")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/frame")
		})
	}
}

func waitCount(b *testing.B, n *atomic.Int64, want int64) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("got %d of %d frames", n.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
