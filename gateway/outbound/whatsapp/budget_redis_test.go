package whatsapp

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/persistence/rediskv"
	"github.com/wacc/engine/persistence/servicetest"
)

var _ Budget = (*rediskv.KV)(nil)

// newRedisBudget returns the Redis limiter of package rediskv under a key
// prefix unique to t, and the client; keys are deleted in t.Cleanup.
func newRedisBudget(t *testing.T) (*rediskv.KV, *redis.Client, string) {
	t.Helper()
	rdb, prefix := servicetest.Redis(t)
	return rediskv.New(rdb, prefix, 0), rdb, prefix
}

func TestShaperSharedBudgetOnRedis(t *testing.T) {
	kv, rdb, prefix := newRedisBudget(t)
	ctx := t.Context()
	const mps = 2 // perMinute 120: a burst of 120, then one every 500 ms

	first := NewShaper(ShaperOptions{MPS: mps, PairInterval: time.Millisecond, Limiter: kv})
	require.NoError(t, first.Wait(ctx, numberA, "r0"))
	exists, err := rdb.Exists(ctx, prefix+"rate:mps:"+numberA).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), exists, "the budget lives under mps:<phone_number_id>")

	// Spend the rest of the burst as other nodes would.
	for {
		ok, _, err := kv.Allow(ctx, "mps:"+numberA, mps*60)
		require.NoError(t, err)
		if !ok {
			break
		}
	}

	// Two fresh nodes: locally each could send at once; only the shared
	// budget can space them.
	node1 := NewShaper(ShaperOptions{MPS: mps, PairInterval: time.Millisecond, Limiter: kv})
	node2 := NewShaper(ShaperOptions{MPS: mps, PairInterval: time.Millisecond, Limiter: kv})
	start := time.Now()
	var mu sync.Mutex
	var took []time.Duration
	var wg sync.WaitGroup
	for i, node := range []*Shaper{node1, node2} {
		wg.Go(func() {
			if assert.NoError(t, node.Wait(ctx, numberA, fmt.Sprintf("r%d", i+1))) {
				mu.Lock()
				took = append(took, time.Since(start))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, took, 2)
	slices.Sort(took)
	t.Logf("grants after the burst at %s and %s", took[0], took[1])
	assert.GreaterOrEqual(t, took[1]-took[0], 300*time.Millisecond, "the two nodes share one budget: one send per 500 ms")

	// Another number has its own key.
	d, err := timedWait(ctx, node2, numberB, "r")
	require.NoError(t, err)
	assert.Less(t, d, 250*time.Millisecond)
}
