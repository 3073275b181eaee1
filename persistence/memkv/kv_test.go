package memkv

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/persistence/kvtest"
)

var _ kvtest.KV = (*KV)(nil)

func TestContract(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kvtest.KV {
		kv := New(Options{Holdoff: kvtest.Holdoff})
		t.Cleanup(func() { require.NoError(t, kv.Close()) })
		return kv
	})
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newFake returns a KV on a fake clock with small bounds, closed by t.Cleanup.
func newFake(t *testing.T, opts Options) (*KV, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	opts.Now = clock.Now
	kv := New(opts)
	t.Cleanup(func() { require.NoError(t, kv.Close()) })
	return kv, clock
}

// sizes counts what kv holds, expired or not.
type sizes struct{ revoked, buckets, values, tombstones int }

func (k *KV) sizes() sizes {
	k.revMu.RLock()
	defer k.revMu.RUnlock()
	k.limMu.Lock()
	defer k.limMu.Unlock()
	k.cacheMu.Lock()
	defer k.cacheMu.Unlock()
	return sizes{revoked: len(k.revoked), buckets: len(k.buckets), values: k.lru.Len(), tombstones: len(k.tombstones)}
}

func TestNewDefaults(t *testing.T) {
	kv := New(Options{})
	defer kv.Close()
	assert.Equal(t, DefaultCacheMaxEntries, kv.maxEntries)
	assert.Equal(t, DefaultHoldoff, kv.holdoff)
	assert.Equal(t, 10_000, kv.maxEntries, "documented default")
	assert.Equal(t, 10*time.Second, kv.holdoff, "documented default")
}

func TestRevocationClock(t *testing.T) {
	ctx := t.Context()
	kv, clock := newFake(t, Options{})
	require.NoError(t, kv.Revoke(ctx, "jti", clock.Now().Add(time.Minute)))
	require.NoError(t, kv.Revoke(ctx, "at-now", clock.Now()))

	revoked, err := kv.AnyRevoked(ctx, "at-now")
	require.NoError(t, err)
	assert.False(t, revoked, "until equal to now is already past")

	clock.Advance(time.Minute - time.Nanosecond)
	revoked, err = kv.AnyRevoked(ctx, "jti")
	require.NoError(t, err)
	assert.True(t, revoked, "still revoked just before until")

	clock.Advance(time.Nanosecond)
	revoked, err = kv.AnyRevoked(ctx, "jti")
	require.NoError(t, err)
	assert.False(t, revoked, "not revoked at until")
}

func TestLimiterGCRA(t *testing.T) {
	tests := []struct {
		name      string
		perMinute int
		// interval is minute/perMinute: the refill period of one request.
		interval time.Duration
	}{
		{name: "one_per_second", perMinute: 60, interval: time.Second},
		{name: "twenty_per_minute", perMinute: 20, interval: 3 * time.Second},
		{name: "one_per_minute", perMinute: 1, interval: time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			kv, clock := newFake(t, Options{})
			allow := func() (bool, time.Duration) {
				t.Helper()
				ok, retryAfter, err := kv.Allow(ctx, "k", tc.perMinute)
				require.NoError(t, err)
				return ok, retryAfter
			}

			for i := range tc.perMinute {
				ok, retryAfter := allow()
				require.True(t, ok, "burst request %d", i)
				require.Zero(t, retryAfter)
			}
			ok, retryAfter := allow()
			require.False(t, ok, "request past the burst")
			require.Equal(t, tc.interval, retryAfter, "frozen clock: a full interval to wait")

			clock.Advance(tc.interval / 4)
			ok, retryAfter = allow()
			require.False(t, ok)
			require.Equal(t, tc.interval-tc.interval/4, retryAfter, "retryAfter counts down with the clock")

			clock.Advance(tc.interval - tc.interval/4)
			ok, _ = allow()
			require.True(t, ok, "one request after one interval")
			ok, _ = allow()
			require.False(t, ok, "only one")

			clock.Advance(time.Hour)
			for i := range tc.perMinute {
				ok, _ := allow()
				require.True(t, ok, "idle key is back to a full burst, request %d", i)
			}
			ok, _ = allow()
			require.False(t, ok, "the burst never exceeds perMinute")
		})
	}
}

func TestCacheClock(t *testing.T) {
	ctx := t.Context()
	kv, clock := newFake(t, Options{Holdoff: 10 * time.Second})
	get := func(key string) bool {
		t.Helper()
		_, ok, err := kv.CacheGet(ctx, key)
		require.NoError(t, err)
		return ok
	}

	require.NoError(t, kv.CacheFill(ctx, "v", []byte("x"), time.Minute))
	clock.Advance(time.Minute - time.Nanosecond)
	assert.True(t, get("v"), "alive just before ttl")
	clock.Advance(time.Nanosecond)
	assert.False(t, get("v"), "gone at ttl")

	require.NoError(t, kv.CacheInvalidate(ctx, "t"))
	clock.Advance(10*time.Second - time.Nanosecond)
	require.NoError(t, kv.CacheFill(ctx, "t", []byte("stale"), time.Minute))
	assert.False(t, get("t"), "fill refused just before the hold-off ends")
	clock.Advance(time.Nanosecond)
	require.NoError(t, kv.CacheFill(ctx, "t", []byte("fresh"), time.Minute))
	assert.True(t, get("t"), "fill works once the hold-off ends")

	require.NoError(t, kv.CacheInvalidate(ctx, "t"))
	clock.Advance(5 * time.Second)
	require.NoError(t, kv.CacheInvalidate(ctx, "t"))
	clock.Advance(5 * time.Second)
	require.NoError(t, kv.CacheFill(ctx, "t", []byte("stale"), time.Minute))
	assert.False(t, get("t"), "a second invalidation restarts the hold-off")
}

func TestCacheLRU(t *testing.T) {
	tests := []struct {
		name string
		// steps runs against a cache bounded to 3 values.
		steps func(t *testing.T, ctx context.Context, kv *KV)
		// present and absent are checked after steps, in this order.
		present, absent []string
	}{
		{
			name: "evicts_least_recently_filled",
			steps: func(t *testing.T, ctx context.Context, kv *KV) {
				for _, key := range []string{"a", "b", "c", "d"} {
					require.NoError(t, kv.CacheFill(ctx, key, []byte(key), time.Hour))
				}
			},
			present: []string{"b", "c", "d"},
			absent:  []string{"a"},
		},
		{
			name: "get_refreshes_recency",
			steps: func(t *testing.T, ctx context.Context, kv *KV) {
				for _, key := range []string{"a", "b", "c"} {
					require.NoError(t, kv.CacheFill(ctx, key, []byte(key), time.Hour))
				}
				_, ok, err := kv.CacheGet(ctx, "a")
				require.NoError(t, err)
				require.True(t, ok)
				require.NoError(t, kv.CacheFill(ctx, "d", []byte("d"), time.Hour))
			},
			present: []string{"a", "c", "d"},
			absent:  []string{"b"},
		},
		{
			name: "invalidate_frees_a_slot",
			steps: func(t *testing.T, ctx context.Context, kv *KV) {
				for _, key := range []string{"a", "b", "c"} {
					require.NoError(t, kv.CacheFill(ctx, key, []byte(key), time.Hour))
				}
				require.NoError(t, kv.CacheInvalidate(ctx, "b"))
				require.NoError(t, kv.CacheFill(ctx, "d", []byte("d"), time.Hour))
			},
			present: []string{"a", "c", "d"},
			absent:  []string{"b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			kv, _ := newFake(t, Options{CacheMaxEntries: 3})
			tc.steps(t, ctx, kv)
			for _, key := range tc.present {
				val, ok, err := kv.CacheGet(ctx, key)
				require.NoError(t, err)
				assert.True(t, ok, "key %s should be cached", key)
				assert.Equal(t, []byte(key), val)
			}
			for _, key := range tc.absent {
				_, ok, err := kv.CacheGet(ctx, key)
				require.NoError(t, err)
				assert.False(t, ok, "key %s should be gone", key)
			}
			assert.LessOrEqual(t, kv.sizes().values, 3)
		})
	}
}

func TestTombstonesSurviveCachePressure(t *testing.T) {
	ctx := t.Context()
	kv, _ := newFake(t, Options{CacheMaxEntries: 3})
	require.NoError(t, kv.CacheInvalidate(ctx, "guarded"))
	for i := range 100 {
		key := fmt.Sprintf("filler-%d", i)
		require.NoError(t, kv.CacheFill(ctx, key, []byte(key), time.Hour))
	}
	require.NoError(t, kv.CacheFill(ctx, "guarded", []byte("stale"), time.Hour))
	_, ok, err := kv.CacheGet(ctx, "guarded")
	require.NoError(t, err)
	assert.False(t, ok, "eviction pressure must not drop a tombstone")
	assert.Equal(t, sizes{values: 3, tombstones: 1}, kv.sizes())
}

func TestJanitorSweepsExpired(t *testing.T) {
	ctx := t.Context()
	kv, clock := newFake(t, Options{Holdoff: time.Minute, JanitorInterval: 5 * time.Millisecond})
	now := clock.Now()

	require.NoError(t, kv.Revoke(ctx, "short", now.Add(time.Minute)))
	require.NoError(t, kv.Revoke(ctx, "long", now.Add(time.Hour)))
	for _, key := range []string{"idle", "busy"} {
		ok, _, err := kv.Allow(ctx, key, 60)
		require.NoError(t, err)
		require.True(t, ok)
	}
	require.NoError(t, kv.CacheFill(ctx, "short", []byte("v"), time.Minute))
	require.NoError(t, kv.CacheFill(ctx, "long", []byte("v"), time.Hour))
	require.NoError(t, kv.CacheInvalidate(ctx, "tomb"))
	require.Equal(t, sizes{revoked: 2, buckets: 2, values: 2, tombstones: 1}, kv.sizes())

	clock.Advance(time.Minute)
	// The busy key spends its whole burst, so its bucket outlives the sweep.
	for range 60 {
		_, _, err := kv.Allow(ctx, "busy", 60)
		require.NoError(t, err)
	}
	want := sizes{revoked: 1, buckets: 1, values: 1, tombstones: 0}
	require.Eventually(t, func() bool { return kv.sizes() == want }, 5*time.Second, 5*time.Millisecond,
		"janitor should drop exactly the expired entries; have %+v", kv.sizes())

	revoked, err := kv.AnyRevoked(ctx, "long")
	require.NoError(t, err)
	assert.True(t, revoked)
	ok, _, err := kv.Allow(ctx, "busy", 60)
	require.NoError(t, err)
	assert.False(t, ok, "the sweep must not reset a bucket still in use")
}

func TestClose(t *testing.T) {
	ctx := t.Context()
	kv := New(Options{JanitorInterval: time.Millisecond})
	require.NoError(t, kv.Close())
	require.NoError(t, kv.Close(), "second Close")
	select {
	case <-kv.done:
	default:
		t.Fatal("janitor still running after Close")
	}

	require.NoError(t, kv.Revoke(ctx, "jti", time.Now().Add(time.Hour)))
	revoked, err := kv.AnyRevoked(ctx, "jti")
	require.NoError(t, err)
	assert.True(t, revoked, "the store keeps working after Close")
}

func TestConcurrentClose(t *testing.T) {
	kv := New(Options{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { assert.NoError(t, kv.Close()) })
	}
	wg.Wait()
}

func TestCancelledContext(t *testing.T) {
	kv, _ := newFake(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := kv.AnyRevoked(ctx, "jti")
	assert.ErrorIs(t, err, context.Canceled)
	_, _, err = kv.Allow(ctx, "k", 10)
	assert.ErrorIs(t, err, context.Canceled)
	_, _, err = kv.CacheGet(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, kv.Revoke(ctx, "jti", time.Now().Add(time.Hour)), context.Canceled)
	assert.ErrorIs(t, kv.CacheFill(ctx, "k", []byte("v"), time.Hour), context.Canceled)
	assert.ErrorIs(t, kv.CacheInvalidate(ctx, "k"), context.Canceled)
}
