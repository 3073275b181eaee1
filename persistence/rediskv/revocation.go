package rediskv

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// revokeScript sets KEYS[1] to "1" expiring in ARGV[1] milliseconds unless it
// already lives longer (PTTL is -2 for a missing key).
var revokeScript = redis.NewScript(`
local ttl = tonumber(ARGV[1])
if redis.call("PTTL", KEYS[1]) < ttl then
  redis.call("SET", KEYS[1], "1", "PX", ttl)
end
return 0
`)

func (k *KV) revokedKey(jti string) string { return k.prefix + "revoked:" + jti }

// Revoke marks jti revoked until until. An until in the past is a no-op, and
// an earlier until never shortens a revocation already recorded.
func (k *KV) Revoke(ctx context.Context, jti string, until time.Time) error {
	ttl := time.Until(until)
	if ttl <= 0 {
		return nil
	}
	ms := max((ttl+time.Millisecond-1)/time.Millisecond, 1)
	if err := revokeScript.Run(ctx, k.rdb, []string{k.revokedKey(jti)}, int64(ms)).Err(); err != nil {
		return unavailable("revoke "+jti, err)
	}
	return nil
}

// IsRevoked reports whether jti is revoked now.
func (k *KV) IsRevoked(ctx context.Context, jti string) (bool, error) {
	n, err := k.rdb.Exists(ctx, k.revokedKey(jti)).Result()
	if err != nil {
		return false, unavailable("is revoked "+jti, err)
	}
	return n > 0, nil
}
