package density

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors/conversation"
)

// activeConversations is how many conversations the throughput benchmarks
// spread their messages over. One benchmark op is one round: a message to
// each of them, so -benchtime=1x still sends 1000 messages.
const activeConversations = 1000

// inflightSizes are the request windows the throughput benchmarks sweep:
// one request at a time (latency of the path) and 256 (throughput).
var inflightSizes = []int{1, 256}

// runLoad sends b.N rounds of activeConversations messages with send, at
// most inflight at a time, and reports msgs/s, allocations per message and
// latency percentiles (from issuing a request to reading its answer). Setup
// must be done before; everything sent is answered before the timer stops.
func runLoad(b *testing.B, inflight int, send func(i int) error) {
	b.Helper()
	msgs := b.N * activeConversations
	lat := make([]time.Duration, msgs)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	err := drive(b.Context(), msgs, inflight, lat, send)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	require.NoError(b, err)

	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(msgs), "allocs/msg")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(msgs), "B/msg")
	p50, p99 := percentiles(lat)
	b.ReportMetric(float64(p50.Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(p99.Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkConversationInbound applies inbound text messages to 1000 active
// conversations through supervisors.Host, round-robin, with up to inflight
// requests outstanding. Each message takes the real path: wamid look-up,
// message insert and conditional conversation save in SQLite, timer
// re-armed.
// roundRobin activates activeConversations conversations of f, then runs
// the load: inbound messages to them in turn, inflight at a time. f is
// closed when b ends.
func roundRobin(b *testing.B, f *fleet, inflight int) {
	b.Cleanup(func() { require.NoError(b, f.Close()) })
	require.NoError(b, f.activate(b.Context(), 0, activeConversations))
	keys := make([]conversation.Key, activeConversations)
	for i := range keys {
		keys[i] = customerKey(i)
	}
	runLoad(b, inflight, func(i int) error {
		key := keys[i%len(keys)]
		return f.deliver(key, inbound(key, 1+i/len(keys)))
	})
}

func BenchmarkConversationInbound(b *testing.B) {
	for _, inflight := range inflightSizes {
		b.Run(fmt.Sprintf("conversations=%s/inflight=%d", sizeLabel(activeConversations), inflight), func(b *testing.B) {
			f, err := openFleet(b.Context(), b.TempDir(), zap.NewNop())
			require.NoError(b, err)
			roundRobin(b, f, inflight)
		})
	}
}

// BenchmarkConversationInboundNoIO is BenchmarkConversationInbound over the
// in-memory store (memStore): the conversation actor and supervisors.Host
// without I/O, the figure to hold against BenchmarkBareActorRequest.
func BenchmarkConversationInboundNoIO(b *testing.B) {
	for _, inflight := range inflightSizes {
		b.Run(fmt.Sprintf("conversations=%s/inflight=%d", sizeLabel(activeConversations), inflight), func(b *testing.B) {
			roundRobin(b, openMemFleet(zap.NewNop()), inflight)
		})
	}
}

// BenchmarkBareActorRequest is BenchmarkConversationInbound's load against
// 1000 bare protoactor actors that only answer, asked directly from the
// root context: the actor runtime's request and response alone.
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
			runLoad(b, inflight, func(i int) error {
				pid := pids[i%len(pids)]
				r, err := system.Root.RequestFuture(pid, ping{}, requestTimeout).Result()
				if err != nil {
					return fmt.Errorf("request bare actor %s: %w", pid.Id, err)
				}
				if _, ok := r.(pong); !ok {
					return fmt.Errorf("request bare actor %s: answer is %T, want pong", pid.Id, r)
				}
				return nil
			})
		})
	}
}
