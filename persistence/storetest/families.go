package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func family(id, userID, hash string) actors.RefreshFamily {
	return actors.RefreshFamily{
		ID:         id,
		UserID:     userID,
		TokenHash:  hash,
		Generation: 1,
		CreatedAt:  base,
		UpdatedAt:  base,
		ExpiresAt:  base.Add(30 * 24 * time.Hour),
	}
}

func mustFamily(t *testing.T, ctx context.Context, s actors.Store, id string) actors.RefreshFamily {
	t.Helper()
	f, err := s.Family(ctx, id)
	require.NoError(t, err, "family %s", id)
	return f
}

func runFamilies(t *testing.T, open func(t *testing.T) actors.Store) {
	runCases(t, open, []storeCase{
		{name: "create then read", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			f := family("f1", "u1", "h1")
			require.NoError(t, s.CreateFamily(ctx, f))
			assert.Equal(t, f, mustFamily(t, ctx, s, "f1"))
			assert.True(t, mustFamily(t, ctx, s, "f1").RevokedAt.IsZero(), "a live family has a zero RevokedAt")
		}},
		{name: "duplicate id is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			f := family("f1", "u1", "h1")
			require.NoError(t, s.CreateFamily(ctx, f))
			require.ErrorIs(t, s.CreateFamily(ctx, family("f1", "u2", "h2")), actors.ErrDuplicate)
			assert.Equal(t, f, mustFamily(t, ctx, s, "f1"))
		}},
		{name: "unknown family is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			_, err := s.Family(ctx, "f404")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "rotate replaces hash, bumps generation, sets expiry and updated time", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			f := family("f1", "u1", "h1")
			require.NoError(t, s.CreateFamily(ctx, f))
			exp, now := base.Add(60*24*time.Hour), base.Add(time.Hour)
			require.NoError(t, s.RotateFamily(ctx, "f1", "h1", "h2", exp, now))

			want := f
			want.TokenHash, want.Generation, want.ExpiresAt, want.UpdatedAt = "h2", 2, exp, now
			assert.Equal(t, want, mustFamily(t, ctx, s, "f1"))

			// The rotated-away hash is now stale; the new one rotates again.
			require.ErrorIs(t, s.RotateFamily(ctx, "f1", "h1", "h3", exp, now), actors.ErrConflict)
			require.NoError(t, s.RotateFamily(ctx, "f1", "h2", "h3", exp, now.Add(time.Minute)))
			assert.Equal(t, int64(3), mustFamily(t, ctx, s, "f1").Generation)
		}},
		{name: "rotate with stale hash is ErrConflict and changes nothing", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			f := family("f1", "u1", "h1")
			require.NoError(t, s.CreateFamily(ctx, f))
			err := s.RotateFamily(ctx, "f1", "not-h1", "h2", base.Add(time.Hour), base.Add(time.Minute))
			require.ErrorIs(t, err, actors.ErrConflict)
			assert.Equal(t, f, mustFamily(t, ctx, s, "f1"))
		}},
		{name: "rotate of revoked family is ErrConflict and changes nothing", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.CreateFamily(ctx, family("f1", "u1", "h1")))
			require.NoError(t, s.RevokeFamily(ctx, "f1", base.Add(time.Minute)))
			before := mustFamily(t, ctx, s, "f1")
			err := s.RotateFamily(ctx, "f1", "h1", "h2", base.Add(time.Hour), base.Add(2*time.Minute))
			require.ErrorIs(t, err, actors.ErrConflict)
			assert.Equal(t, before, mustFamily(t, ctx, s, "f1"))
		}},
		{name: "rotate of unknown family is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			err := s.RotateFamily(ctx, "f404", "h1", "h2", base.Add(time.Hour), base)
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "concurrent rotations with the same old hash: exactly one wins", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.CreateFamily(ctx, family("f1", "u1", "h0")))
			const n = 20
			errs := make([]error, n)
			Race(n, func(i int) {
				errs[i] = s.RotateFamily(ctx, "f1", "h0", fmt.Sprintf("h1-%02d", i), base.Add(time.Hour), base.Add(time.Minute))
			})
			winner, failed := AtMostOneWinner(t, errs, actors.ErrConflict)
			got := mustFamily(t, ctx, s, "f1")
			landed := -1
			if got.TokenHash == "h0" {
				assert.Equal(t, int64(1), got.Generation, "no rotation landed: nothing changed")
			} else {
				_, err := fmt.Sscanf(got.TokenHash, "h1-%02d", &landed)
				require.NoError(t, err, "stored hash %q", got.TokenHash)
				assert.Equal(t, int64(2), got.Generation)
			}
			Landed(t, winner, failed, landed)
		}},
		{name: "revoke twice keeps the first time", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			f := family("f1", "u1", "h1")
			require.NoError(t, s.CreateFamily(ctx, f))
			first := base.Add(time.Minute)
			require.NoError(t, s.RevokeFamily(ctx, "f1", first))
			require.NoError(t, s.RevokeFamily(ctx, "f1", first.Add(time.Hour)))

			want := f
			want.RevokedAt = first
			got := mustFamily(t, ctx, s, "f1")
			assert.Equal(t, want.RevokedAt, got.RevokedAt)
			assert.Equal(t, want.TokenHash, got.TokenHash)
			assert.Equal(t, want.Generation, got.Generation)
		}},
		{name: "revoke of unknown family is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			assert.ErrorIs(t, s.RevokeFamily(ctx, "f404", base), actors.ErrNotFound)
		}},
		{name: "revoke user families counts only live families of that user", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			for _, f := range []actors.RefreshFamily{
				family("f1", "u1", "h1"), family("f2", "u1", "h2"), family("f3", "u1", "h3"),
				family("f4", "u2", "h4"),
			} {
				require.NoError(t, s.CreateFamily(ctx, f))
			}
			early := base.Add(time.Minute)
			require.NoError(t, s.RevokeFamily(ctx, "f3", early))

			at := base.Add(time.Hour)
			n, err := s.RevokeUserFamilies(ctx, "u1", at)
			require.NoError(t, err)
			assert.Equal(t, 2, n)
			assert.Equal(t, at, mustFamily(t, ctx, s, "f1").RevokedAt)
			assert.Equal(t, at, mustFamily(t, ctx, s, "f2").RevokedAt)
			assert.Equal(t, early, mustFamily(t, ctx, s, "f3").RevokedAt, "an already revoked family keeps its first time")
			assert.True(t, mustFamily(t, ctx, s, "f4").RevokedAt.IsZero(), "another user's family stays live")

			n, err = s.RevokeUserFamilies(ctx, "u1", at.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, 0, n, "nothing left to revoke")
			n, err = s.RevokeUserFamilies(ctx, "u404", at)
			require.NoError(t, err)
			assert.Equal(t, 0, n)
		}},
		{name: "delete expired families removes those expiring strictly before", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			cut := base.Add(24 * time.Hour)
			expiring := map[string]time.Time{
				"f1": cut.Add(-time.Hour),
				"f2": cut.Add(-time.Millisecond),
				"f3": cut,
				"f4": cut.Add(time.Hour),
			}
			for id, exp := range expiring {
				f := family(id, "u1", "h-"+id)
				f.ExpiresAt = exp
				require.NoError(t, s.CreateFamily(ctx, f))
			}
			require.NoError(t, s.RevokeFamily(ctx, "f1", base), "revoked families expire too")

			n, err := s.DeleteExpiredFamilies(ctx, cut)
			require.NoError(t, err)
			assert.Equal(t, 2, n)
			for _, id := range []string{"f1", "f2"} {
				_, err := s.Family(ctx, id)
				assert.ErrorIs(t, err, actors.ErrNotFound, id)
			}
			mustFamily(t, ctx, s, "f3")
			mustFamily(t, ctx, s, "f4")

			n, err = s.DeleteExpiredFamilies(ctx, cut)
			require.NoError(t, err)
			assert.Equal(t, 0, n)
		}},
	})
}

// ------------------------------------------------------------ customers
