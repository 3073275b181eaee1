package rediskv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stored cache values are tagged so a value can never pass for a tombstone.
const (
	valueTag  = 'v'
	tombstone = "t"
)

func (k *KV) cacheKey(key string) string { return k.prefix + "cache:" + key }

// CacheGet returns the value under key. A missing value and a tombstone are
// misses.
func (k *KV) CacheGet(ctx context.Context, key string) ([]byte, bool, error) {
	raw, err := k.rdb.Get(ctx, k.cacheKey(key)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, unavailable("cache get "+key, err)
	case string(raw) == tombstone:
		return nil, false, nil
	case len(raw) == 0 || raw[0] != valueTag:
		return nil, false, fmt.Errorf("cache get %s: unrecognised stored value of %d bytes", key, len(raw))
	}
	return raw[1:], true, nil
}

// CacheFill stores val under key for ttl, only if key holds neither a value
// nor a tombstone (SET NX). A non-positive ttl stores nothing.
func (k *KV) CacheFill(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	tagged := make([]byte, 0, len(val)+1)
	tagged = append(append(tagged, valueTag), val...)
	err := k.rdb.SetArgs(ctx, k.cacheKey(key), tagged, redis.SetArgs{Mode: "NX", TTL: max(ttl, time.Millisecond)}).Err()
	if err != nil && !errors.Is(err, redis.Nil) { // redis.Nil: the key was taken
		return unavailable("cache fill "+key, err)
	}
	return nil
}

// CacheInvalidate replaces any value under key with a tombstone that refuses
// fills for the hold-off, so a reader that loaded stale data before the write
// cannot put it back.
func (k *KV) CacheInvalidate(ctx context.Context, key string) error {
	if err := k.rdb.Set(ctx, k.cacheKey(key), tombstone, k.holdoff).Err(); err != nil {
		return unavailable("cache invalidate "+key, err)
	}
	return nil
}
