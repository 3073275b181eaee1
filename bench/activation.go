package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/bench/density"
)

// runActivation sends messages to conversations that have left memory
// (idle timeout 200ms) and measures each cold activation: load from the
// store, spawn, handle, answer.
func runActivation(ctx context.Context, env *Env, res *Result) error {
	n := 20_000
	if env.Opts.Quick {
		n = 5_000
	}
	const idle = 200 * time.Millisecond
	dir, err := os.MkdirTemp(env.Tmp, "activation-")
	if err != nil {
		return fmt.Errorf("activation: %w", err)
	}
	f, err := density.OpenFleetIdle(ctx, dir, zap.NewNop(), idle)
	if err != nil {
		return fmt.Errorf("activation: %w", err)
	}
	defer f.Close()
	fmt.Fprintf(env.Progress, "   opening %d conversations\n", n)
	if err := f.Activate(ctx, 0, n); err != nil {
		return fmt.Errorf("activation: %w", err)
	}
	// Each op goes to a conversation that has been idle longer than idle:
	// round r visits conversations in order, and a round of n at the
	// measured rate takes far longer than 200ms.
	cold := env.load(ctx, loadSpec{Name: "cold activation", Op: func(_ context.Context, i int64) error {
		return f.Deliver(int(i%int64(n)), 1+int(i/int64(n)))
	}})
	cold.Extra = map[string]float64{"conversations": float64(n), "liveAtEnd": float64(f.Live())}
	res.Runs = append(res.Runs, cold)
	res.Comparisons = append(res.Comparisons,
		compare("cold activations", cold.Rate, 5000, "/s", false),
		compare("cold activation p99", cold.Latency.P99, 20, "ms", true),
	)
	res.Notes = append(res.Notes, fmt.Sprintf("in-process supervisors.Host over SQLite, %d conversations visited round-robin with ACTOR_IDLE_TIMEOUT=%s, %d in flight; a conversation is cold when its round comes back if a round lasts longer than the idle timeout (it does below ~%d/s)", n, idle, env.Opts.Conns, int(float64(n)/idle.Seconds())),
		"peer (bare mongo-driver FindOne loop) and rehydration of 100k after a restart are not implemented yet: skipped")
	return nil
}
