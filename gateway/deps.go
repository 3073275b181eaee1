package gateway

import (
	"context"
	"time"

	"github.com/wacc/engine/actors"
)

// Store is the durable storage the gateway needs.
type Store interface {
	actors.UserStore
	actors.TokenStore
	actors.CustomerStore
	actors.AuditStore
}

// Revocations remembers revoked ids (access-token jtis, refresh families)
// until their expiry. AnyRevoked checks several in one lookup (one round
// trip on Redis), so a request's token and family cost one.
type Revocations interface {
	Revoke(ctx context.Context, id string, until time.Time) error
	AnyRevoked(ctx context.Context, ids ...string) (bool, error)
}

// Limiter admits perMinute requests per key per minute.
type Limiter interface {
	Allow(ctx context.Context, key string, perMinute int) (allowed bool, retryAfter time.Duration, err error)
}

// Cache is a read-through cache with stale-read protection: CacheFill never
// overwrites a value or the tombstone CacheInvalidate leaves behind.
type Cache interface {
	CacheGet(ctx context.Context, key string) ([]byte, bool, error)
	CacheFill(ctx context.Context, key string, val []byte, ttl time.Duration) error
	CacheInvalidate(ctx context.Context, key string) error
}

// KV is what several nodes share: in process by default, Redis when
// configured.
type KV interface {
	Revocations
	Limiter
	Cache
}

// Auditor takes audit records without blocking.
type Auditor interface {
	Record(rec actors.AuditRecord)
}

// Check is one readiness probe: a named dependency and how to ping it.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}
