package whatsapp

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoffBounds(t *testing.T) {
	cases := []struct {
		name     string
		attempt  int
		min      time.Duration
		wantLow  time.Duration // every sample is at least this
		wantHigh time.Duration // every sample is at most this
	}{
		{name: "first attempt", attempt: 1, wantLow: 0, wantHigh: time.Second},
		{name: "attempt below one counts as one", attempt: -3, wantLow: 0, wantHigh: time.Second},
		{name: "third attempt doubles twice", attempt: 3, wantLow: 0, wantHigh: 4 * time.Second},
		{name: "ninth attempt", attempt: 9, wantLow: 0, wantHigh: 256 * time.Second},
		{name: "capped at five minutes", attempt: 10, wantLow: 0, wantHigh: 5 * time.Minute},
		{name: "huge attempt stays capped", attempt: 1 << 30, wantLow: 0, wantHigh: 5 * time.Minute},
		{name: "min raises the floor", attempt: 3, min: 3 * time.Second, wantLow: 3 * time.Second, wantHigh: 4 * time.Second},
		{name: "min above ceiling wins", attempt: 1, min: 6 * time.Second, wantLow: 6 * time.Second, wantHigh: 6 * time.Second},
		{name: "min above cap wins", attempt: 20, min: 4 * time.Hour, wantLow: 4 * time.Hour, wantHigh: 4 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 2000 {
				d := Backoff(tc.attempt, tc.min)
				if d < tc.wantLow || d > tc.wantHigh {
					t.Fatalf("Backoff(%d, %s) = %s, want in [%s, %s]", tc.attempt, tc.min, d, tc.wantLow, tc.wantHigh)
				}
			}
		})
	}
}

func TestBackoffFullJitter(t *testing.T) {
	// Full jitter spreads over the whole [0, ceiling]: with 4000 samples
	// for a 4 s ceiling, every quarter is hit and the mean is near 2 s.
	const n = 4000
	var quarters [4]int
	var sum time.Duration
	for range n {
		d := Backoff(3, 0)
		sum += d
		quarters[min(int(d/time.Second), 3)]++
	}
	for q, count := range quarters {
		assert.Greater(t, count, n/8, "quarter %d of the range gets its share", q)
	}
	mean := sum / n
	assert.InDelta(t, float64(2*time.Second), float64(mean), float64(250*time.Millisecond))
}
