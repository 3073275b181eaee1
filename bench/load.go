package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to 5 minutes, 3 digits.
const (
	histMin    = 1
	histMax    = int64(5 * time.Minute / time.Microsecond)
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// recorder collects one run's latencies: the whole measurement, and one
// histogram per second for the series and the progress line. It is safe
// for concurrent use.
type recorder struct {
	mu        sync.Mutex
	measuring bool
	total     *hdrhistogram.Histogram
	window    *hdrhistogram.Histogram
	ops, errs int64 // measured
	winOps    int64
	winErrs   int64
	firstErr  string
	series    []Bucket
	second    int
}

func newRecorder(warmupSeconds int) *recorder {
	return &recorder{total: newHist(), window: newHist(), second: -warmupSeconds}
}

// record adds one operation that took d; err marks it failed.
func (r *recorder) record(d time.Duration, err error) {
	us := max(d.Microseconds(), histMin)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if r.firstErr == "" {
			r.firstErr = err.Error()
		}
		r.winErrs++
		if r.measuring {
			r.errs++
		}
		return
	}
	_ = r.window.RecordValue(min(us, histMax))
	r.winOps++
	if r.measuring {
		_ = r.total.RecordValue(min(us, histMax))
		r.ops++
	}
}

// startMeasuring makes the following operations count.
func (r *recorder) startMeasuring() {
	r.mu.Lock()
	r.measuring = true
	r.mu.Unlock()
}

// tick closes the current second and returns it.
func (r *recorder) tick() Bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := Bucket{Second: r.second, Ops: r.winOps, Errors: r.winErrs}
	if r.window.TotalCount() > 0 {
		b.P50 = float64(r.window.ValueAtQuantile(50)) / 1e3
		b.P99 = float64(r.window.ValueAtQuantile(99)) / 1e3
	}
	r.series = append(r.series, b)
	r.window.Reset()
	r.winOps, r.winErrs = 0, 0
	r.second++
	return b
}

// loadSpec is one closed-loop (or paced) load.
type loadSpec struct {
	// Name labels the run in the report and the progress line.
	Name string
	// Workers run op concurrently; each waits for its op to return.
	Workers int
	// Rate, when positive, paces the ops to that many per second in total;
	// latency is then counted from when each op was due, so a stalled
	// server is not hidden (no coordinated omission).
	Rate    int
	Warmup  time.Duration
	Measure time.Duration
	// OnMeasure, when set, is called as the measurement starts.
	OnMeasure func()
	// OnStart, when set, is called with the time the load starts (the
	// time op 0 is due when Rate is set).
	OnStart func(time.Time)
	// Op performs the i-th operation (i counts from 0 across workers).
	Op func(ctx context.Context, i int64) error
}

// runLoad drives spec, printing a progress line every second to progress,
// and returns the measured run (warm-up excluded from every figure but the
// series).
func runLoad(ctx context.Context, spec loadSpec, progress io.Writer) Run {
	rec := newRecorder(int(spec.Warmup / time.Second))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	if spec.OnStart != nil {
		spec.OnStart(start)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range spec.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				began := time.Now()
				if spec.Rate > 0 {
					due := start.Add(time.Duration(float64(i) / float64(spec.Rate) * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
							return
						}
					}
					began = due
				}
				err := spec.Op(ctx, i)
				if ctx.Err() != nil {
					return // cut short by the end of the run: not counted
				}
				rec.record(time.Since(began), err)
			}
		}()
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	var measureStart time.Time
	var warm <-chan time.Time
	if spec.Warmup > 0 {
		warm = time.After(spec.Warmup)
	} else {
		now := make(chan time.Time, 1)
		now <- time.Now()
		warm = now
	}
	var done <-chan time.Time
loop:
	for {
		select {
		case <-warm:
			if spec.OnMeasure != nil {
				spec.OnMeasure()
			}
			rec.startMeasuring()
			measureStart = time.Now()
			done = time.After(spec.Measure)
			warm = nil
		case <-ticker.C:
			b := rec.tick()
			phase := "measure"
			if b.Second < 0 {
				phase = "warm-up"
			}
			fmt.Fprintf(progress, "  %-28s %-7s %3ds %8d/s  p50 %8.2fms  p99 %8.2fms  errors %d\n", spec.Name, phase, b.Second, b.Ops, b.P50, b.P99, b.Errors)
		case <-done:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	elapsed := time.Since(measureStart)
	rec.mu.Lock()
	rec.measuring = false
	rec.mu.Unlock()
	cancel()
	wg.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	run := Run{Name: spec.Name, Ops: rec.ops, Errors: rec.errs, Seconds: elapsed.Seconds(), Latency: summarize(rec.total), Series: rec.series, FirstError: rec.firstErr}
	if run.Seconds > 0 {
		run.Rate = float64(run.Ops) / run.Seconds
	}
	return run
}
