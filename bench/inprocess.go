package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/bench/density"
)

// runActors measures, one after the other in this process: bare protoactor
// actors answering a request; conversation actors handling inbound
// messages through supervisors.Host over an in-memory store (no I/O), and
// the same over SQLite (with its writes); bare spawn/stop churn; and a Go
// channel ping-pong.
func runActors(ctx context.Context, env *Env, res *Result) error {
	const conversations = 1000
	bare, err := density.SpawnBare(conversations)
	if err != nil {
		return fmt.Errorf("actors: %w", err)
	}
	defer bare.Close()
	peer := loadInProcess(ctx, env, loadSpec{Name: "bare protoactor actor", Op: func(_ context.Context, i int64) error { return bare.Ping(int(i)) }})
	res.Runs = append(res.Runs, peer)

	mem := density.OpenMemoryFleet(zap.NewNop())
	defer mem.Close()
	if err := mem.Activate(ctx, 0, conversations); err != nil {
		return fmt.Errorf("actors: %w", err)
	}
	noIO := loadInProcess(ctx, env, loadSpec{Name: "conversation actor (no I/O)", Op: func(_ context.Context, i int64) error {
		return mem.Deliver(int(i%conversations), 1+int(i/conversations))
	}})
	res.Runs = append(res.Runs, noIO)
	if err := mem.Close(); err != nil {
		return fmt.Errorf("actors: %w", err)
	}

	var withIO Run
	var byDriver []driverRuns
	for k, d := range env.sqliteVariants() {
		run, err := env.actorsSQLite(ctx, d)
		if err != nil {
			return fmt.Errorf("actors: %w", err)
		}
		res.Runs = append(res.Runs, run)
		if k == 0 {
			withIO = run
		}
		byDriver = append(byDriver, driverRuns{variant: d, saturation: run})
	}
	compareDrivers(res, "actors (conversation actor over SQLite)", "message", byDriver)

	churn := loadInProcess(ctx, env, loadSpec{Name: "bare spawn/stop churn", Op: func(_ context.Context, _ int64) error { return bare.SpawnStop() }})
	res.Runs = append(res.Runs, churn)
	if err := bare.Close(); err != nil {
		return fmt.Errorf("actors: %w", err)
	}

	ch := loadInProcess(ctx, env, loadSpec{Name: "Go channel ping-pong", Workers: 1, Op: channelPingPong()})
	res.Runs = append(res.Runs, ch)

	res.CPU = &CPULine{Op: "message (the whole bench process, load generator included)",
		Figures: []CPUFigure{cpuFigure("no I/O", noIO), cpuFigure("bare protoactor actor", peer)},
		Note: fmt.Sprintf("no µs target; the issue's is conversation (no I/O) ≥ 0.5× the bare actor's rate, which at equal CPU per message is ≤ 2× its CPU per message: ≤ %s µs, got %s µs",
			num(2*peer.Extra["cpuUsPerOp"]), num(noIO.Extra["cpuUsPerOp"]))}
	for _, d := range byDriver {
		res.CPU.Figures = append(res.CPU.Figures, cpuFigure("SQLite"+d.variant.suffix, d.saturation))
	}
	res.Comparisons = append(res.Comparisons,
		compare("conversation actor (no I/O) vs bare protoactor actor (0.5× wanted)", noIO.Rate/max(peer.Rate, 1), 0.5, "×", false),
	)
	res.Notes = append(res.Notes,
		fmt.Sprintf("%d active conversations round-robin, %d requests in flight, through supervisors.Host (16 shards) as in production; the bare actors are %d, asked directly from the root context", conversations, env.Opts.Conns, conversations),
		"no I/O: the conversation actor over an in-memory store (bench/density memstore.go: maps behind one mutex, passing the store contract suite) that keeps every message; the actor still does its store calls, per-call timeouts, timers and answer",
		fmt.Sprintf("for scale: conversation over SQLite %.3f× the bare actor (its writes bound it); conversation (no I/O) %.3f× the Go channel ping-pong, bare actor %.3f× it", withIO.Rate/max(peer.Rate, 1), noIO.Rate/max(ch.Rate, 1), peer.Rate/max(ch.Rate, 1)),
		"cpuUsPerOp, allocsPerOp and bytesPerOp (extra) are the whole bench process's over the measurement, load generator included, divided by the operations",
		"the channel ping-pong is one goroutine pair, one round trip per op; spawn/stop churn of conversations (load, spawn, handle, passivate) is the activation scenario")
	return nil
}

// actorsSQLiteConversations is the actors scenario's population.
const actorsSQLiteConversations = 1000

// actorsSQLiteHere measures conversation actors over SQLite in this process,
// with the SQLite driver this binary was built with.
func actorsSQLiteHere(ctx context.Context, env *Env, name string) (Run, error) {
	const conversations = actorsSQLiteConversations
	dir, err := os.MkdirTemp(env.Tmp, "actors-")
	if err != nil {
		return Run{}, err
	}
	f, err := density.OpenFleet(ctx, dir, zap.NewNop())
	if err != nil {
		return Run{}, err
	}
	defer f.Close()
	if err := f.Activate(ctx, 0, conversations); err != nil {
		return Run{}, err
	}
	run := loadInProcess(ctx, env, loadSpec{Name: name, Op: func(_ context.Context, i int64) error {
		return f.Deliver(int(i%conversations), 1+int(i/conversations))
	}})
	return run, f.Close()
}

// loadInProcess is env.load for a load that runs in this process: it adds
// the process's CPU time and allocations per operation over the
// measurement to the run's extra figures.
func loadInProcess(ctx context.Context, env *Env, spec loadSpec) Run {
	var cpu0 time.Duration
	var mem0 runtime.MemStats
	spec.OnMeasure = func() {
		cpu0 = processCPU()
		runtime.ReadMemStats(&mem0)
	}
	run := env.load(ctx, spec)
	var mem1 runtime.MemStats
	runtime.ReadMemStats(&mem1)
	if run.Ops > 0 {
		ops := float64(run.Ops)
		run.Extra = map[string]float64{
			"cpuUsPerOp":  float64((processCPU() - cpu0).Microseconds()) / ops,
			"allocsPerOp": float64(mem1.Mallocs-mem0.Mallocs) / ops,
			"bytesPerOp":  float64(mem1.TotalAlloc-mem0.TotalAlloc) / ops,
		}
	}
	return run
}

// processCPU is this process's user and system CPU time so far (0 when
// getrusage fails).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// channelPingPong is one round trip to a goroutine over unbuffered channels.
func channelPingPong() func(context.Context, int64) error {
	ping, pong := make(chan struct{}), make(chan struct{})
	go func() {
		for range ping {
			pong <- struct{}{}
		}
	}()
	return func(ctx context.Context, _ int64) error {
		select {
		case ping <- struct{}{}:
		case <-ctx.Done():
			close(ping)
			return ctx.Err()
		}
		<-pong
		return nil
	}
}

// runDensity measures, for each population size, the live heap of N idle
// conversation actors and of N bare protoactor actors (plain, and named
// with a timer), and what each population costs in CPU while it sits idle
// and resident, in this process.
func runDensity(ctx context.Context, env *Env, res *Result) error {
	sizes, watch := densitySizes(env.Opts.Quick, os.Getenv(densityMillionEnv) == "1")
	for _, sz := range sizes {
		if err := densityAt(ctx, env, res, sz, watch); err != nil {
			return fmt.Errorf("density: N=%s: %w", sizeLabel(sz.n), err)
		}
	}
	res.Notes = append(res.Notes,
		"bytes per actor: growth of the live heap (after two forced GCs) from before the population to after it sat idle past its last I/O deadline, divided by N; each conversation actor holds its loaded conversation (compact: 144 bytes and its ids) and one alarm (a 16-byte entry in a heap its shard's actors share with one runtime timer) that wakes it for the window's deadlines and for its idle timeout",
		"activated by inbound: rows seeded as new, one inbound text message each (wamid insert, conditional save); by load (1M): rows seeded with the state one inbound message leaves, each actor activated by a Tick it answers from what it loaded, no write: the same actor state (checked by TestLoadActivationHoldsWhatAnInboundLeaves; 10k and 100k measured both ways agreed within 2%), about 3× faster to populate",
		fmt.Sprintf("idle CPU: with the population resident and idle, %s of watching: the GC's CPU (runtime/metrics /cpu/classes/gc/total: background mark workers included, pauses counted × GOMAXPROCS) and the whole process's CPU (getrusage) as shares of one core; an idle process that allocates nothing runs no GC cycle but the runtime's forced one every %s, so the process CPU of one full collection of the resident population (forced after the window) ÷ %s is the steady idle GC cost; the runtime metric counts its GC workers' wall time, far above their CPU on a busy machine, so it is given beside it", watch, density.ForcedGCPeriod, density.ForcedGCPeriod),
		"timers: each conversation has one armed alarm for the earlier of its window deadline and its idle timeout, re-armed only when a deadline moves earlier: a message that moves them later leaves it, and the early wake re-arms it once; the alarms of a shard's actors sit in one heap behind one runtime timer and cost no CPU until they fire, so the idle window's process CPU includes those early wakes of actors activated just before it",
		fmt.Sprintf("sizes: %s; %s=1 adds 1M to a full run (about six minutes more; make bench sets it)", sizeList(sizes), densityMillionEnv))
	return nil
}

// densityMillionEnv, set to 1, adds the 1M population to a full run: it
// takes about six minutes on the 2-core bench machine.
const densityMillionEnv = "BENCH_DENSITY_1M"

// densitySize is one population of the density scenario.
type densitySize struct {
	n int
	// how brings the conversations into memory: by one inbound message
	// each, or (for 1M, where that takes minutes) by loading the state one
	// leaves.
	how density.Activation
}

// densitySizes are the population sizes and the idle watch window of the
// density scenario: 10k and 3 s with --quick, else 100k (and 1M when
// million is set), 10 s.
func densitySizes(quick, million bool) ([]densitySize, time.Duration) {
	switch {
	case quick:
		return []densitySize{{n: 10_000, how: density.ByInbound}}, 3 * time.Second
	case million:
		return []densitySize{{n: 100_000, how: density.ByInbound}, {n: 1_000_000, how: density.ByLoad}}, 10 * time.Second
	default:
		return []densitySize{{n: 100_000, how: density.ByInbound}}, 10 * time.Second
	}
}

// sizeList writes sizes as "10k (by inbound), 1M (by load)".
func sizeList(sizes []densitySize) string {
	parts := make([]string, len(sizes))
	for i, sz := range sizes {
		parts[i] = sizeLabel(sz.n) + " (by " + sz.how.String() + ")"
	}
	return strings.Join(parts, ", ")
}

// sizeLabel writes 10000 as 10k and 1000000 as 1M.
func sizeLabel(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	default:
		return fmt.Sprint(n)
	}
}

// densityAt measures the three populations of size n and adds their runs,
// comparisons and notes to res.
func densityAt(ctx context.Context, env *Env, res *Result, sz densitySize, watch time.Duration) error {
	n := sz.n
	dir, err := os.MkdirTemp(env.Tmp, "density-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	size := sizeLabel(n)
	began := time.Now()
	fmt.Fprintf(env.Progress, "   %s conversations: seed, activate by %s, idle %s, read the heap, watch %s\n", size, sz.how, density.IdleAfter, watch)
	conv, err := density.ConversationFootprint(ctx, dir, n, sz.how, density.IdleAfter, watch, zap.NewNop())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Progress, "   %s conversations: %.0f B each; seeded in %.1fs, activated in %.1fs; idle GC %.3f%% of a core\n",
		size, conv.BytesPerActor(), conv.Prepare.Seconds(), conv.Populate.Seconds(), conv.Idle.GCShare()*100)
	fmt.Fprintf(env.Progress, "   %s bare actors, plain and with a timer\n", size)
	plain, err := density.BareFootprint(n, false, watch)
	if err != nil {
		return err
	}
	timer, err := density.BareFootprint(n, true, watch)
	if err != nil {
		return err
	}
	fp := func(name string, f density.Footprint) Run {
		return Run{Name: name, Ops: int64(f.N), Seconds: f.Populate.Seconds(), Rate: float64(f.N) / f.Populate.Seconds(),
			Extra: map[string]float64{
				"bytesPerActor": f.BytesPerActor(), "objectsPerActor": f.ObjectsPerActor(), "prepareSeconds": f.Prepare.Seconds(),
				"idleWatchSeconds": f.Idle.Window.Seconds(), "idleGcCpuShare": f.Idle.GCShare(), "idleGcCycles": float64(f.Idle.GCCycles),
				"idleProcessCpuShare": f.Idle.ProcessShare(), "idleScavengeCpuSeconds": f.Idle.ScavengeCPU.Seconds(), "fullGcCpuSeconds": f.Idle.FullGCCPU.Seconds(), "fullGcProcessCpuSeconds": f.Idle.FullGCProcessCPU.Seconds(),
				"forcedGcCpuShare": f.Idle.ForcedGCShare(),
			}}
	}
	took := time.Since(began)
	res.Runs = append(res.Runs, fp(fmt.Sprintf("conversation actors (N=%s by %s, activations/s)", size, sz.how), conv),
		fp(fmt.Sprintf("bare actors (N=%s, spawns/s)", size), plain), fp(fmt.Sprintf("bare timer actors (N=%s, spawns/s)", size), timer))
	res.Comparisons = append(res.Comparisons,
		compare(fmt.Sprintf("live heap per idle conversation (N=%s)", size), conv.BytesPerActor(), 2048, " B", true),
		compare(fmt.Sprintf("conversation vs bare actor heap (N=%s, ≤ 2× wanted)", size), conv.BytesPerActor()/plain.BytesPerActor(), 2, "×", true),
		compare(fmt.Sprintf("idle GC CPU, conversations resident (N=%s, %s window, runtime/metrics)", size, watch), conv.Idle.GCShare()*100, 5, "% of a core", true),
		compare(fmt.Sprintf("idle process CPU, conversations resident (N=%s, %s window, getrusage)", size, watch), conv.Idle.ProcessShare()*100, 5, "% of a core", true),
		compare(fmt.Sprintf("forced GC of the resident conversations every %s (N=%s, process CPU of one)", density.ForcedGCPeriod, size), conv.Idle.ForcedGCShare()*100, 5, "% of a core", true),
	)
	res.Notes = append(res.Notes,
		fmt.Sprintf("N=%s bytes per actor: conversation %.0f B, bare %.0f B, bare with timer %.0f B; seeding the rows took %.1f s, activating by %s %.1f s; the three populations %.0f s in all",
			size, conv.BytesPerActor(), plain.BytesPerActor(), timer.BytesPerActor(), conv.Prepare.Seconds(), sz.how, conv.Populate.Seconds(), took.Seconds()),
		fmt.Sprintf("N=%s idle, resident, over %.1f s: conversations GC %.3f%% / process %.3f%% of a core (%d GC cycles, scavenger %.3f s), bare GC %.3f%% / process %.3f%% (%d cycles), bare with timer GC %.3f%% / process %.3f%% (%d cycles)",
			size, conv.Idle.Window.Seconds(), conv.Idle.GCShare()*100, conv.Idle.ProcessShare()*100, conv.Idle.GCCycles, conv.Idle.ScavengeCPU.Seconds(),
			plain.Idle.GCShare()*100, plain.Idle.ProcessShare()*100, plain.Idle.GCCycles, timer.Idle.GCShare()*100, timer.Idle.ProcessShare()*100, timer.Idle.GCCycles),
		fmt.Sprintf("N=%s one forced full GC with the population resident, process CPU (runtime/metrics GC CPU in brackets): conversations %.3f s (%.3f s), bare %.3f s (%.3f s), bare with timer %.3f s (%.3f s); one every %s is %.3f%% of a core for the conversations (%.3f%% by the runtime metric)",
			size, conv.Idle.FullGCProcessCPU.Seconds(), conv.Idle.FullGCCPU.Seconds(), plain.Idle.FullGCProcessCPU.Seconds(), plain.Idle.FullGCCPU.Seconds(),
			timer.Idle.FullGCProcessCPU.Seconds(), timer.Idle.FullGCCPU.Seconds(), density.ForcedGCPeriod, conv.Idle.ForcedGCShare()*100, conv.Idle.FullGCCPU.Seconds()/density.ForcedGCPeriod.Seconds()*100),
	)
	return nil
}
