package sockets

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// registerConcurrency is how many registrations run at once; each costs
// the engine one argon2id hash (~25 ms of a core).
const registerConcurrency = 8

// registerAgents registers n agents named after run and returns them in
// order. It stops at the first error.
func registerAgents(ctx context.Context, c *engineClient, run string, n int, progress func(string)) ([]account, error) {
	out := make([]account, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, done atomic.Int64
		once       sync.Once
		firstErr   error
		wg         sync.WaitGroup
	)
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				progress(fmt.Sprintf("registering agents: %d/%d", done.Load(), n))
			}
		}
	}()
	for w := 0; w < registerConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				a, err := c.register(ctx, fmt.Sprintf("bench-%s-agent-%d@bench.example.com", run, i), "bench-password-"+run, fmt.Sprintf("Bench agent %d", i))
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				out[i] = a
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if firstErr != nil {
		return nil, fmt.Errorf("register %d agents: %w", n, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("register %d agents: %w", n, err)
	}
	return out, nil
}

func orNop(progress func(string)) func(string) {
	if progress == nil {
		return func(string) {}
	}
	return progress
}
