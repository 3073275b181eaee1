package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func user(id, email string, role actors.Role, created time.Time) actors.User {
	return actors.User{
		ID:            id,
		Email:         email,
		EmailSkeleton: email,
		Name:          "Name of " + id,
		Role:          role,
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		CreatedAt:     created,
		UpdatedAt:     created,
	}
}

func runUsers(t *testing.T, open func(t *testing.T) actors.Store) {
	runCases(t, open, []storeCase{
		{name: "create then read by id and email", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			u := user("u1", "ana@example.com", actors.RoleAgent, base)
			u.UpdatedAt = base.Add(time.Second)
			require.NoError(t, s.CreateUser(ctx, u))

			got, err := s.UserByID(ctx, "u1")
			require.NoError(t, err)
			assert.Equal(t, u, got)

			got, err = s.UserByEmail(ctx, "ana@example.com")
			require.NoError(t, err)
			assert.Equal(t, u, got)
		}},
		{name: "duplicate id is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			orig := user("u1", "ana@example.com", actors.RoleAgent, base)
			require.NoError(t, s.CreateUser(ctx, orig))
			err := s.CreateUser(ctx, user("u1", "other@example.com", actors.RoleAdmin, base))
			require.ErrorIs(t, err, actors.ErrDuplicate)

			got, err := s.UserByID(ctx, "u1")
			require.NoError(t, err)
			assert.Equal(t, orig, got, "a rejected duplicate must not change the stored user")
			_, err = s.UserByEmail(ctx, "other@example.com")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "duplicate email is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.CreateUser(ctx, user("u1", "ana@example.com", actors.RoleAgent, base)))
			err := s.CreateUser(ctx, user("u2", "ana@example.com", actors.RoleAgent, base))
			require.ErrorIs(t, err, actors.ErrDuplicate)
			_, err = s.UserByID(ctx, "u2")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "unknown id and email are ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.CreateUser(ctx, user("u1", "ana@example.com", actors.RoleAgent, base)))
			_, err := s.UserByID(ctx, "u404")
			assert.ErrorIs(t, err, actors.ErrNotFound)
			_, err = s.UserByEmail(ctx, "nobody@example.com")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "email skeleton is unique and looked up", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			// A look-alike: Cyrillic "а" (U+0430) for the Latin "a", same skeleton.
			orig := user("u1", "ana@example.com", actors.RoleAgent, base)
			require.NoError(t, s.CreateUser(ctx, orig))
			lookalike := user("u2", "\u0430na@example.com", actors.RoleAgent, base)
			lookalike.EmailSkeleton = "ana@example.com"
			require.ErrorIs(t, s.CreateUser(ctx, lookalike), actors.ErrDuplicate)
			_, err := s.UserByID(ctx, "u2")
			assert.ErrorIs(t, err, actors.ErrNotFound, "a refused look-alike is not stored")

			got, err := s.UserByEmailSkeleton(ctx, "ana@example.com")
			require.NoError(t, err)
			assert.Equal(t, orig, got)
			_, err = s.UserByEmailSkeleton(ctx, "nobody@example.com")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "empty email skeleton is stored as the email", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			u := user("u1", "ana@example.com", actors.RoleAgent, base)
			u.EmailSkeleton = ""
			require.NoError(t, s.CreateUser(ctx, u))
			got, err := s.UserByEmailSkeleton(ctx, "ana@example.com")
			require.NoError(t, err)
			assert.Equal(t, "u1", got.ID)
			assert.Equal(t, "ana@example.com", got.EmailSkeleton)
			other := user("u2", "bia@example.com", actors.RoleAgent, base)
			other.EmailSkeleton = ""
			require.NoError(t, s.CreateUser(ctx, other), "two users without a skeleton do not collide")
		}},
		{name: "set email skeleton", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.CreateUser(ctx, user("u1", "ana@example.com", actors.RoleAgent, base)))
			require.NoError(t, s.CreateUser(ctx, user("u2", "bia@example.com", actors.RoleAgent, base)))

			require.NoError(t, s.SetUserEmailSkeleton(ctx, "u1", "ana-skeleton"))
			got, err := s.UserByEmailSkeleton(ctx, "ana-skeleton")
			require.NoError(t, err)
			assert.Equal(t, "u1", got.ID)
			_, err = s.UserByEmailSkeleton(ctx, "ana@example.com")
			assert.ErrorIs(t, err, actors.ErrNotFound, "the old skeleton is gone")
			require.NoError(t, s.SetUserEmailSkeleton(ctx, "u1", "ana-skeleton"), "setting the same skeleton again is fine")

			require.ErrorIs(t, s.SetUserEmailSkeleton(ctx, "u2", "ana-skeleton"), actors.ErrDuplicate)
			got, err = s.UserByID(ctx, "u2")
			require.NoError(t, err)
			assert.Equal(t, "bia@example.com", got.EmailSkeleton, "a refused skeleton changes nothing")

			assert.ErrorIs(t, s.SetUserEmailSkeleton(ctx, "u404", "x"), actors.ErrNotFound)
		}},
		{name: "set role changes role, token version and updated time only", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			u := user("u1", "ana@example.com", actors.RoleAgent, base)
			require.NoError(t, s.CreateUser(ctx, u))
			at := base.Add(time.Hour)

			got, err := s.SetUserRole(ctx, "u1", actors.RoleSupervisor, at)
			require.NoError(t, err)
			want := u
			want.Role = actors.RoleSupervisor
			want.UpdatedAt = at
			want.TokenVersion = 1
			assert.Equal(t, want, got, "SetUserRole returns the stored user")

			stored, err := s.UserByID(ctx, "u1")
			require.NoError(t, err)
			assert.Equal(t, want, stored)

			// The same role again is no change: the version stays.
			got, err = s.SetUserRole(ctx, "u1", actors.RoleSupervisor, at.Add(time.Minute))
			require.NoError(t, err)
			want.UpdatedAt = at.Add(time.Minute)
			assert.Equal(t, want, got, "setting the role it has keeps the token version")
		}},
		{name: "set role of unknown user is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			_, err := s.SetUserRole(ctx, "u404", actors.RoleAdmin, base)
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "phone is stored with the user, set, changed and cleared", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			u := user("u1", "ana@example.com", actors.RoleAgent, base)
			u.Phone = "+919876543210"
			require.NoError(t, s.CreateUser(ctx, u))
			got, err := s.UserByID(ctx, "u1")
			require.NoError(t, err)
			assert.Equal(t, u, got, "a phone given at creation is stored")

			other := user("u2", "bia@example.com", actors.RoleAgent, base)
			require.NoError(t, s.CreateUser(ctx, other))
			tests := []struct {
				name  string
				phone string
				at    time.Time
			}{
				{name: "set", phone: "+14155550123", at: base.Add(time.Minute)},
				{name: "changed", phone: "+447700900123", at: base.Add(2 * time.Minute)},
				{name: "cleared", phone: "", at: base.Add(3 * time.Minute)},
				{name: "set again after clearing", phone: "+4915110000001", at: base.Add(4 * time.Minute)},
			}
			for _, tt := range tests {
				got, err := s.SetUserPhone(ctx, "u2", tt.phone, tt.at)
				require.NoError(t, err, tt.name)
				want := other
				want.Phone, want.UpdatedAt = tt.phone, tt.at
				assert.Equal(t, want, got, "%s: SetUserPhone returns the stored user", tt.name)
				stored, err := s.UserByID(ctx, "u2")
				require.NoError(t, err)
				assert.Equal(t, want, stored, tt.name)
				listed, err := s.ListUsers(ctx, actors.RoleAgent)
				require.NoError(t, err)
				require.Len(t, listed, 2)
				assert.Equal(t, tt.phone, listed[1].Phone, "%s: listed users carry the phone", tt.name)
			}
			stored, err := s.UserByID(ctx, "u1")
			require.NoError(t, err)
			assert.Equal(t, u, stored, "another user's phone is untouched")

			_, err = s.SetUserPhone(ctx, "u404", "+919876543210", base)
			assert.ErrorIs(t, err, actors.ErrNotFound)
			_, err = s.UserByID(ctx, "u404")
			assert.ErrorIs(t, err, actors.ErrNotFound, "setting an unknown user's phone creates nothing")
		}},
		{name: "list users ordered by created time then id, filtered by role", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			// Inserted out of order; u2 and u3 share a creation time.
			users := []actors.User{
				user("u4", "d@example.com", actors.RoleAgent, base.Add(3*time.Minute)),
				user("u3", "c@example.com", actors.RoleAgent, base.Add(time.Minute)),
				user("u1", "a@example.com", actors.RoleAdmin, base),
				user("u2", "b@example.com", actors.RoleSupervisor, base.Add(time.Minute)),
			}
			for _, u := range users {
				require.NoError(t, s.CreateUser(ctx, u))
			}
			tests := []struct {
				role    actors.Role
				wantIDs []string
			}{
				{role: "", wantIDs: []string{"u1", "u2", "u3", "u4"}},
				{role: actors.RoleAgent, wantIDs: []string{"u3", "u4"}},
				{role: actors.RoleAdmin, wantIDs: []string{"u1"}},
			}
			for _, tt := range tests {
				got, err := s.ListUsers(ctx, tt.role)
				require.NoError(t, err)
				assert.Equal(t, tt.wantIDs, userIDs(got), "role %q", tt.role)
			}
			got, err := s.ListUsers(ctx, "")
			require.NoError(t, err)
			require.Len(t, got, 4)
			assert.Equal(t, users[2], got[0], "listed users carry every field")

			// No user of a role: empty, not an error.
			require.NoError(t, s.CreateUser(ctx, user("u5", "e@example.com", actors.RoleAdmin, base)))
			_, err = s.SetUserRole(ctx, "u2", actors.RoleAgent, base.Add(time.Hour))
			require.NoError(t, err)
			got, err = s.ListUsers(ctx, actors.RoleSupervisor)
			require.NoError(t, err)
			assert.Empty(t, got)
		}},
		{name: "list a page of users with total, searched by name or email", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			// Inserted out of order; u2 and u3 share a creation time.
			users := []actors.User{
				user("u5", "eve@example.com", actors.RoleAgent, base.Add(4*time.Minute)),
				user("u3", "carla@shop.test", actors.RoleAgent, base.Add(time.Minute)),
				user("u1", "ana@example.com", actors.RoleAdmin, base),
				user("u4", "dan@example.com", actors.RoleSupervisor, base.Add(3*time.Minute)),
				user("u2", "bia@shop.test", actors.RoleAgent, base.Add(time.Minute)),
			}
			users[0].Name = "Eve 100% Sure"
			users[3].Name = "Dan_Smith"
			users[4].Disabled = true
			for _, u := range users {
				require.NoError(t, s.CreateUser(ctx, u))
			}
			tests := []struct {
				name      string
				f         actors.UserFilter
				wantIDs   []string
				wantTotal int
			}{
				{name: "all", f: actors.UserFilter{Page: 1, Limit: 10}, wantIDs: []string{"u1", "u2", "u3", "u4", "u5"}, wantTotal: 5},
				{name: "first page", f: actors.UserFilter{Page: 1, Limit: 2}, wantIDs: []string{"u1", "u2"}, wantTotal: 5},
				{name: "second page", f: actors.UserFilter{Page: 2, Limit: 2}, wantIDs: []string{"u3", "u4"}, wantTotal: 5},
				{name: "last page", f: actors.UserFilter{Page: 3, Limit: 2}, wantIDs: []string{"u5"}, wantTotal: 5},
				{name: "past the end", f: actors.UserFilter{Page: 9, Limit: 2}, wantIDs: []string{}, wantTotal: 5},
				{name: "email substring", f: actors.UserFilter{Search: "shop.test", Page: 1, Limit: 10}, wantIDs: []string{"u2", "u3"}, wantTotal: 2},
				{name: "name substring, other case", f: actors.UserFilter{Search: "name OF u1", Page: 1, Limit: 10}, wantIDs: []string{"u1"}, wantTotal: 1},
				{name: "email, other case", f: actors.UserFilter{Search: "DAN@", Page: 1, Limit: 10}, wantIDs: []string{"u4"}, wantTotal: 1},
				{name: "searched page", f: actors.UserFilter{Search: "example.com", Page: 2, Limit: 2}, wantIDs: []string{"u5"}, wantTotal: 3},
				{name: "percent is literal", f: actors.UserFilter{Search: "100%", Page: 1, Limit: 10}, wantIDs: []string{"u5"}, wantTotal: 1},
				{name: "underscore is literal", f: actors.UserFilter{Search: "n_s", Page: 1, Limit: 10}, wantIDs: []string{"u4"}, wantTotal: 1},
				{name: "regexp characters are literal", f: actors.UserFilter{Search: ".*", Page: 1, Limit: 10}, wantIDs: []string{}, wantTotal: 0},
				{name: "no match", f: actors.UserFilter{Search: "zzz", Page: 1, Limit: 10}, wantIDs: []string{}, wantTotal: 0},
			}
			for _, tt := range tests {
				got, total, err := s.ListUsersPage(ctx, tt.f)
				require.NoError(t, err, tt.name)
				assert.Equal(t, tt.wantIDs, userIDs(got), tt.name)
				assert.Equal(t, tt.wantTotal, total, tt.name)
			}
			got, _, err := s.ListUsersPage(ctx, actors.UserFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			require.Len(t, got, 5)
			assert.Equal(t, users[2], got[0], "listed users carry every field")
			assert.Equal(t, users[4], got[1], "listed users carry disabled")
		}},
	})
}

func userIDs(us []actors.User) []string { return idsOf(us, func(x actors.User) string { return x.ID }) }

// ------------------------------------------------------------- families
