// Package memkv is the in-process key-value store the engine uses when no
// Redis is configured (REDIS_URL unset): access-token revocations, per-key
// rate limits and a small read-through cache, all kept in this process's
// memory. It is the embedded default for a single node; several nodes must
// share state through package rediskv instead, which passes the same
// contract suite (package kvtest).
//
// Guarantees:
//
//   - Every method is safe for concurrent use. Revocations, limiter buckets
//     and the cache have their own locks, so a burst on one never waits on
//     another.
//   - Revocations: an id is revoked until the latest until it was given; an
//     until in the past is a no-op. AnyRevoked reads all its ids under one
//     lock and is true when any of them is revoked; while nothing is
//     recorded it answers false without the lock, and NoneRevoked says so
//     with one atomic load (callers then skip building the ids).
//   - Limiter: GCRA with the semantics of redis_rate.PerMinute(n): a fresh key
//     allows a burst of exactly n, then one request every minute/n. A
//     refusal's retryAfter is in (0, minute/n]. Keys share nothing; a key's
//     bucket is shared by every perMinute asked for it, as in redis_rate.
//   - Cache: at most CacheMaxEntries values, evicting the least recently used.
//     CacheFill stores only into an empty key. CacheInvalidate leaves a
//     tombstone for the hold-off; tombstones are not counted against
//     CacheMaxEntries and never evicted early, because evicting one would
//     reopen the stale-read window it guards. Their number is bounded by the
//     invalidations of one hold-off period. Values are copied in and out.
//     LocalEntries tells a caller the cache lives in this process only, so
//     it may keep values decoded instead (the gateway's read cache does).
//   - Memory: expired revocations, idle limiter buckets, expired values and
//     tombstones are dropped by a janitor goroutine started by New (and
//     checked lazily on every read). Close stops the janitor and waits for it;
//     it is safe to call twice. The store keeps working after Close, it just
//     stops sweeping.
package memkv
