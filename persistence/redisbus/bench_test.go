package redisbus

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/servicetest"
)

// latencies records how long each event took from Publish on one node to
// a subscriber of another.
type latencies struct {
	mu  sync.Mutex
	d   []time.Duration
	got atomic.Int64
}

func (l *latencies) Publish(ev actors.Event) {
	d := time.Since(ev.At)
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
	l.got.Add(1)
}

func (l *latencies) percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := slices.Clone(l.d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkEventFromNodeAToSubscriberOnNodeB measures the relay on one
// machine's loopback Redis: events published on A's bus (a message view
// as data) reaching a subscriber on B, with the latency of each from
// Publish to B. "burst" publishes b.N events at once (throughput; the
// latency then includes queueing); "one-at-a-time" waits for each before
// the next (the latency a frame pays for going through Redis).
func BenchmarkEventFromNodeAToSubscriberOnNodeB(b *testing.B) {
	for _, mode := range []string{"burst", "one-at-a-time"} {
		b.Run(mode, func(b *testing.B) {
			rdb, prefix := servicetest.Redis(b)
			nodeA := startNode(b, rdb, prefix, "A")
			nodeB := startNode(b, rdb, prefix, "B")
			<-nodeA.relay.Ready()
			<-nodeB.relay.Ready()
			lat := &latencies{}
			nodeB.relay.Delivered().Subscribe(lat, actors.EventMessageCreated)
			data := actors.MessageView{ID: "m-1", ConversationID: "c-1", Direction: "inbound", Type: "text", Text: "hello there", Status: "received"}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				nodeA.bus.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c-1", AssigneeID: "u-1", Data: data, At: time.Now()})
				if mode == "one-at-a-time" {
					for lat.got.Load() <= int64(i) {
						runtime.Gosched()
					}
				}
			}
			for lat.got.Load() < int64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(lat.percentile(0.5).Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat.percentile(0.99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(nodeA.relay.Dropped()), "dropped")
		})
	}
}

// BenchmarkPublishAndFlush measures what a conversation command that
// publishes one event pays in a cluster before its answer (Relay.Flush):
// one event published, then flushed, one at a time ("serial") and from
// many actors at once ("parallel", where flushes share XADD batches).
func BenchmarkPublishAndFlush(b *testing.B) {
	for _, mode := range []string{"serial", "parallel"} {
		b.Run(mode, func(b *testing.B) {
			rdb, prefix := servicetest.Redis(b)
			n := startNode(b, rdb, prefix, "A")
			<-n.relay.Ready()
			ev := actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", Data: map[string]string{"text": "hello"}}
			flush := func() {
				n.bus.Publish(ev)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := n.relay.Flush(ctx); err != nil {
					b.Error(err)
				}
			}
			b.ResetTimer()
			if mode == "serial" {
				for b.Loop() {
					flush()
				}
				return
			}
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					flush()
				}
			})
		})
	}
}
