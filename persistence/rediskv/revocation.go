package rediskv

import (
	"context"
	"strings"
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

// AnyRevoked reports whether any of ids is revoked now (false for none, with
// no round trip). It is one EXISTS of all their keys: one round trip however
// many ids are asked. (On a Redis Cluster the keys of one call would have to
// share a slot; Dial connects to a single server.)
func (k *KV) AnyRevoked(ctx context.Context, ids ...string) (bool, error) {
	if len(ids) == 0 {
		return false, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = k.revokedKey(id)
	}
	n, err := k.rdb.Exists(ctx, keys...).Result()
	if err != nil {
		return false, unavailable("check revocation of "+strings.Join(ids, ", "), err)
	}
	return n > 0, nil
}
