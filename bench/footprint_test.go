package bench

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// TestFootprintOfSmallPopulations runs each memory measurement on 100
// actors. It checks only that the helpers work and report a growth; the
// figures themselves are what the benchmarks are for.
func TestFootprintOfSmallPopulations(t *testing.T) {
	const n = 100
	tests := []struct {
		name string
		// footprint measures a population of n actors.
		footprint func(t *testing.T) (footprint, error)
	}{
		{name: "bare actors that do nothing", footprint: func(*testing.T) (footprint, error) { return bareFootprint(n, barePlain) }},
		{name: "named bare actors with a timer", footprint: func(*testing.T) (footprint, error) { return bareFootprint(n, bareTimer) }},
		{name: "active conversations", footprint: func(t *testing.T) (footprint, error) {
			return conversationFootprint(t.Context(), t.TempDir(), n, 0, zap.NewNop())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fp, err := tc.footprint(t)
			require.NoError(t, err)
			assert.Equal(t, n, fp.N)
			assert.Positive(t, fp.HeapBytes)
			assert.Positive(t, fp.BytesPerActor())
			assert.Positive(t, fp.ObjectsPerActor())
			assert.Positive(t, fp.Populate)
		})
	}
}

func TestMeasureRejectsAnEmptyPopulation(t *testing.T) {
	_, err := measure(t.Context(), "empty", 0, 0, func() error { return nil })
	require.Error(t, err)
}

// TestDriveCallsEachIndexOnceWithinTheWindow checks the load driver: every
// index is sent exactly once, never more than inflight at a time, and every
// latency is recorded.
func TestDriveCallsEachIndexOnceWithinTheWindow(t *testing.T) {
	tests := []struct {
		name        string
		n, inflight int
	}{
		{name: "one at a time", n: 50, inflight: 1},
		{name: "window larger than the work", n: 10, inflight: 256},
		{name: "many windows", n: 2000, inflight: 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var running, peak atomic.Int64
			var mu sync.Mutex
			seen := make(map[int]int, tc.n)
			lat := make([]time.Duration, tc.n)
			for i := range lat {
				lat[i] = -1 // not recorded
			}
			err := drive(t.Context(), tc.n, tc.inflight, lat, func(i int) error {
				now := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
				}
				mu.Lock()
				seen[i]++
				mu.Unlock()
				return nil
			})
			require.NoError(t, err)
			require.Len(t, seen, tc.n)
			for i, times := range seen {
				require.Equal(t, 1, times, "index %d", i)
			}
			assert.LessOrEqual(t, peak.Load(), int64(tc.inflight))
			for i, d := range lat {
				assert.GreaterOrEqual(t, d, time.Duration(0), "latency %d not recorded", i)
			}
		})
	}
}

func TestDriveStopsAtTheFirstError(t *testing.T) {
	var calls atomic.Int64
	err := drive(t.Context(), 1000, 1, nil, func(i int) error {
		calls.Add(1)
		if i == 3 {
			return errDuplicate
		}
		return nil
	})
	require.ErrorIs(t, err, errDuplicate)
	assert.EqualValues(t, 4, calls.Load())
}

func TestPercentiles(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(100-i) * time.Millisecond
	}
	p50, p99 := percentiles(lat)
	assert.Equal(t, 51*time.Millisecond, p50)
	assert.Equal(t, 100*time.Millisecond, p99)
	p50, p99 = percentiles(nil)
	assert.Zero(t, p50)
	assert.Zero(t, p99)
}
