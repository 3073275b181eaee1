package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/app"
)

func TestStartSessionAndVerify(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u, err := f.app.CreateUser(ctx, app.NewUser{Email: "ana@example.com", Password: "s3cret-pass", Name: "n", Role: actors.RoleSupervisor})
	require.NoError(t, err)
	tok, err := f.app.StartSession(ctx, u)
	require.NoError(t, err)

	fam, err := f.store.Family(ctx, tok.Claims.FamilyID)
	require.NoError(t, err, "the refresh family is stored")
	assert.Equal(t, u.ID, fam.UserID)
	assert.Equal(t, f.app.Issuer().HashRefreshToken(tok.RefreshToken), fam.TokenHash)

	claims, err := f.app.VerifyAccess(ctx, tok.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, u.ID, claims.Subject)
	assert.Equal(t, "supervisor", claims.Role)

	id, exp, err := f.app.Authenticate(ctx, tok.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, u.ID, id)
	assert.Equal(t, claims.ExpiresAt.Time, exp)
}

func TestVerifyRefusals(t *testing.T) {
	cases := []struct {
		name string
		// spoil changes the world (or the token) after the session started.
		spoil   func(t *testing.T, f *fixture, tok app.Tokens) string
		wantErr error
	}{
		{name: "expired", wantErr: actors.ErrTokenExpired, spoil: func(t *testing.T, f *fixture, tok app.Tokens) string {
			f.advance(16 * time.Minute)
			return tok.AccessToken
		}},
		{name: "forged", wantErr: actors.ErrTokenInvalid, spoil: func(_ *testing.T, _ *fixture, tok app.Tokens) string {
			return tok.AccessToken[:len(tok.AccessToken)-2] + "xx"
		}},
		{name: "garbage", wantErr: actors.ErrTokenInvalid, spoil: func(*testing.T, *fixture, app.Tokens) string { return "not.a.token" }},
		{name: "revoked token", wantErr: actors.ErrTokenRevoked, spoil: func(t *testing.T, f *fixture, tok app.Tokens) string {
			require.NoError(t, f.kv.Revoke(t.Context(), tok.Claims.ID, time.Now().Add(time.Hour)))
			return tok.AccessToken
		}},
		{name: "revoked family", wantErr: actors.ErrTokenRevoked, spoil: func(t *testing.T, f *fixture, tok app.Tokens) string {
			require.NoError(t, f.kv.Revoke(t.Context(), app.FamilyRevocationKey(tok.Claims.FamilyID), time.Now().Add(time.Hour)))
			return tok.AccessToken
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			u, err := f.app.CreateUser(t.Context(), app.NewUser{Email: "ana@example.com", Password: "s3cret-pass", Name: "n", Role: actors.RoleAgent})
			require.NoError(t, err)
			tok, err := f.app.StartSession(t.Context(), u)
			require.NoError(t, err)
			bad := tc.spoil(t, f, tok)

			_, err = f.app.VerifyAccess(t.Context(), bad)
			require.ErrorIs(t, err, tc.wantErr)
			_, _, err = f.app.Authenticate(t.Context(), bad)
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}
