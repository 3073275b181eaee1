package density

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// drive calls send(i) for every i in [0, n), from inflight goroutines, so
// at most inflight calls run at once; each goroutine takes the next i as
// soon as its previous call returned. When lat is not nil it must have n
// entries and lat[i] is set to how long send(i) took. drive stops at the
// first error or when ctx ends, and returns once every goroutine has.
func drive(ctx context.Context, n, inflight int, lat []time.Duration, send func(i int) error) error {
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range min(inflight, n) {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return ctx.Err()
				}
				start := time.Now()
				if err := send(i); err != nil {
					return err
				}
				if lat != nil {
					lat[i] = time.Since(start)
				}
			}
		})
	}
	return g.Wait()
}

// percentiles sorts lat in place and returns its p50 and p99.
func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	return at(0.50), at(0.99)
}
