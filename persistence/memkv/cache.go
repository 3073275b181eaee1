package memkv

import (
	"bytes"
	"container/list"
	"context"
	"time"
)

type cacheEntry struct {
	key     string
	val     []byte
	expires time.Time
}

// LocalEntries is how many values the cache holds at most; having it says
// the cache lives in this process only, so a caller may keep its values
// decoded instead (no other process can invalidate them).
func (k *KV) LocalEntries() int { return k.maxEntries }

// CacheGet returns a copy of the value under key. A missing or expired value
// and a tombstone are misses.
func (k *KV) CacheGet(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	now := k.now()
	k.cacheMu.Lock()
	defer k.cacheMu.Unlock()
	el, ok := k.entries[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		k.removeEntry(el)
		return nil, false, nil
	}
	k.lru.MoveToFront(el)
	return bytes.Clone(e.val), true, nil
}

// CacheFill stores a copy of val under key for ttl, only if key holds neither
// a live value nor a live tombstone. A non-positive ttl stores nothing. The
// least recently used value is evicted when the cache is full.
func (k *KV) CacheFill(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		return nil
	}
	now := k.now()
	k.cacheMu.Lock()
	defer k.cacheMu.Unlock()
	if end, ok := k.tombstones[key]; ok {
		if now.Before(end) {
			return nil
		}
		delete(k.tombstones, key)
	}
	if el, ok := k.entries[key]; ok {
		if now.Before(el.Value.(*cacheEntry).expires) {
			return nil
		}
		k.removeEntry(el)
	}
	if val == nil {
		val = []byte{}
	}
	k.entries[key] = k.lru.PushFront(&cacheEntry{key: key, val: bytes.Clone(val), expires: now.Add(ttl)})
	for k.lru.Len() > k.maxEntries {
		k.removeEntry(k.lru.Back())
	}
	return nil
}

// CacheInvalidate drops any value under key and leaves a tombstone that
// refuses fills for the hold-off, so a reader that loaded stale data before
// the write cannot put it back.
func (k *KV) CacheInvalidate(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := k.now()
	k.cacheMu.Lock()
	defer k.cacheMu.Unlock()
	if el, ok := k.entries[key]; ok {
		k.removeEntry(el)
	}
	k.tombstones[key] = now.Add(k.holdoff)
	return nil
}

// removeEntry drops el from the LRU list and the index; cacheMu must be held.
func (k *KV) removeEntry(el *list.Element) {
	k.lru.Remove(el)
	delete(k.entries, el.Value.(*cacheEntry).key)
}
