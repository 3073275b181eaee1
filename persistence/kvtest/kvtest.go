package kvtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Revocations records ids (access-token jtis, refresh families) revoked
// until their expiry.
type Revocations interface {
	// Revoke marks jti revoked until until; an until in the past is a no-op.
	Revoke(ctx context.Context, jti string, until time.Time) error
	// AnyRevoked reports whether any of ids is revoked; an id stops counting
	// once its until has passed, and no ids is false. However many ids are
	// asked, it is one lookup (one round trip for a networked store).
	AnyRevoked(ctx context.Context, ids ...string) (bool, error)
}

// Limiter grants a fixed budget of requests per key per minute.
type Limiter interface {
	// Allow reports whether one more request for key fits in perMinute;
	// retryAfter is positive only when refused and says how long until one
	// request would be allowed.
	Allow(ctx context.Context, key string, perMinute int) (allowed bool, retryAfter time.Duration, err error)
}

// Cache is a bounded read-through cache of small byte values with stale-read
// protection.
type Cache interface {
	// CacheGet returns the value under key; a tombstone counts as a miss.
	CacheGet(ctx context.Context, key string) (val []byte, ok bool, err error)
	// CacheFill stores val for ttl only if key holds neither a value nor a
	// tombstone.
	CacheFill(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// CacheInvalidate replaces any value under key with a tombstone that
	// lives for the store's hold-off period.
	CacheInvalidate(ctx context.Context, key string) error
}

// KV is everything the engine nodes share through one store.
type KV interface {
	Revocations
	Limiter
	Cache
}

// Holdoff is the cache hold-off open must build every store with.
const Holdoff = time.Second

// waitFor bounds every wait in the suite; tick is its poll interval.
//
// Conditions polled by testify run on their own goroutine and may still be
// running when the wait (and the test) is over, so they never touch t: they
// report through the CollectT of require.EventuallyWithT, or return false on
// error for assert.Never and the test checks once more afterwards.
const (
	waitFor = 5 * time.Second
	tick    = 20 * time.Millisecond
)

// kvCase is one behaviour checked against a fresh store.
type kvCase struct {
	// name names the behaviour.
	name string
	// check exercises kv, which is empty when check starts.
	check func(t *testing.T, ctx context.Context, kv KV)
}

// Run runs the whole contract suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) KV) {
	t.Run("revocations", func(t *testing.T) { runCases(t, open, revocationCases) })
	t.Run("limiter", func(t *testing.T) { runCases(t, open, limiterCases) })
	t.Run("cache", func(t *testing.T) { runCases(t, open, cacheCases) })
}

func runCases(t *testing.T, open func(t *testing.T) KV, cases []kvCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kv := open(t)
			require.NotNil(t, kv, "open returned a nil store")
			tc.check(t, t.Context(), kv)
		})
	}
}

// ---------------------------------------------------------------- revocations

// helper marks the caller as a helper when t is a *testing.T.
func helper(t require.TestingT) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
}

func isRevoked(t require.TestingT, ctx context.Context, kv KV, ids ...string) bool {
	helper(t)
	revoked, err := kv.AnyRevoked(ctx, ids...)
	require.NoError(t, err, "any revoked %v", ids)
	return revoked
}

// unrevoked reports whether jti is known not to be revoked; an error counts
// as not known.
func unrevoked(ctx context.Context, kv KV, jti string) bool {
	revoked, err := kv.AnyRevoked(ctx, jti)
	return err == nil && !revoked
}

var revocationCases = []kvCase{
	{
		name: "revoked_until_later",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)))
			assert.True(t, isRevoked(t, ctx, kv, "jti-1"))
		},
	},
	{
		name: "unknown_jti_not_revoked",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)))
			assert.False(t, isRevoked(t, ctx, kv, "jti-2"))
			assert.False(t, isRevoked(t, ctx, kv, ""))
		},
	},
	{
		name: "any_of_several_ids",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.Revoke(ctx, "jti-a", time.Now().Add(time.Hour)))
			assert.True(t, isRevoked(t, ctx, kv, "jti-a", "family:f1"), "the first of two")
			assert.True(t, isRevoked(t, ctx, kv, "family:f1", "jti-a"), "the second of two")
			assert.True(t, isRevoked(t, ctx, kv, "jti-b", "jti-c", "jti-a"), "the last of three")
			assert.False(t, isRevoked(t, ctx, kv, "jti-b", "family:f1"), "none of two")
			assert.False(t, isRevoked(t, ctx, kv), "no ids")
			require.NoError(t, kv.Revoke(ctx, "family:f1", time.Now().Add(time.Hour)))
			assert.True(t, isRevoked(t, ctx, kv, "jti-b", "family:f1"), "both kinds of id share one namespace")
		},
	},
	{
		name: "expired_id_among_several",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.Revoke(ctx, "jti-short", time.Now().Add(300*time.Millisecond)))
			require.NoError(t, kv.Revoke(ctx, "family:long", time.Now().Add(time.Hour)))
			require.True(t, isRevoked(t, ctx, kv, "jti-short", "family:other"), "revoked right after Revoke")
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				assert.False(c, isRevoked(c, ctx, kv, "jti-short", "family:other"))
			}, waitFor, tick, "an expired id no longer counts")
			assert.True(t, isRevoked(t, ctx, kv, "jti-short", "family:long"), "a live id among them still does")
		},
	},
	{
		name: "until_in_past_is_noop",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.Revoke(ctx, "jti-old", time.Now().Add(-time.Second)))
			assert.False(t, isRevoked(t, ctx, kv, "jti-old"))
		},
	},
	{
		name: "expiry_passes",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.Revoke(ctx, "jti-short", time.Now().Add(1500*time.Millisecond)))
			require.NoError(t, kv.Revoke(ctx, "jti-long", time.Now().Add(time.Hour)))
			require.True(t, isRevoked(t, ctx, kv, "jti-short"), "revoked right after Revoke")
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				assert.False(c, isRevoked(c, ctx, kv, "jti-short"))
			}, waitFor, tick, "revocation must end once until has passed")
			assert.True(t, isRevoked(t, ctx, kv, "jti-long"), "a longer revocation outlives a shorter one")
		},
	},
	{
		name: "shorter_revocation_does_not_shorten",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)))
			require.NoError(t, kv.Revoke(ctx, "jti-1", time.Now().Add(200*time.Millisecond)))
			assert.Never(t, func() bool { return unrevoked(ctx, kv, "jti-1") }, 800*time.Millisecond, 50*time.Millisecond,
				"the second, shorter Revoke must not end the first one")
			assert.True(t, isRevoked(t, ctx, kv, "jti-1"))
		},
	},
	{
		name: "longer_revocation_extends",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.Revoke(ctx, "jti-1", time.Now().Add(200*time.Millisecond)))
			require.NoError(t, kv.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)))
			assert.Never(t, func() bool { return unrevoked(ctx, kv, "jti-1") }, 800*time.Millisecond, 50*time.Millisecond,
				"the second, longer Revoke must extend the first one")
			assert.True(t, isRevoked(t, ctx, kv, "jti-1"))
		},
	},
}

// ---------------------------------------------------------------- limiter

// drain calls Allow on key until it is refused and returns how many calls
// were allowed and the refusal's retryAfter. It fails t after max calls.
func drain(t *testing.T, ctx context.Context, kv KV, key string, perMinute, max int) (int, time.Duration) {
	t.Helper()
	for i := range max {
		allowed, retryAfter, err := kv.Allow(ctx, key, perMinute)
		require.NoError(t, err, "allow %s call %d", key, i)
		if !allowed {
			return i, retryAfter
		}
		require.Zero(t, retryAfter, "retryAfter must be zero when allowed (call %d)", i)
	}
	require.FailNow(t, "limiter never refused", "key %s: %d calls allowed at %d per minute", key, max, perMinute)
	return 0, 0
}

var limiterCases = []kvCase{
	{
		name: "budget_then_refused",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			const perMinute = 5
			allowed, retryAfter := drain(t, ctx, kv, "ip:1", perMinute, 100)
			assert.Equal(t, perMinute, allowed, "a fresh key allows a burst of exactly perMinute")
			assert.Positive(t, retryAfter, "a refusal carries a positive retryAfter")
			assert.LessOrEqual(t, retryAfter, time.Minute/perMinute+10*time.Millisecond,
				"one request is allowed again after at most one emission interval")

			ok, again, err := kv.Allow(ctx, "ip:1", perMinute)
			require.NoError(t, err)
			assert.False(t, ok, "still refused right after the refusal")
			assert.Positive(t, again)
			assert.LessOrEqual(t, again, time.Minute)
		},
	},
	{
		name: "keys_independent",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			const perMinute = 3
			allowedA, _ := drain(t, ctx, kv, "user:a", perMinute, 100)
			require.Equal(t, perMinute, allowedA)
			allowedB, _ := drain(t, ctx, kv, "user:b", perMinute, 100)
			assert.Equal(t, perMinute, allowedB, "exhausting one key leaves another untouched")
		},
	},
	{
		name: "recovers_after_retry_after",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			const perMinute = 600 // one request every 100ms
			start := time.Now()
			allowed, retryAfter := drain(t, ctx, kv, "hot", perMinute, 10_000)
			elapsed := time.Since(start)
			// Tokens keep dripping in while the burst is drained.
			assert.GreaterOrEqual(t, allowed, perMinute)
			assert.LessOrEqual(t, allowed, perMinute+int(elapsed/(time.Minute/perMinute))+1)
			require.Positive(t, retryAfter)
			require.LessOrEqual(t, retryAfter, time.Minute/perMinute+10*time.Millisecond)

			refusedAt := time.Now()
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				ok, _, err := kv.Allow(ctx, "hot", perMinute)
				require.NoError(c, err)
				assert.True(c, ok)
			}, waitFor, 10*time.Millisecond, "one request is allowed again once retryAfter has passed")
			assert.GreaterOrEqual(t, time.Since(refusedAt), retryAfter/2,
				"not allowed again long before retryAfter")
		},
	},
	{
		name: "concurrent_callers_get_exactly_the_budget",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			const (
				perMinute = 20 // one request every 3s: no refill while the test runs
				callers   = 50
				calls     = 2
			)
			var allowed, refused atomic.Int64
			errs := make(chan error, callers*calls)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range callers {
				wg.Go(func() {
					<-start
					for range calls {
						ok, retryAfter, err := kv.Allow(ctx, "shared", perMinute)
						switch {
						case err != nil:
							errs <- err
						case ok:
							allowed.Add(1)
						case retryAfter <= 0 || retryAfter > time.Minute:
							errs <- fmt.Errorf("refused with retryAfter %s", retryAfter)
						default:
							refused.Add(1)
						}
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			assert.EqualValues(t, perMinute, allowed.Load(), "exactly the burst is allowed")
			assert.EqualValues(t, callers*calls-perMinute, refused.Load())
		},
	},
	{
		name: "non_positive_limit_is_error",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			for _, perMinute := range []int{0, -1} {
				ok, _, err := kv.Allow(ctx, "k", perMinute)
				assert.Error(t, err, "perMinute %d", perMinute)
				assert.False(t, ok, "perMinute %d", perMinute)
			}
		},
	},
}

// ---------------------------------------------------------------- cache

func cacheGet(t require.TestingT, ctx context.Context, kv KV, key string) ([]byte, bool) {
	helper(t)
	val, ok, err := kv.CacheGet(ctx, key)
	require.NoError(t, err, "cache get %s", key)
	if !ok {
		assert.Nil(t, val, "a miss returns no value")
	}
	return val, ok
}

func requireHit(t *testing.T, ctx context.Context, kv KV, key string, want []byte) {
	t.Helper()
	val, ok := cacheGet(t, ctx, kv, key)
	require.True(t, ok, "cache get %s: want a hit", key)
	require.Equal(t, want, val, "cache get %s", key)
}

func requireMiss(t *testing.T, ctx context.Context, kv KV, key string) {
	t.Helper()
	_, ok := cacheGet(t, ctx, kv, key)
	require.False(t, ok, "cache get %s: want a miss", key)
}

var cacheCases = []kvCase{
	{
		name: "empty_is_miss",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			requireMiss(t, ctx, kv, "user:1")
		},
	},
	{
		name: "fill_then_hit",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.CacheFill(ctx, "user:1", []byte("alice"), time.Minute))
			requireHit(t, ctx, kv, "user:1", []byte("alice"))
			requireHit(t, ctx, kv, "user:1", []byte("alice"))
			requireMiss(t, ctx, kv, "user:2")
		},
	},
	{
		name: "binary_and_empty_values",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			bin := []byte{0, 't', 'v', 0xff, 0}
			require.NoError(t, kv.CacheFill(ctx, "bin", bin, time.Minute))
			require.NoError(t, kv.CacheFill(ctx, "tomb-lookalike", []byte("t"), time.Minute))
			require.NoError(t, kv.CacheFill(ctx, "empty", []byte{}, time.Minute))
			requireHit(t, ctx, kv, "bin", bin)
			requireHit(t, ctx, kv, "tomb-lookalike", []byte("t"))
			val, ok := cacheGet(t, ctx, kv, "empty")
			assert.True(t, ok, "an empty value is a hit")
			assert.Empty(t, val)
		},
	},
	{
		name: "values_are_copied",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			in := []byte("alice")
			require.NoError(t, kv.CacheFill(ctx, "user:1", in, time.Minute))
			in[0] = 'X'
			out, ok := cacheGet(t, ctx, kv, "user:1")
			require.True(t, ok)
			require.Equal(t, []byte("alice"), out, "changing the filled slice must not change the cache")
			out[0] = 'Y'
			requireHit(t, ctx, kv, "user:1", []byte("alice"))
		},
	},
	{
		name: "fill_does_not_overwrite",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.CacheFill(ctx, "user:1", []byte("first"), time.Minute))
			require.NoError(t, kv.CacheFill(ctx, "user:1", []byte("second"), time.Minute))
			requireHit(t, ctx, kv, "user:1", []byte("first"))
		},
	},
	{
		name: "non_positive_ttl_stores_nothing",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.CacheFill(ctx, "zero", []byte("v"), 0))
			require.NoError(t, kv.CacheFill(ctx, "negative", []byte("v"), -time.Second))
			requireMiss(t, ctx, kv, "zero")
			requireMiss(t, ctx, kv, "negative")
		},
	},
	{
		name: "value_expires_after_ttl",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.CacheFill(ctx, "short", []byte("v1"), time.Second))
			require.NoError(t, kv.CacheFill(ctx, "long", []byte("v"), time.Hour))
			requireHit(t, ctx, kv, "short", []byte("v1"))
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				_, ok := cacheGet(c, ctx, kv, "short")
				assert.False(c, ok)
			}, waitFor, tick, "a value must expire after its ttl")
			require.NoError(t, kv.CacheFill(ctx, "short", []byte("v2"), time.Minute))
			requireHit(t, ctx, kv, "short", []byte("v2"))
			requireHit(t, ctx, kv, "long", []byte("v"))
		},
	},
	{
		name: "invalidate_blocks_fill_for_holdoff",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.CacheFill(ctx, "user:1", []byte("old"), time.Minute))
			require.NoError(t, kv.CacheFill(ctx, "user:2", []byte("other"), time.Minute))
			require.NoError(t, kv.CacheInvalidate(ctx, "user:1"))
			requireMiss(t, ctx, kv, "user:1")

			// A reader that loaded "old" before the write must not re-fill it.
			require.NoError(t, kv.CacheFill(ctx, "user:1", []byte("old"), time.Minute))
			requireMiss(t, ctx, kv, "user:1")
			requireHit(t, ctx, kv, "user:2", []byte("other"))

			// Once the hold-off has passed, fills work again.
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				require.NoError(c, kv.CacheFill(ctx, "user:1", []byte("new"), time.Minute))
				_, ok := cacheGet(c, ctx, kv, "user:1")
				assert.True(c, ok)
			}, Holdoff+waitFor, tick, "fill must work again after the hold-off")
			requireHit(t, ctx, kv, "user:1", []byte("new"))
		},
	},
	{
		name: "invalidate_of_absent_key_blocks_fill",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			require.NoError(t, kv.CacheInvalidate(ctx, "user:1"))
			require.NoError(t, kv.CacheFill(ctx, "user:1", []byte("stale"), time.Minute))
			requireMiss(t, ctx, kv, "user:1")
		},
	},
	{
		name: "concurrent_fills_one_winner",
		check: func(t *testing.T, ctx context.Context, kv KV) {
			const fillers = 20
			errs := make(chan error, fillers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range fillers {
				wg.Go(func() {
					<-start
					errs <- kv.CacheFill(ctx, "contended", fmt.Appendf(nil, "value-%02d", i), time.Minute)
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			first, ok := cacheGet(t, ctx, kv, "contended")
			require.True(t, ok)
			require.Regexp(t, `^value-\d\d$`, string(first))
			for range 5 {
				requireHit(t, ctx, kv, "contended", first)
			}
		},
	},
}
