// Package density holds end-to-end load scenarios for the conversation engine:
// how much memory and idle CPU a resident conversation actor costs, and how
// fast inbound messages are applied through the real path (supervisors.Host,
// the conversation actor and the SQLite store, or an in-memory store to take
// I/O out). It is imported by the bench CLI only; the benchmarks print and
// record their figures with b.ReportMetric and assert nothing about them.
//
// # What is measured
//
// BenchmarkIdleConversationMemory keeps N conversations in memory (10k, and
// 100k unless -short), each activated by one real inbound text message, so
// every actor holds its loaded conversation and its one armed timer (the
// earlier of NextTimerAt and the idle timeout), as it sits between two
// customer messages. The figure, bytes/conversation, is the growth of the live heap
// (runtime.MemStats HeapAlloc after two runtime.GC calls) from just before
// the activations to once the actors have been idle past their last I/O
// deadline, divided by N. It includes the host shards' maps and the
// conversations' key strings; it excludes SQLite's page cache, which lives
// outside the Go heap. Before the baseline is read the engine is warmed up
// as a long-running process would be (see warmRegistry and
// warmConversations), so fixed costs are not charged to the first actors,
// and the N conversation rows are created through the store (seed-s; it
// saves the customer and conversation inserts of a first message, not what
// the actor holds afterwards). The same iteration measures N bare protoactor
// actors that do nothing and N named bare actors holding a small struct and
// a time.AfterFunc timer, and reports the ratios conversation/bare and
// conversation/timer-actor. log=json repeats the 10k measurement with the
// JSON zap logger production runs with. BenchmarkBareActorMemory reports the
// two bare figures alone.
//
// The bench CLI's density scenario also watches each idle, resident
// population for a while (watchIdle): GC CPU from runtime/metrics, the
// process's CPU from getrusage, and the CPU of one forced collection. For a
// million conversations it seeds the state one inbound message leaves and
// activates each actor by a Tick (ByLoad), which holds the same state as
// ByInbound at a third of the time.
//
// BenchmarkConversationInbound applies inbound messages round-robin to 1000
// already-active conversations, one request at a time and with up to 256 in
// flight, including every SQLite write the actor makes; it reports msgs/s,
// allocations and latency percentiles. BenchmarkConversationInboundNoIO is
// the same over memStore, an in-memory store that passes the store contract
// suite (storetest.RunConversations), so only the actor, the host and the
// actor runtime are measured. BenchmarkBareActorRequest is the same load
// against bare actors that only answer, for comparison.
//
// # How to run
//
// The memory benchmarks measure once per iteration; run them once:
//
//	go test -run '^$' -bench Memory -benchtime=1x ./bench/density/
//	go test -run '^$' -bench Memory -benchtime=1x -short ./bench/density/   # 10k only
//
// The throughput benchmarks need the default benchtime (or more):
//
//	go test -run '^$' -bench 'Inbound|Request' ./bench/density/
//
// With BENCH_HEAPPROFILE_DIR set, every memory measurement also writes heap
// profiles taken just before and after its population was created; their
// difference shows where the bytes per actor go:
//
//	go tool pprof -sample_index=inuse_space -diff_base <dir>/01-x.before.pprof <dir>/01-x.after.pprof
//
// # Guarantees
//
// Every scenario runs in a fresh actor system and a fresh SQLite file (or
// in-memory store) under the benchmark's temporary directory, and stops its actors before the next
// one starts, so measurements do not see each other's heap. go test without
// -bench runs only quick checks of the helpers on at most 100 actors.
package density
