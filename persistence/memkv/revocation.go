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

// AnyRevoked reports whether any of ids is revoked now (false for none).
// All ids are read under one lock, as one snapshot.
func (k *KV) AnyRevoked(ctx context.Context, ids ...string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := k.now()
	k.revMu.RLock()
	defer k.revMu.RUnlock()
	for _, id := range ids {
		if until, ok := k.revoked[id]; ok && now.Before(until) {
			return true, nil
		}
	}
	return false, nil
}
