package memkv

import (
	"context"
	"time"
)

// Revoke marks jti revoked until until. An until in the past is a no-op, and
// an earlier until never shortens a revocation already recorded.
func (k *KV) Revoke(ctx context.Context, jti string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !k.now().Before(until) {
		return nil
	}
	k.revMu.Lock()
	defer k.revMu.Unlock()
	if cur, ok := k.revoked[jti]; !ok || until.After(cur) {
		k.revoked[jti] = until
	}
	return nil
}

// IsRevoked reports whether jti is revoked now.
func (k *KV) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	k.revMu.RLock()
	until, ok := k.revoked[jti]
	k.revMu.RUnlock()
	return ok && k.now().Before(until), nil
}
