package density

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"
)

// footprint is how much live heap a population of N actors holds.
type footprint struct {
	// N is how many actors the population has.
	N int
	// HeapBytes and HeapObjects are the growth of the live heap (after
	// GC) from before the population was created to after.
	HeapBytes   int64
	HeapObjects int64
	// Populate is how long creating the population took.
	Populate time.Duration
	// Prepare is how long preparing it took before the measurement
	// started (zero when there was nothing to prepare).
	Prepare time.Duration
	// Idle is what the population cost the process while it sat idle and
	// resident, after its heap was read (zero when not watched).
	Idle IdleCost
}

// BytesPerActor is the live heap one actor of the population holds.
func (f footprint) BytesPerActor() float64 { return float64(f.HeapBytes) / float64(f.N) }

// ObjectsPerActor is the number of live heap objects one actor holds.
func (f footprint) ObjectsPerActor() float64 { return float64(f.HeapObjects) / float64(f.N) }

// liveHeap is a reading of the live heap.
type liveHeap struct {
	bytes   uint64
	objects uint64
}

// readLiveHeap collects garbage twice (the second cycle frees what the
// first one's finalizers and sync.Pool cleanup released) and reads the heap.
func readLiveHeap() liveHeap {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return liveHeap{bytes: m.HeapAlloc, objects: m.HeapObjects}
}

// measure reads the live heap, runs populate (which must leave its n actors
// alive), waits settle for the actors to become idle, and reads the heap
// again. Whatever populate keeps reachable beyond the actors counts against
// them, so it should allocate nothing else that outlives it. With
// BENCH_HEAPPROFILE_DIR set it also writes heap profiles before and after,
// to <dir>/<seq>-<name>.before.pprof and .after.pprof; their difference is
// the population.
//
// With watch > 0 it then watches the idle, resident population for watch
// (see watchIdle), before anything is stopped.
func measure(ctx context.Context, name string, n int, settle, watch time.Duration, populate func() error) (footprint, error) {
	if n <= 0 {
		return footprint{}, fmt.Errorf("measure %s: population size %d must be positive", name, n)
	}
	if os.Getenv(heapProfileDirEnv) != "" {
		// Sample finely enough to attribute a few hundred bytes per actor.
		runtime.MemProfileRate = 256
	}
	before := readLiveHeap()
	profile := profileName(name)
	if err := writeHeapProfile(profile + ".before"); err != nil {
		return footprint{}, fmt.Errorf("measure %s: %w", name, err)
	}
	start := time.Now()
	if err := populate(); err != nil {
		return footprint{}, fmt.Errorf("measure %s: %w", name, err)
	}
	took := time.Since(start)
	if err := idle(ctx, settle); err != nil {
		return footprint{}, fmt.Errorf("measure %s: %w", name, err)
	}
	after := readLiveHeap()
	if err := writeHeapProfile(profile + ".after"); err != nil {
		return footprint{}, fmt.Errorf("measure %s: %w", name, err)
	}
	fp := footprint{
		N:           n,
		HeapBytes:   int64(after.bytes) - int64(before.bytes),
		HeapObjects: int64(after.objects) - int64(before.objects),
		Populate:    took,
	}
	if watch > 0 {
		idle, err := watchIdle(ctx, watch)
		if err != nil {
			return footprint{}, fmt.Errorf("measure %s: %w", name, err)
		}
		fp.Idle = idle
	}
	return fp, nil
}

// idle waits d, or until ctx ends.
func idle(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("settle: %w", ctx.Err())
	}
}

// heapProfileDirEnv names the directory heap profiles are written to.
const heapProfileDirEnv = "BENCH_HEAPPROFILE_DIR"

// profiles numbers the measurements of the process, so their profiles do
// not overwrite each other.
var profiles atomic.Int64

func profileName(name string) string {
	return fmt.Sprintf("%02d-%s", profiles.Add(1), name)
}

func writeHeapProfile(name string) error {
	dir := os.Getenv(heapProfileDirEnv)
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, name+".pprof")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write heap profile %s: %w", path, err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("write heap profile %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write heap profile %s: %w", path, err)
	}
	return nil
}
