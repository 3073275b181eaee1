package gateway

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"
)

// readCache serves single-record reads through the shared Cache. Writers call
// invalidate after every successful update or delete; the Cache's tombstone
// keeps a reader that loaded the old record before the write from filling it
// back, so a stale read cannot follow an update (on any node, when the Cache
// is Redis).
type readCache[T any] struct {
	name   string
	prefix string
	kv     Cache
	ttl    time.Duration
	load   func(ctx context.Context, id string) (T, error)
	scrub  func(T) T
	m      *metrics
	log    *zap.Logger
}

func (c *readCache[T]) get(ctx context.Context, id string) (T, error) {
	key := c.prefix + id
	if raw, ok, err := c.kv.CacheGet(ctx, key); err != nil {
		c.m.cacheLookups.WithLabelValues(c.name, "error").Inc()
		c.log.Warn("cache read failed; reading the store", zap.String("cache", c.name), zap.Error(err))
	} else if ok {
		var v T
		if err := json.Unmarshal(raw, &v); err == nil {
			c.m.cacheLookups.WithLabelValues(c.name, "hit").Inc()
			return v, nil
		}
		c.m.cacheLookups.WithLabelValues(c.name, "error").Inc()
	} else {
		c.m.cacheLookups.WithLabelValues(c.name, "miss").Inc()
	}
	v, err := c.load(ctx, id)
	if err != nil {
		var zero T
		return zero, err
	}
	if c.scrub != nil {
		v = c.scrub(v)
	}
	if raw, err := json.Marshal(v); err == nil {
		if err := c.kv.CacheFill(ctx, key, raw, c.ttl); err != nil {
			c.log.Warn("cache fill failed", zap.String("cache", c.name), zap.Error(err))
		}
	}
	return v, nil
}

// invalidate drops id from the cache. A failure is logged at error level:
// readers may then see the old record until the entry's TTL ends.
func (c *readCache[T]) invalidate(ctx context.Context, id string) {
	if err := c.kv.CacheInvalidate(ctx, c.prefix+id); err != nil {
		c.log.Error("cache invalidation failed; entry may be stale until its TTL", zap.String("cache", c.name), zap.String("id", id), zap.Error(err))
	}
}
