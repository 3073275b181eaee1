package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// runAccounts checks what ends a user's sessions: disabling, a password
// change and the token version they bump, and the version a refresh family
// keeps.
func runAccounts(t *testing.T, open func(t *testing.T) actors.Store) {
	runCases(t, open, []storeCase{
		{name: "disabled and token version are stored with the user", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			u := user("u1", "ana@example.com", actors.RoleAgent, base)
			u.Disabled, u.TokenVersion = true, 7
			require.NoError(t, s.CreateUser(ctx, u))
			got, err := s.UserByID(ctx, "u1")
			require.NoError(t, err)
			assert.Equal(t, u, got)
			listed, err := s.ListUsers(ctx, "")
			require.NoError(t, err)
			require.Len(t, listed, 1)
			assert.Equal(t, u, listed[0], "listed users carry disabled and the token version")
			fresh := user("u2", "bia@example.com", actors.RoleAgent, base)
			require.NoError(t, s.CreateUser(ctx, fresh))
			got, err = s.UserByEmail(ctx, "bia@example.com")
			require.NoError(t, err)
			assert.False(t, got.Disabled, "a new user is enabled")
			assert.Zero(t, got.TokenVersion)
		}},
		{name: "disable bumps the token version, enable does not", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			u := user("u1", "ana@example.com", actors.RoleAgent, base)
			require.NoError(t, s.CreateUser(ctx, u))
			other := user("u2", "bia@example.com", actors.RoleAgent, base)
			require.NoError(t, s.CreateUser(ctx, other))
			tests := []struct {
				name        string
				disabled    bool
				wantVersion int64
			}{
				{name: "disable", disabled: true, wantVersion: 1},
				{name: "enable", disabled: false, wantVersion: 1},
				{name: "disable again", disabled: true, wantVersion: 2},
				{name: "disable an already disabled user", disabled: true, wantVersion: 3},
			}
			for i, tt := range tests {
				at := base.Add(time.Duration(i+1) * time.Minute)
				got, err := s.SetUserDisabled(ctx, "u1", tt.disabled, at)
				require.NoError(t, err, tt.name)
				want := u
				want.Disabled, want.TokenVersion, want.UpdatedAt = tt.disabled, tt.wantVersion, at
				assert.Equal(t, want, got, "%s: SetUserDisabled returns the stored user", tt.name)
				stored, err := s.UserByID(ctx, "u1")
				require.NoError(t, err)
				assert.Equal(t, want, stored, tt.name)
			}
			stored, err := s.UserByID(ctx, "u2")
			require.NoError(t, err)
			assert.Equal(t, other, stored, "another user is untouched")
			_, err = s.SetUserDisabled(ctx, "u404", true, base)
			assert.ErrorIs(t, err, actors.ErrNotFound)
			_, err = s.UserByID(ctx, "u404")
			assert.ErrorIs(t, err, actors.ErrNotFound, "disabling an unknown user creates nothing")
		}},
		{name: "set password replaces the hash and bumps the token version", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			u := user("u1", "ana@example.com", actors.RoleAgent, base)
			require.NoError(t, s.CreateUser(ctx, u))
			at := base.Add(time.Hour)
			got, err := s.SetUserPassword(ctx, "u1", "$argon2id$new", at)
			require.NoError(t, err)
			want := u
			want.PasswordHash, want.TokenVersion, want.UpdatedAt = "$argon2id$new", 1, at
			assert.Equal(t, want, got)
			got, err = s.SetUserPassword(ctx, "u1", "$argon2id$newer", at.Add(time.Minute))
			require.NoError(t, err)
			assert.Equal(t, int64(2), got.TokenVersion, "every change bumps")
			stored, err := s.UserByEmail(ctx, "ana@example.com")
			require.NoError(t, err)
			assert.Equal(t, got, stored)
			_, err = s.SetUserPassword(ctx, "u404", "$argon2id$x", base)
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "a family keeps the token version it was opened under", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			f := family("f1", "u1", "h1")
			f.TokenVersion = 3
			require.NoError(t, s.CreateFamily(ctx, f))
			assert.Equal(t, f, mustFamily(t, ctx, s, "f1"))
			require.NoError(t, s.RotateFamily(ctx, "f1", "h1", "h2", base.Add(time.Hour), base.Add(time.Minute)))
			assert.Equal(t, int64(3), mustFamily(t, ctx, s, "f1").TokenVersion, "a rotation keeps the version")
		}},
	})
}
