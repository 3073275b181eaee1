// Package rediskv is the Redis key-value store engine nodes share when
// REDIS_URL is set: access-token revocations, per-key rate limits and a
// read-through cache. It passes the same contract suite (package kvtest) as
// the in-process default, package memkv.
//
// Keys, all under the prefix given to New so tests and deployments can share
// one Redis:
//
//	prefix+"revoked:"+id    "1", expiring at the revocation's until (id is a
//	                        jti, or "family:"+id of a refresh family)
//	prefix+"rate:"+key      GCRA state of redis_rate (its own "rate:" prefix,
//	                        moved under ours by a key-rewriting adapter)
//	prefix+"cache:"+key     'v'+value with the fill's ttl, or the tombstone
//	                        "t" with the hold-off
//
// Guarantees:
//
//   - Every method is safe for concurrent use and makes one round trip
//     (Revoke and Allow run one Lua script; the rest are single commands:
//     AnyRevoked is one EXISTS of all the ids it is asked about), so
//     each is atomic on the server: of concurrent fills of one key exactly one
//     wins, and of concurrent Allow calls exactly the budget is granted.
//   - Revocations: an id is revoked until the latest until it was given; an
//     until in the past is a no-op; AnyRevoked is true when any of its ids
//     is revoked. Expiry is measured from the caller's
//     clock at the time of Revoke (until - now) and kept by the Redis clock.
//   - Limiter: redis_rate.PerMinute(n): a fresh key allows a burst of
//     exactly n, then one request every minute/n; a refusal's retryAfter is
//     in (0, minute/n]. Time comes from the Redis server, so all nodes agree.
//   - Cache: CacheFill is SET NX with the ttl; CacheInvalidate overwrites any
//     value with a tombstone that lives for the hold-off, so a reader that
//     loaded stale data before the write cannot re-fill it. Values carry a
//     one-byte tag, so no value can be mistaken for a tombstone. The cache is
//     bounded by the ttls and by the server's maxmemory policy.
//   - Errors from Redis are wrapped with the operation, the key, and
//     actors.ErrUnavailable, so the edge can answer 503.
//   - Failing fast: a client built by Dial bounds each command to
//     DefaultCommandTimeout (1 s) unless REDIS_URL sets its own timeouts, and
//     once a command fails for want of the server (timeout, refused, reset)
//     every command fails at once with actors.ErrUnavailable for one command
//     timeout, then the server is tried again: a stopped or paused Redis
//     costs a request at most one timeout, and recovery needs no restart.
//   - KV does not own the client: whoever built it (usually with Dial)
//     closes it.
package rediskv
