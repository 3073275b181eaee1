package density

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"syscall"
	"time"
)

// IdleCost is the CPU a resident population costs the process while it
// sits idle: nothing is sent to it and nothing else runs in the process.
type IdleCost struct {
	// Window is how long the population was watched.
	Window time.Duration
	// GCCPU is the CPU the Go runtime spent on garbage collection over
	// the window (/cpu/classes/gc/total:cpu-seconds: mark assists,
	// dedicated, fractional and idle background mark workers, and pauses
	// counted as pause × GOMAXPROCS), and GCCycles the cycles completed.
	GCCPU    time.Duration
	GCCycles uint64
	// ProcessCPU is the whole process's user and system CPU over the
	// window (getrusage): actors, timers, the runtime, any background
	// goroutine.
	ProcessCPU time.Duration
	// ScavengeCPU is the CPU the runtime spent returning free memory to
	// the OS over the window (/cpu/classes/scavenge/total:cpu-seconds),
	// part of ProcessCPU: after a big population was built, its free
	// pages are given back for a while.
	ScavengeCPU time.Duration
	// FullGCCPU is the GC CPU (the same runtime metric) of one collection
	// of the resident population, forced after the window (runtime.GC),
	// and FullGCProcessCPU the process's CPU (getrusage) over it. The
	// runtime metric counts its workers' wall time and pauses ×
	// GOMAXPROCS, so on a busy machine it is well above what the
	// collection really took from the CPU, which FullGCProcessCPU is.
	FullGCCPU        time.Duration
	FullGCProcessCPU time.Duration
}

// ForcedGCPeriod is how often the Go runtime collects even when nothing
// allocates (runtime.forcegcperiod).
const ForcedGCPeriod = 2 * time.Minute

// GCShare is the GC CPU over the window as a share of one core.
func (c IdleCost) GCShare() float64 { return share(c.GCCPU, c.Window) }

// ProcessShare is the process's CPU over the window as a share of one
// core.
func (c IdleCost) ProcessShare() float64 { return share(c.ProcessCPU, c.Window) }

// ForcedGCShare is the share of one core the runtime's forced collections
// of the population take when it stays idle for good: an idle Go process
// that allocates nothing still collects every ForcedGCPeriod, and each
// collection costs FullGCProcessCPU.
func (c IdleCost) ForcedGCShare() float64 { return share(c.FullGCProcessCPU, ForcedGCPeriod) }

func share(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return cpu.Seconds() / wall.Seconds()
}

// cpuReading is a snapshot of the counters watchIdle compares.
type cpuReading struct {
	at          time.Time
	gcCPU       time.Duration
	gcCycles    uint64
	scavengeCPU time.Duration
	process     time.Duration
}

// gcMetrics are the runtime metrics readCPU samples.
var gcMetrics = []string{"/cpu/classes/gc/total:cpu-seconds", "/gc/cycles/total:gc-cycles", "/cpu/classes/scavenge/total:cpu-seconds"}

// readCPU reads the GC and process CPU counters.
func readCPU() (cpuReading, error) {
	samples := make([]metrics.Sample, len(gcMetrics))
	for i, name := range gcMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	for _, s := range samples {
		if s.Value.Kind() == metrics.KindBad {
			return cpuReading{}, fmt.Errorf("read runtime metric %s: not supported by this Go", s.Name)
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuReading{}, fmt.Errorf("getrusage: %w", err)
	}
	return cpuReading{
		at:          time.Now(),
		gcCPU:       time.Duration(samples[0].Value.Float64() * float64(time.Second)),
		gcCycles:    samples[1].Value.Uint64(),
		scavengeCPU: time.Duration(samples[2].Value.Float64() * float64(time.Second)),
		process:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
	}, nil
}

// watchIdle watches the process for d while the caller's population sits
// idle, then forces one collection of it, and returns what both cost.
func watchIdle(ctx context.Context, d time.Duration) (IdleCost, error) {
	start, err := readCPU()
	if err != nil {
		return IdleCost{}, fmt.Errorf("watch idle: %w", err)
	}
	if err := idle(ctx, d); err != nil {
		return IdleCost{}, fmt.Errorf("watch idle: %w", err)
	}
	end, err := readCPU()
	if err != nil {
		return IdleCost{}, fmt.Errorf("watch idle: %w", err)
	}
	runtime.GC()
	full, err := readCPU()
	if err != nil {
		return IdleCost{}, fmt.Errorf("watch idle: %w", err)
	}
	return IdleCost{
		Window:      end.at.Sub(start.at),
		GCCPU:       end.gcCPU - start.gcCPU,
		GCCycles:    end.gcCycles - start.gcCycles,
		ProcessCPU:  end.process - start.process,
		ScavengeCPU: end.scavengeCPU - start.scavengeCPU,
		FullGCCPU:   full.gcCPU - end.gcCPU,

		FullGCProcessCPU: full.process - end.process,
	}, nil
}
