package rediskv

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// Allow reports whether one more request for key fits in perMinute, using
// redis_rate.PerMinute(perMinute): burst perMinute, then one request every
// minute/perMinute. When refused, retryAfter says how long until one request
// would be allowed. A non-positive perMinute is an error.
func (k *KV) Allow(ctx context.Context, key string, perMinute int) (bool, time.Duration, error) {
	if perMinute <= 0 {
		return false, 0, fmt.Errorf("allow %s: perMinute must be positive, got %d", key, perMinute)
	}
	res, err := k.limiter.Allow(ctx, key, redis_rate.PerMinute(perMinute))
	if err != nil {
		return false, 0, unavailable("allow "+key, err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	// The script's float arithmetic can round a tiny wait down to zero.
	return false, max(res.RetryAfter, time.Millisecond), nil
}
