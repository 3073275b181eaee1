package main

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Fixed-rate steps.
//
// The ingest and outbound scenarios measure, beside their saturation run,
// the engine at fixed offered rates (--steps, 200, 1,000 and 5,000 ops/s by
// default): a contact centre spends most of its day at modest rates, where
// per-batch fixed costs, idle timers and polling loops weigh on each
// operation. Each step runs on the scenario's engine child after it has
// settled (its CPU below settledCores, or a few seconds), warms up, then
// measures for --step-duration: the engine child's CPU (utime+stime from
// /proc/<pid>/stat) over the measurement ÷ the operations completed in it,
// the achieved rate and p99 from when each operation was due. A step is
// held when it achieved at least heldShare of its rate without errors (and,
// for outbound, every send of the measurement reached the provider and had
// its status callbacks applied); a step not held says so in its name, the
// table and the CPU line, with the rate it achieved.

// heldShare is the share of the offered rate a step must achieve to count
// as held.
const heldShare = 0.95

// settledCores is the engine CPU (cores) below which it counts as settled
// before a step.
const settledCores = 0.1

// stepWarmup is the warm-up of each fixed-rate step.
func (e *Env) stepWarmup() time.Duration {
	if e.Opts.Quick {
		return time.Second
	}
	return 3 * time.Second
}

// stepLabel names a step in run names and CPU lines: "@200/s".
func stepLabel(rate int) string { return "@" + strconv.Itoa(rate) + "/s" }

// settle waits until the engine child's CPU over half a second falls below
// settledCores (work left from the run before, such as the inbox catching
// up, must not be billed to the next step), at most 5 s (15 s at full size).
// It returns the last reading, in cores (0 for a --target).
func (e *Env) settle(ctx context.Context, g *engine) float64 {
	if !g.Child() {
		return 0
	}
	limit := 15 * time.Second
	if e.Opts.Quick {
		limit = 3 * time.Second
	}
	deadline := time.Now().Add(limit)
	var cores float64
	for ctx.Err() == nil {
		c0, t0 := g.CPU(), time.Now()
		select {
		case <-ctx.Done():
			return cores
		case <-time.After(500 * time.Millisecond):
		}
		cores = (g.CPU() - c0).Seconds() / time.Since(t0).Seconds()
		if cores < settledCores || time.Now().After(deadline) {
			break
		}
	}
	return cores
}

// ingestSteps runs the fixed-rate steps of ingest against g: op(rid) posts
// the i-th webhook of a run whose wamids are unique to rid.
func (e *Env) ingestSteps(ctx context.Context, g *engine, label, rid string, op func(rid string) func(context.Context, int64) error) []Run {
	var runs []Run
	for _, rate := range e.Opts.Steps {
		if ctx.Err() != nil {
			break
		}
		idle := e.settle(ctx, g)
		run := e.loadWithCPU(ctx, g, loadSpec{Name: label + " " + stepLabel(rate), Rate: rate,
			Warmup: e.stepWarmup(), Measure: e.Opts.StepDuration, Op: op(rid + "s" + strconv.Itoa(rate))})
		run.Offered = float64(rate)
		run.Held = run.Errors == 0 && run.Rate >= heldShare*float64(rate)
		run.Extra = map[string]float64{"settledCores": idle}
		if !run.Held {
			run.Name += fmt.Sprintf(" (NOT held: %s/s)", num(run.Rate))
		}
		runs = append(runs, run)
	}
	return runs
}

// cpuLine builds a scenario's CPU line from its saturation run and steps.
func cpuLine(op string, targetUs float64, saturation Run, steps []Run) *CPULine {
	l := &CPULine{Op: op, TargetUs: targetUs}
	for _, s := range steps {
		l.Figures = append(l.Figures, cpuFigure(stepLabel(int(s.Offered)), s))
	}
	if saturation.EngineCPUPerOp > 0 || saturation.Extra["cpuUsPerOp"] > 0 {
		l.Figures = append(l.Figures, cpuFigure("saturation", saturation))
	}
	return l
}
