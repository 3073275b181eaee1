// Package kvtest is the contract suite every shared key-value store must
// pass: the in-process store (memkv, the embedded default) and the Redis store
// (rediskv) run the same suite from their own tests:
//
//	func TestContract(t *testing.T) {
//		kvtest.Run(t, func(t *testing.T) kvtest.KV {
//			kv := New(Options{Holdoff: kvtest.Holdoff})
//			t.Cleanup(func() { _ = kv.Close() })
//			return kv
//		})
//	}
//
// What the suite pins down, beyond the method comments on [KV]:
//
//   - Every case gets a fresh, empty store from open; open registers its own
//     cleanup and builds the store with a cache hold-off of [Holdoff].
//   - Time is real: expiries are checked with short real durations and
//     require.Eventually, so the suite behaves the same against Redis, whose
//     clock cannot be faked.
//   - Revocations: an id is revoked until its until passes; an until in the
//     past is a no-op; a second, shorter revocation never shortens a longer
//     one; AnyRevoked of several ids is true when any of them is revoked
//     now, and false for none.
//   - Limiter: GCRA with the semantics of redis_rate.PerMinute(n): a fresh
//     key allows a burst of exactly n, then one request every minute/n; a
//     refusal carries retryAfter in (0, minute/n]; keys are independent; of
//     many concurrent callers on one key exactly the budget is allowed; a
//     non-positive perMinute is an error.
//   - Cache: CacheFill stores only into an empty key (SET NX), values are
//     copied in and out, a non-positive ttl stores nothing, CacheInvalidate
//     leaves a tombstone for the hold-off during which fills are refused
//     (also for keys that held no value), and of many concurrent fills
//     exactly one value wins.
//
// The package is a normal (non-test) package so other packages' tests can
// import it; it imports testing and testify and must never be imported by
// production code.
package kvtest
