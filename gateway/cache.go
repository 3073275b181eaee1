package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.uber.org/zap"
)

// localCache is implemented by a Cache kept in this process only (the
// embedded default, memkv): nothing but this process's writers can
// invalidate it, so the read cache keeps decoded values instead, at most
// LocalEntries of them.
type localCache interface{ LocalEntries() int }

// maxDecoded bounds the decoded values a read cache keeps over a shared
// Cache (to spare decoding the same bytes again).
const maxDecoded = 10_000

// readCache serves single-record reads through the shared Cache. Writers call
// invalidate after every successful update or delete; the Cache's tombstone
// keeps a reader that loaded the old record before the write from filling it
// back, so a stale read cannot follow an update (on any node, when the Cache
// is Redis).
//
// Values are decoded once. Over a node-local Cache the decoded values are
// the cache (the shared Cache is not used): a hit is a map lookup, and
// invalidate's epoch plays the tombstone's part. Over a shared Cache
// (Redis) every read still asks it, so an invalidation on another node
// holds at once, but bytes equal to the last decoded ones are not decoded
// again.
type readCache[T any] struct {
	name   string
	prefix string
	kv     Cache
	ttl    time.Duration
	load   func(ctx context.Context, id string) (T, error)
	scrub  func(T) T
	// clone copies a value's slices and maps, so that callers never share
	// them with the cache; nil when T has none.
	clone func(T) T
	m     *metrics
	log   *zap.Logger

	mu sync.RWMutex
	// decoded holds, by id, the values decoded (with the stored bytes they
	// came from, over a shared Cache).
	decoded map[string]decodedValue[T]
	// epoch counts invalidations; a load that began before one does not
	// fill (node-local).
	epoch uint64
	// max bounds decoded; localOnly is set over a node-local Cache.
	max       int
	localOnly bool
}

type decodedValue[T any] struct {
	v       T
	raw     []byte
	expires time.Time
}

func newReadCache[T any](c *readCache[T]) *readCache[T] {
	c.decoded = make(map[string]decodedValue[T])
	c.max = maxDecoded
	if l, ok := c.kv.(localCache); ok && c.ttl > 0 {
		c.localOnly, c.max = true, max(l.LocalEntries(), 2)
	}
	return c
}

func (c *readCache[T]) local() bool { return c.localOnly }

func (c *readCache[T]) out(v T) T {
	if c.clone != nil {
		return c.clone(v)
	}
	return v
}

func (c *readCache[T]) get(ctx context.Context, id string) (T, error) {
	if c.local() {
		return c.getLocal(ctx, id)
	}
	key := c.prefix + id
	if raw, ok, err := c.kv.CacheGet(ctx, key); err != nil {
		c.m.cacheLookups.WithLabelValues(c.name, "error").Inc()
		c.log.Warn("cache read failed; reading the store", zap.String("cache", c.name), zap.Error(err))
	} else if ok {
		c.mu.RLock()
		d, seen := c.decoded[id]
		c.mu.RUnlock()
		if seen && bytes.Equal(d.raw, raw) {
			c.m.cacheLookups.WithLabelValues(c.name, "hit").Inc()
			return c.out(d.v), nil
		}
		var v T
		if err := json.Unmarshal(raw, &v); err == nil {
			c.m.cacheLookups.WithLabelValues(c.name, "hit").Inc()
			c.keep(id, decodedValue[T]{v: v, raw: raw})
			return c.out(v), nil
		}
		c.m.cacheLookups.WithLabelValues(c.name, "error").Inc()
	} else {
		c.m.cacheLookups.WithLabelValues(c.name, "miss").Inc()
	}
	v, err := c.loadScrubbed(ctx, id)
	if err != nil {
		return v, err
	}
	if raw, err := json.Marshal(v); err == nil {
		if err := c.kv.CacheFill(ctx, key, raw, c.ttl); err != nil {
			c.log.Warn("cache fill failed", zap.String("cache", c.name), zap.Error(err))
		}
	}
	return c.out(v), nil
}

// getLocal is get over a node-local Cache: decoded values only.
func (c *readCache[T]) getLocal(ctx context.Context, id string) (T, error) {
	now := time.Now()
	c.mu.RLock()
	d, ok := c.decoded[id]
	epoch := c.epoch
	c.mu.RUnlock()
	if ok && now.Before(d.expires) {
		c.m.cacheLookups.WithLabelValues(c.name, "hit").Inc()
		return c.out(d.v), nil
	}
	c.m.cacheLookups.WithLabelValues(c.name, "miss").Inc()
	v, err := c.loadScrubbed(ctx, id)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.epoch == epoch {
		c.keepLocked(id, decodedValue[T]{v: v, expires: now.Add(c.ttl)})
	}
	c.mu.Unlock()
	return c.out(v), nil
}

func (c *readCache[T]) loadScrubbed(ctx context.Context, id string) (T, error) {
	v, err := c.load(ctx, id)
	if err != nil {
		var zero T
		return zero, err
	}
	if c.scrub != nil {
		v = c.scrub(v)
	}
	return v, nil
}

func (c *readCache[T]) keep(id string, d decodedValue[T]) {
	c.mu.Lock()
	c.keepLocked(id, d)
	c.mu.Unlock()
}

// keepLocked stores d under id; when full, the expired values go first,
// then arbitrary ones down to half. c.mu must be held.
func (c *readCache[T]) keepLocked(id string, d decodedValue[T]) {
	if len(c.decoded) >= c.max {
		now := time.Now()
		for k, old := range c.decoded {
			if !old.expires.IsZero() && !now.Before(old.expires) {
				delete(c.decoded, k)
			}
		}
		for k := range c.decoded {
			if len(c.decoded) < c.max/2 {
				break
			}
			delete(c.decoded, k)
		}
	}
	c.decoded[id] = d
}

// invalidate drops id from the cache. A failure of the shared Cache is
// logged at error level: readers may then see the old record until the
// entry's TTL ends.
func (c *readCache[T]) invalidate(ctx context.Context, id string) {
	c.mu.Lock()
	delete(c.decoded, id)
	c.epoch++
	c.mu.Unlock()
	if c.local() {
		return
	}
	if err := c.kv.CacheInvalidate(ctx, c.prefix+id); err != nil {
		c.log.Error("cache invalidation failed; entry may be stale until its TTL", zap.String("cache", c.name), zap.String("id", id), zap.Error(err))
	}
}
