package app_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/auth"
	"github.com/wacc/engine/persistence/storetest"
)

func TestCreateUser(t *testing.T) {
	cases := []struct {
		name string
		// existing are created first, as typed.
		existing []string
		email    string
		// wantErr is the error expected; nil means created.
		wantErr error
		// wantEmail is the stored address when created.
		wantEmail string
	}{
		{name: "new address", email: "Ana@Example.com", wantEmail: "ana@example.com"},
		{name: "same address", existing: []string{"ana@example.com"}, email: "ana@example.com", wantErr: app.ErrEmailTaken},
		{name: "same address in capitals", existing: []string{"ana@example.com"}, email: "ANA@EXAMPLE.COM", wantErr: app.ErrEmailTaken},
		{name: "fullwidth look-alike", existing: []string{"agent@example.com"}, email: "ａｇｅｎｔ@example.com", wantErr: app.ErrEmailTaken},
		{name: "one Cyrillic letter", existing: []string{"agent@example.com"}, email: "\u0430gent@example.com", wantErr: app.ErrEmailLookalike},
		{name: "Cyrillic letter in the domain", existing: []string{"agent@example.com"}, email: "agent@ex\u0430mple.com", wantErr: app.ErrEmailLookalike},
		{name: "all-Cyrillic look-alike", existing: []string{"ace@example.com"}, email: "\u0430\u0441\u0435@example.com", wantErr: app.ErrEmailLookalike},
		{name: "all-Cyrillic without a twin", existing: []string{"ace@example.com"}, email: "\u0438\u0432\u0430\u043d@example.com", wantEmail: "\u0438\u0432\u0430\u043d@example.com"},
		{name: "mixed script without a twin", email: "p\u0430ypal@example.com", wantErr: app.ErrMixedScript},
		{name: "invalid address", email: "not-an-address", wantErr: app.ErrInvalidEmail},
		{name: "invisible character", existing: []string{"agent@example.com"}, email: "age\u200bnt@example.com", wantErr: app.ErrInvalidEmail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			for _, e := range tc.existing {
				_, err := f.app.CreateUser(ctx, app.NewUser{Email: e, Password: "s3cret-pass", Name: "First", Role: actors.RoleAgent})
				require.NoError(t, err)
			}
			before, err := f.store.ListUsers(ctx, "")
			require.NoError(t, err)

			u, err := f.app.CreateUser(ctx, app.NewUser{Email: tc.email, Password: "s3cret-pass", Name: "Second", Role: actors.RoleAgent})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				after, err := f.store.ListUsers(ctx, "")
				require.NoError(t, err)
				assert.Equal(t, before, after, "a refused user changes nothing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantEmail, u.Email)
			assert.Equal(t, app.Skeleton(tc.wantEmail), u.EmailSkeleton)
			stored, err := f.store.UserByEmail(ctx, tc.wantEmail)
			require.NoError(t, err)
			assert.Equal(t, u, stored)
			ok, err := auth.VerifyPassword(stored.PasswordHash, "s3cret-pass")
			require.NoError(t, err)
			assert.True(t, ok)
		})
	}
}

func TestTakenAndLookalikeAreDuplicates(t *testing.T) {
	assert.ErrorIs(t, app.ErrEmailTaken, actors.ErrDuplicate)
	assert.ErrorIs(t, app.ErrEmailLookalike, actors.ErrDuplicate)
}

func TestConcurrentLookalikesOneWins(t *testing.T) {
	f := newFixture(t)
	emails := []string{"agent@example.com", "\u0430gent@example.com", "ag\u0435nt@example.com", "AGENT@example.com", "\u0430g\u0435nt@example.com", "agent@ex\u0430mple.com"}
	errs := make([]error, len(emails))
	storetest.Race(len(emails), func(i int) {
		_, errs[i] = f.app.CreateUser(context.Background(), app.NewUser{Email: emails[i], Password: "s3cret-pass", Name: "n", Role: actors.RoleAgent})
	})
	created := 0
	for i, err := range errs {
		if err == nil {
			created++
			continue
		}
		assert.True(t, errors.Is(err, actors.ErrDuplicate) || errors.Is(err, app.ErrMixedScript), "%s: %v", emails[i], err)
	}
	users, err := f.store.ListUsers(t.Context(), "")
	require.NoError(t, err)
	assert.Len(t, users, created)
	assert.LessOrEqual(t, created, 1, "at most one of the look-alikes is stored")
}

func TestReconcileSkeletons(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// Users as stored before skeletons: the email is the skeleton, even for
	// an all-Cyrillic look-alike of an ASCII address.
	old := []actors.User{
		{ID: "u1", Email: "\u0430\u0441\u0435@example.com", Role: actors.RoleAgent},
		{ID: "u2", Email: "ace@example.com", Role: actors.RoleAgent},
		{ID: "u3", Email: "\u0441\u043e\u0440@example.com", Role: actors.RoleAgent},
		{ID: "u4", Email: "plain@example.com", Role: actors.RoleAgent},
	}
	for _, u := range old {
		require.NoError(t, f.store.CreateUser(ctx, u))
	}
	n, err := f.app.ReconcileSkeletons(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "u3 gets its skeleton; u1 would collide with u2")

	u3, err := f.store.UserByEmailSkeleton(ctx, "cop@example.com")
	require.NoError(t, err)
	assert.Equal(t, "u3", u3.ID)
	_, err = f.app.CreateUser(ctx, app.NewUser{Email: "cop@example.com", Password: "s3cret-pass", Name: "n", Role: actors.RoleAgent})
	assert.ErrorIs(t, err, app.ErrEmailLookalike, "a reconciled skeleton guards its address")

	n, err = f.app.ReconcileSkeletons(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to change")
}

func TestUserByEmailNormalises(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u, err := f.app.CreateUser(ctx, app.NewUser{Email: "ana@example.com", Password: "s3cret-pass", Name: "n", Role: actors.RoleAgent})
	require.NoError(t, err)
	got, err := f.app.UserByEmail(ctx, " ＡＮＡ@Example.com ")
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.ID)
	_, err = f.app.UserByEmail(ctx, "\u0430na@example.com")
	assert.ErrorIs(t, err, actors.ErrNotFound, "a look-alike finds nobody")
	_, err = f.app.UserByEmail(ctx, "not an address")
	assert.ErrorIs(t, err, actors.ErrNotFound)
}
