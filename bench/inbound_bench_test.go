package bench

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors/conversation"
)

// activeConversations is how many conversations the throughput benchmarks
// spread their messages over, round-robin.
const activeConversations = 1000

// inflightSizes are the request windows the throughput benchmarks sweep:
// one request at a time (latency of the path) and 256 (throughput).
var inflightSizes = []int{1, 256}

// reportLoad records throughput and latency of b.N requests.
func reportLoad(b *testing.B, lat []time.Duration) {
	b.Helper()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
}

// BenchmarkConversationInbound applies b.N inbound text messages to 1000
// active conversations through supervisors.Host, round-robin, with up to
// inflight requests outstanding. Each message is the real path: wamid
// look-up, message insert and conditional conversation save in SQLite,
// timer re-armed. Every request is answered before the timer stops.
func BenchmarkConversationInbound(b *testing.B) {
	for _, inflight := range inflightSizes {
		b.Run(fmt.Sprintf("conversations=%s/inflight=%d", sizeLabel(activeConversations), inflight), func(b *testing.B) {
			f, err := openFleet(b.Context(), b.TempDir(), zap.NewNop())
			require.NoError(b, err)
			b.Cleanup(func() { require.NoError(b, f.Close()) })
			require.NoError(b, f.activate(b.Context(), 0, activeConversations))
			keys := make([]conversation.Key, activeConversations)
			for i := range keys {
				keys[i] = customerKey(i)
			}
			lat := make([]time.Duration, b.N)

			b.ReportAllocs()
			b.ResetTimer()
			err = drive(b.Context(), b.N, inflight, lat, func(i int) error {
				key := keys[i%len(keys)]
				return f.deliver(key, inbound(key, 1+i/len(keys)))
			})
			b.StopTimer()
			require.NoError(b, err)
			reportLoad(b, lat)
		})
	}
}

// BenchmarkBareActorRequest is BenchmarkConversationInbound's load against
// 1000 bare protoactor actors that only answer: the cost of the actor
// runtime's request and response alone.
func BenchmarkBareActorRequest(b *testing.B) {
	for _, inflight := range inflightSizes {
		b.Run("actors="+sizeLabel(activeConversations)+"/inflight="+strconv.Itoa(inflight), func(b *testing.B) {
			system := newSystem()
			pids := make([]*actor.PID, activeConversations)
			require.NoError(b, spawnBare(system, barePlain, pids))
			b.Cleanup(func() {
				require.NoError(b, stopAll(system, pids))
				system.Shutdown()
			})
			lat := make([]time.Duration, b.N)

			b.ReportAllocs()
			b.ResetTimer()
			err := drive(b.Context(), b.N, inflight, lat, func(i int) error {
				r, err := system.Root.RequestFuture(pids[i%len(pids)], ping{}, requestTimeout).Result()
				if err != nil {
					return fmt.Errorf("request bare actor %d: %w", i%len(pids), err)
				}
				if _, ok := r.(pong); !ok {
					return fmt.Errorf("request bare actor %d: answer is %T, want pong", i%len(pids), r)
				}
				return nil
			})
			b.StopTimer()
			require.NoError(b, err)
			reportLoad(b, lat)
		})
	}
}
