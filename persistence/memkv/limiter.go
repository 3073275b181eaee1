package memkv

import (
	"context"
	"fmt"
	"time"
)

// Allow reports whether one more request for key fits in perMinute, using
// GCRA like redis_rate.PerMinute(perMinute): burst perMinute, then one
// request every minute/perMinute. When refused, retryAfter says how long
// until one request would be allowed. A non-positive perMinute is an error.
func (k *KV) Allow(ctx context.Context, key string, perMinute int) (bool, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	if perMinute <= 0 {
		return false, 0, fmt.Errorf("allow %s: perMinute must be positive, got %d", key, perMinute)
	}
	interval := max(time.Minute/time.Duration(perMinute), 1)
	burst := interval * time.Duration(perMinute)

	now := k.now()
	k.limMu.Lock()
	defer k.limMu.Unlock()
	tat, ok := k.buckets[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	allowAt := next.Add(-burst)
	if now.Before(allowAt) {
		return false, allowAt.Sub(now), nil
	}
	k.buckets[key] = next
	return true, 0, nil
}
