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
	cur, ok := k.revoked[jti]
	if !ok {
		k.live.Add(1)
	}
	if !ok || until.After(cur) {
		k.revoked[jti] = until
	}
	return nil
}

// NoneRevoked is true when no id is revoked: a check that costs one atomic
// load, for callers to skip building the ids they would ask about.
func (k *KV) NoneRevoked() bool { return k.live.Load() == 0 }

// AnyRevoked reports whether any of ids is revoked now (false for none).
// All ids are read under one lock, as one snapshot.
func (k *KV) AnyRevoked(ctx context.Context, ids ...string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if k.live.Load() == 0 {
		return false, nil
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
