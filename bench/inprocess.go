package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/bench/density"
)

// runActors measures conversation actors handling inbound messages through
// supervisors.Host (with their SQLite writes), bare protoactor actors
// answering a request, a Go channel ping-pong, and bare spawn/stop churn,
// one after the other, in this process.
func runActors(ctx context.Context, env *Env, res *Result) error {
	const conversations = 1000
	dir, err := os.MkdirTemp(env.Tmp, "actors-")
	if err != nil {
		return fmt.Errorf("actors: %w", err)
	}
	f, err := density.OpenFleet(ctx, dir, zap.NewNop())
	if err != nil {
		return fmt.Errorf("actors: %w", err)
	}
	defer f.Close()
	if err := f.Activate(ctx, 0, conversations); err != nil {
		return fmt.Errorf("actors: %w", err)
	}
	conv := env.load(ctx, loadSpec{Name: "conversation actor", Op: func(_ context.Context, i int64) error {
		return f.Deliver(int(i%conversations), 1+int(i/conversations))
	}})
	res.Runs = append(res.Runs, conv)
	if err := f.Close(); err != nil {
		return fmt.Errorf("actors: %w", err)
	}

	bare, err := density.SpawnBare(conversations)
	if err != nil {
		return fmt.Errorf("actors: %w", err)
	}
	defer bare.Close()
	peer := env.load(ctx, loadSpec{Name: "bare protoactor actor", Op: func(_ context.Context, i int64) error { return bare.Ping(int(i)) }})
	res.Runs = append(res.Runs, peer)
	churn := env.load(ctx, loadSpec{Name: "bare spawn/stop churn", Op: func(_ context.Context, _ int64) error { return bare.SpawnStop() }})
	res.Runs = append(res.Runs, churn)
	if err := bare.Close(); err != nil {
		return fmt.Errorf("actors: %w", err)
	}

	ch := env.load(ctx, loadSpec{Name: "Go channel ping-pong", Workers: 1, Op: channelPingPong()})
	res.Runs = append(res.Runs, ch)

	res.Comparisons = append(res.Comparisons,
		compare("conversation actor vs bare protoactor actor (0.5× wanted)", conv.Rate/max(peer.Rate, 1), 0.5, "×", false),
	)
	res.Notes = append(res.Notes, fmt.Sprintf("for scale: conversation actor %.4f× the Go channel ping-pong, bare actor %.3f× it", conv.Rate/max(ch.Rate, 1), peer.Rate/max(ch.Rate, 1)))
	res.Notes = append(res.Notes, fmt.Sprintf("%d active conversations round-robin, %d requests in flight; each conversation message includes its SQLite writes (wamid look-up, insert, conditional save), so this is not the I/O-free figure the issue names", conversations, env.Opts.Conns),
		"the channel ping-pong is one goroutine pair, one round trip per op")
	return nil
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

// runDensity measures the live heap of N idle conversation actors and of N
// bare protoactor actors, in this process.
func runDensity(ctx context.Context, env *Env, res *Result) error {
	n := 100_000
	if env.Opts.Quick {
		n = 10_000
	}
	dir, err := os.MkdirTemp(env.Tmp, "density-")
	if err != nil {
		return fmt.Errorf("density: %w", err)
	}
	fmt.Fprintf(env.Progress, "   %d conversations: seed, activate, idle %s, read the heap\n", n, density.IdleAfter)
	conv, err := density.ConversationFootprint(ctx, dir, n, density.IdleAfter, zap.NewNop())
	if err != nil {
		return fmt.Errorf("density: %w", err)
	}
	fmt.Fprintf(env.Progress, "   %d bare actors, plain and with a timer\n", n)
	plain, err := density.BareFootprint(n, false)
	if err != nil {
		return fmt.Errorf("density: %w", err)
	}
	timer, err := density.BareFootprint(n, true)
	if err != nil {
		return fmt.Errorf("density: %w", err)
	}
	idleGC := idleGCShare(ctx, idleGCWindow)
	fp := func(name string, f density.Footprint) Run {
		return Run{Name: name, Ops: int64(f.N), Seconds: f.Populate.Seconds(), Rate: float64(f.N) / f.Populate.Seconds(),
			Extra: map[string]float64{"bytesPerActor": f.BytesPerActor(), "objectsPerActor": f.ObjectsPerActor(), "prepareSeconds": f.Prepare.Seconds()}}
	}
	res.Runs = append(res.Runs, fp(fmt.Sprintf("conversation actors (N=%d, activations/s)", n), conv),
		fp("bare actors (spawns/s)", plain), fp("bare timer actors (spawns/s)", timer))
	res.Comparisons = append(res.Comparisons,
		compare("live heap per idle conversation", conv.BytesPerActor(), 2048, " B", true),
		compare("conversation vs bare actor heap (≤ 2× wanted)", conv.BytesPerActor()/plain.BytesPerActor(), 2, "×", true),
	)
	res.Notes = append(res.Notes, fmt.Sprintf("bytes per actor: conversation %.0f B, bare %.0f B, bare with timer %.0f B (live heap after GC)", conv.BytesPerActor(), plain.BytesPerActor(), timer.BytesPerActor()),
		fmt.Sprintf("GC pause time over %s after the populations were stopped: %.3f%% of a core; idle GC CPU with the population resident is not measured yet", idleGCWindow, idleGC*100))
	return nil
}

// idleGCWindow is how long idleGCShare watches.
const idleGCWindow = 3 * time.Second

// idleGCShare is the GC's share of one core over d of idleness.
func idleGCShare(ctx context.Context, d time.Duration) float64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	t := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	runtime.ReadMemStats(&b)
	// GCCPUFraction is cumulative since start; use pause time as the idle cost.
	return float64(b.PauseTotalNs-a.PauseTotalNs) / float64(time.Since(t).Nanoseconds())
}
