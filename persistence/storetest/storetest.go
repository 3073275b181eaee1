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

// base is the suite's reference instant: UTC, millisecond precision.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// Run runs the whole contract suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) actors.Store) {
	t.Run("users", func(t *testing.T) { runUsers(t, open) })
	t.Run("families", func(t *testing.T) { runFamilies(t, open) })
	t.Run("customers", func(t *testing.T) { runCustomers(t, open) })
	t.Run("customer_list", func(t *testing.T) { runCustomerList(t, open) })
	t.Run("audit", func(t *testing.T) { runAudit(t, open) })
	t.Run("lifecycle", func(t *testing.T) { runLifecycle(t, open) })
}

// caseOf is one behaviour checked against a fresh store of type S.
type caseOf[S any] struct {
	// name names the behaviour.
	name string
	// check exercises s, which is empty when check starts.
	check func(t *testing.T, ctx context.Context, s S)
}

// storeCase is a case of the foundation suite.
type storeCase = caseOf[actors.Store]

// runCases runs each case against its own fresh store from open.
func runCases[S any](t *testing.T, open func(t *testing.T) S, cases []caseOf[S]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			require.NotNil(t, s, "open returned a nil store")
			tc.check(t, t.Context(), s)
		})
	}
}

// ---------------------------------------------------------------- users

func user(id, email string, role actors.Role, created time.Time) actors.User {
	return actors.User{
		ID:           id,
		Email:        email,
		Name:         "Name of " + id,
		Role:         role,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		CreatedAt:    created,
		UpdatedAt:    created,
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
		{name: "set role changes role and updated time only", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			u := user("u1", "ana@example.com", actors.RoleAgent, base)
			require.NoError(t, s.CreateUser(ctx, u))
			at := base.Add(time.Hour)

			got, err := s.SetUserRole(ctx, "u1", actors.RoleSupervisor, at)
			require.NoError(t, err)
			want := u
			want.Role = actors.RoleSupervisor
			want.UpdatedAt = at
			assert.Equal(t, want, got, "SetUserRole returns the stored user")

			stored, err := s.UserByID(ctx, "u1")
			require.NoError(t, err)
			assert.Equal(t, want, stored)
		}},
		{name: "set role of unknown user is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			_, err := s.SetUserRole(ctx, "u404", actors.RoleAdmin, base)
			assert.ErrorIs(t, err, actors.ErrNotFound)
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
	})
}

func userIDs(us []actors.User) []string { return idsOf(us, func(x actors.User) string { return x.ID }) }

// ------------------------------------------------------------- families

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
			winner := OneWinner(t, errs, actors.ErrConflict)
			got := mustFamily(t, ctx, s, "f1")
			assert.Equal(t, fmt.Sprintf("h1-%02d", winner), got.TokenHash)
			assert.Equal(t, int64(2), got.Generation)
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

func customer(id, name, phone, email string, created time.Time, tags ...string) actors.Customer {
	return actors.Customer{
		ID:         id,
		Name:       name,
		Phone:      phone,
		WaID:       phone[1:],
		Email:      email,
		Tags:       tags,
		Attributes: map[string]string{"source": "test"},
		Version:    1,
		CreatedAt:  created,
		UpdatedAt:  created,
	}
}

// normCustomer makes nil and empty Tags and Attributes compare equal.
func normCustomer(c actors.Customer) actors.Customer {
	if len(c.Tags) == 0 {
		c.Tags = nil
	}
	if len(c.Attributes) == 0 {
		c.Attributes = nil
	}
	return c
}

func assertCustomer(t *testing.T, want, got actors.Customer, msgAndArgs ...any) {
	t.Helper()
	assert.Equal(t, normCustomer(want), normCustomer(got), msgAndArgs...)
}

func mustCustomer(t *testing.T, ctx context.Context, s actors.Store, id string) actors.Customer {
	t.Helper()
	c, err := s.Customer(ctx, id)
	require.NoError(t, err, "customer %s", id)
	return c
}

func listIDs(t *testing.T, ctx context.Context, s actors.Store, f actors.CustomerFilter) ([]string, int) {
	t.Helper()
	cs, total, err := s.ListCustomers(ctx, f)
	require.NoError(t, err, "list customers %+v", f)
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids, total
}

func runCustomers(t *testing.T, open func(t *testing.T) actors.Store) {
	runCases(t, open, []storeCase{
		{name: "create then read by id and phone", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			c := customer("c1", "Ana Lima", "+5511999990001", "ana@example.com", base, "vip", "b2b")
			c.Attributes = map[string]string{"plan": "gold", "city": "São Paulo"}
			c.UpdatedAt = base.Add(time.Second)
			require.NoError(t, s.CreateCustomer(ctx, c))
			assertCustomer(t, c, mustCustomer(t, ctx, s, "c1"))

			got, err := s.CustomerByPhone(ctx, "+5511999990001")
			require.NoError(t, err)
			assertCustomer(t, c, got)
		}},
		{name: "duplicate id is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			c := customer("c1", "Ana", "+5511999990001", "", base)
			require.NoError(t, s.CreateCustomer(ctx, c))
			err := s.CreateCustomer(ctx, customer("c1", "Bia", "+5511999990002", "", base))
			require.ErrorIs(t, err, actors.ErrDuplicate)
			assertCustomer(t, c, mustCustomer(t, ctx, s, "c1"))
			_, err = s.CustomerByPhone(ctx, "+5511999990002")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "duplicate phone is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.CreateCustomer(ctx, customer("c1", "Ana", "+5511999990001", "", base, "vip")))
			err := s.CreateCustomer(ctx, customer("c2", "Bia", "+5511999990001", "", base, "vip"))
			require.ErrorIs(t, err, actors.ErrDuplicate)
			_, err = s.Customer(ctx, "c2")
			assert.ErrorIs(t, err, actors.ErrNotFound)
			ids, total := listIDs(t, ctx, s, actors.CustomerFilter{Tag: "vip", Page: 1, Limit: 10})
			assert.Equal(t, []string{"c1"}, ids, "a rejected customer leaves no tags behind")
			assert.Equal(t, 1, total)
		}},
		{name: "unknown id and phone are ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.CreateCustomer(ctx, customer("c1", "Ana", "+5511999990001", "", base)))
			_, err := s.Customer(ctx, "c404")
			assert.ErrorIs(t, err, actors.ErrNotFound)
			_, err = s.CustomerByPhone(ctx, "+5511999990404")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "update with current version replaces fields and bumps version", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			orig := customer("c1", "Ana", "+5511999990001", "ana@example.com", base, "vip")
			require.NoError(t, s.CreateCustomer(ctx, orig))

			upd := orig
			upd.Name = "Ana Maria"
			upd.Phone, upd.WaID = "+5511999990009", "5511999990009"
			upd.Email = "ana.maria@example.com"
			upd.Tags = []string{"b2b", "churn-risk"}
			upd.Attributes = map[string]string{"plan": "silver"}
			upd.UpdatedAt = base.Add(time.Hour)
			upd.CreatedAt = base.Add(999 * time.Hour) // must be ignored

			got, err := s.UpdateCustomer(ctx, upd)
			require.NoError(t, err)
			want := upd
			want.Version = orig.Version + 1
			want.CreatedAt = orig.CreatedAt
			assertCustomer(t, want, got, "UpdateCustomer returns the stored record")
			assertCustomer(t, want, mustCustomer(t, ctx, s, "c1"))

			byPhone, err := s.CustomerByPhone(ctx, "+5511999990009")
			require.NoError(t, err)
			assert.Equal(t, "c1", byPhone.ID)
			_, err = s.CustomerByPhone(ctx, "+5511999990001")
			assert.ErrorIs(t, err, actors.ErrNotFound, "the old phone is released")

			ids, _ := listIDs(t, ctx, s, actors.CustomerFilter{Tag: "vip", Page: 1, Limit: 10})
			assert.Empty(t, ids, "the removed tag no longer matches")
			ids, _ = listIDs(t, ctx, s, actors.CustomerFilter{Tag: "churn-risk", Page: 1, Limit: 10})
			assert.Equal(t, []string{"c1"}, ids, "the added tag matches")
			ids, _ = listIDs(t, ctx, s, actors.CustomerFilter{Search: "maria", Page: 1, Limit: 10})
			assert.Equal(t, []string{"c1"}, ids, "search sees the new name")
			ids, _ = listIDs(t, ctx, s, actors.CustomerFilter{Search: "ana@ex", Page: 1, Limit: 10})
			assert.Empty(t, ids, "search no longer sees the old email")

			// The returned record is the next expected version.
			got.Name = "Ana M."
			got2, err := s.UpdateCustomer(ctx, got)
			require.NoError(t, err)
			assert.Equal(t, orig.Version+2, got2.Version)
		}},
		{name: "update with stale version is ErrConflict and changes nothing", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			orig := customer("c1", "Ana", "+5511999990001", "", base)
			require.NoError(t, s.CreateCustomer(ctx, orig))
			first := orig
			first.Name = "Ana 1"
			_, err := s.UpdateCustomer(ctx, first)
			require.NoError(t, err)
			stored := mustCustomer(t, ctx, s, "c1")

			stale := orig
			stale.Name = "Ana stale"
			_, err = s.UpdateCustomer(ctx, stale)
			require.ErrorIs(t, err, actors.ErrConflict)
			ahead := orig
			ahead.Version = 7
			_, err = s.UpdateCustomer(ctx, ahead)
			require.ErrorIs(t, err, actors.ErrConflict)
			assertCustomer(t, stored, mustCustomer(t, ctx, s, "c1"))
		}},
		{name: "update to another customer's phone is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			a := customer("c1", "Ana", "+5511999990001", "", base, "vip")
			b := customer("c2", "Bia", "+5511999990002", "", base)
			require.NoError(t, s.CreateCustomer(ctx, a))
			require.NoError(t, s.CreateCustomer(ctx, b))
			upd := a
			upd.Phone, upd.Tags = b.Phone, []string{"other"}
			_, err := s.UpdateCustomer(ctx, upd)
			require.ErrorIs(t, err, actors.ErrDuplicate)
			assertCustomer(t, a, mustCustomer(t, ctx, s, "c1"))
			ids, _ := listIDs(t, ctx, s, actors.CustomerFilter{Tag: "vip", Page: 1, Limit: 10})
			assert.Equal(t, []string{"c1"}, ids, "a failed update keeps the tags")
		}},
		{name: "update of unknown customer is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			_, err := s.UpdateCustomer(ctx, customer("c404", "Nobody", "+5511999990404", "", base))
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "delete removes customer, phone and tags", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.CreateCustomer(ctx, customer("c1", "Ana", "+5511999990001", "ana@example.com", base, "vip")))
			require.NoError(t, s.CreateCustomer(ctx, customer("c2", "Bia", "+5511999990002", "", base, "vip")))
			require.NoError(t, s.DeleteCustomer(ctx, "c1"))

			_, err := s.Customer(ctx, "c1")
			assert.ErrorIs(t, err, actors.ErrNotFound)
			_, err = s.CustomerByPhone(ctx, "+5511999990001")
			assert.ErrorIs(t, err, actors.ErrNotFound)
			ids, total := listIDs(t, ctx, s, actors.CustomerFilter{Tag: "vip", Page: 1, Limit: 10})
			assert.Equal(t, []string{"c2"}, ids)
			assert.Equal(t, 1, total)
			ids, _ = listIDs(t, ctx, s, actors.CustomerFilter{Search: "ana", Page: 1, Limit: 10})
			assert.Empty(t, ids, "search no longer finds a deleted customer")

			assert.ErrorIs(t, s.DeleteCustomer(ctx, "c1"), actors.ErrNotFound, "deleting twice")
			require.NoError(t, s.CreateCustomer(ctx, customer("c3", "Ana again", "+5511999990001", "", base)),
				"a deleted customer's phone can be reused")
		}},
		{name: "delete of unknown customer is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			assert.ErrorIs(t, s.DeleteCustomer(ctx, "c404"), actors.ErrNotFound)
		}},
		{name: "tags and attributes round trip", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			tests := []struct {
				id    string
				tags  []string
				attrs map[string]string
			}{
				{id: "nil", tags: nil, attrs: nil},
				{id: "empty", tags: []string{}, attrs: map[string]string{}},
				{id: "order", tags: []string{"zeta", "alpha", "mid", "VIP"}, attrs: map[string]string{
					"plan": "gold", "empty": "", "unicode ключ": "值 ✓", "dots.and$dollars": `quote " back\slash`,
				}},
			}
			for i, tt := range tests {
				c := customer("c-"+tt.id, "Tagged "+tt.id, fmt.Sprintf("+551199999%04d", i), "", base)
				c.Tags, c.Attributes = tt.tags, tt.attrs
				require.NoError(t, s.CreateCustomer(ctx, c), tt.id)
				got := mustCustomer(t, ctx, s, c.ID)
				assert.Len(t, got.Tags, len(tt.tags), tt.id)
				assert.Len(t, got.Attributes, len(tt.attrs), tt.id)
				assertCustomer(t, c, got, tt.id)

				// Clearing tags and attributes on update round trips as well.
				c.Tags, c.Attributes = nil, nil
				upd, err := s.UpdateCustomer(ctx, c)
				require.NoError(t, err, tt.id)
				assert.Empty(t, upd.Tags, tt.id)
				assert.Empty(t, upd.Attributes, tt.id)
				got = mustCustomer(t, ctx, s, c.ID)
				assert.Empty(t, got.Tags, tt.id)
				assert.Empty(t, got.Attributes, tt.id)
			}
		}},
		{name: "times come back in UTC at millisecond precision", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			zone := time.FixedZone("BRT", -3*60*60)
			created := time.Date(2024, 12, 31, 21, 59, 59, 123_000_000, zone)
			updated := time.Date(2025, 1, 2, 3, 4, 5, 678_987_654, zone) // sub-millisecond part is dropped
			c := customer("c1", "Ana", "+5511999990001", "", created)
			c.UpdatedAt = updated
			require.NoError(t, s.CreateCustomer(ctx, c))

			got := mustCustomer(t, ctx, s, "c1")
			assert.Equal(t, time.UTC, got.CreatedAt.Location())
			assert.Equal(t, time.UTC, got.UpdatedAt.Location())
			assert.Equal(t, created.UTC(), got.CreatedAt)
			assert.Equal(t, updated.UTC().Truncate(time.Millisecond), got.UpdatedAt)
		}},
	})
}

// customerListSeed is the fixed data set the read-only list tables run on.
// Newest first it is c5, c4 (same CreatedAt as c5, smaller id), c3, c2, c1.
func customerListSeed() []actors.Customer {
	m := time.Minute
	return []actors.Customer{
		customer("c1", "Alice Smith", "+4915110000001", "alice@example.com", base.Add(1*m), "vip"),
		customer("c2", "Bob Jones", "+4915110000002", "bob.jones@example.org", base.Add(2*m), "b2b", "vip-gold"),
		customer("c3", `Carol "CJ" 100% Legit_Co (Intl).*`, "+4915110000003", "carol@legit.example", base.Add(3*m), "VIP"),
		customer("c4", "Dave O'Brien", "+4915110000004", "", base.Add(4*m)),
		customer("c5", "Eve Alison", "+4915110000005", "eve.alison@example.net", base.Add(4*m), "vip", "b2b"),
	}
}

func runCustomerList(t *testing.T, open func(t *testing.T) actors.Store) {
	s := open(t)
	ctx := t.Context()
	seed := customerListSeed()
	// Insert in an order unrelated to the expected listing order.
	for _, i := range []int{2, 4, 0, 3, 1} {
		require.NoError(t, s.CreateCustomer(ctx, seed[i]))
	}

	t.Run("records carry every field", func(t *testing.T) {
		cs, total, err := s.ListCustomers(ctx, actors.CustomerFilter{Page: 1, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		require.Len(t, cs, 5)
		for i, c := range cs {
			assertCustomer(t, seed[4-i], c)
		}
	})

	t.Run("pages", func(t *testing.T) {
		tests := []struct {
			name      string
			filter    actors.CustomerFilter
			wantIDs   []string
			wantTotal int
		}{
			{name: "first page", filter: actors.CustomerFilter{Page: 1, Limit: 2}, wantIDs: []string{"c5", "c4"}, wantTotal: 5},
			{name: "second page", filter: actors.CustomerFilter{Page: 2, Limit: 2}, wantIDs: []string{"c3", "c2"}, wantTotal: 5},
			{name: "last partial page", filter: actors.CustomerFilter{Page: 3, Limit: 2}, wantIDs: []string{"c1"}, wantTotal: 5},
			{name: "past the end", filter: actors.CustomerFilter{Page: 4, Limit: 2}, wantIDs: []string{}, wantTotal: 5},
			{name: "one page holds all", filter: actors.CustomerFilter{Page: 1, Limit: 50}, wantIDs: []string{"c5", "c4", "c3", "c2", "c1"}, wantTotal: 5},
			{name: "search with pages", filter: actors.CustomerFilter{Search: "00000", Page: 2, Limit: 3}, wantIDs: []string{"c2", "c1"}, wantTotal: 5},
			{name: "tag with pages", filter: actors.CustomerFilter{Tag: "vip", Page: 2, Limit: 1}, wantIDs: []string{"c1"}, wantTotal: 2},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ids, total := listIDs(t, ctx, s, tt.filter)
				assert.Equal(t, tt.wantIDs, ids)
				assert.Equal(t, tt.wantTotal, total)
			})
		}
	})

	t.Run("search and tag", func(t *testing.T) {
		tests := []struct {
			name    string
			search  string
			tag     string
			wantIDs []string // newest first; the total must equal len(wantIDs)
		}{
			{name: "no filter", wantIDs: []string{"c5", "c4", "c3", "c2", "c1"}},
			{name: "name, other case", search: "ALICE", wantIDs: []string{"c1"}},
			{name: "name prefix of two words", search: "ali", wantIDs: []string{"c5", "c1"}},
			{name: "across a space", search: "e sm", wantIDs: []string{"c1"}},
			{name: "two characters", search: "Li", wantIDs: []string{"c5", "c1"}},
			{name: "one character", search: "v", wantIDs: []string{"c5", "c4"}},
			{name: "one character digit", search: "3", wantIDs: []string{"c3"}},
			{name: "phone substring", search: "10000003", wantIDs: []string{"c3"}},
			{name: "phone plus sign", search: "+49", wantIDs: []string{"c5", "c4", "c3", "c2", "c1"}},
			{name: "email, other case", search: "EXAMPLE.ORG", wantIDs: []string{"c2"}},
			{name: "email at sign", search: "@", wantIDs: []string{"c5", "c3", "c2", "c1"}},
			{name: "no match", search: "zzz", wantIDs: []string{}},
			{name: "percent literal", search: "%", wantIDs: []string{"c3"}},
			{name: "percent in longer string", search: "0% l", wantIDs: []string{"c3"}},
			{name: "percent is not a wildcard", search: "a%e", wantIDs: []string{}},
			{name: "underscore literal", search: "_", wantIDs: []string{"c3"}},
			{name: "underscore is not a wildcard", search: "A_ice", wantIDs: []string{}},
			{name: "backslash literal", search: `\`, wantIDs: []string{}},
			{name: "escaped percent is literal", search: `\%`, wantIDs: []string{}},
			{name: "regex any", search: ".*", wantIDs: []string{"c3"}},
			{name: "regex dot is literal", search: "b.b", wantIDs: []string{}},
			{name: "regex star", search: "*", wantIDs: []string{"c3"}},
			{name: "regex caret", search: "^", wantIDs: []string{}},
			{name: "regex alternation", search: "alice|bob", wantIDs: []string{}},
			{name: "open paren", search: "(", wantIDs: []string{"c3"}},
			{name: "parenthesised word", search: "(intl)", wantIDs: []string{"c3"}},
			{name: "double quotes", search: `"cj"`, wantIDs: []string{"c3"}},
			{name: "quote injection", search: `" OR "`, wantIDs: []string{}},
			{name: "single quote", search: "o'b", wantIDs: []string{"c4"}},
			{name: "boolean word", search: "Smith OR Jones", wantIDs: []string{}},
			{name: "tag only", tag: "vip", wantIDs: []string{"c5", "c1"}},
			{name: "tag is exact, not prefix or case-folded", tag: "VIP", wantIDs: []string{"c3"}},
			{name: "second tag", tag: "b2b", wantIDs: []string{"c5", "c2"}},
			{name: "unknown tag", tag: "nope", wantIDs: []string{}},
			{name: "search and tag", search: "ali", tag: "vip", wantIDs: []string{"c5", "c1"}},
			{name: "search and tag short", search: "b", tag: "b2b", wantIDs: []string{"c2"}},
			{name: "search and tag disjoint", search: "alice", tag: "b2b", wantIDs: []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ids, total := listIDs(t, ctx, s, actors.CustomerFilter{Search: tt.search, Tag: tt.tag, Page: 1, Limit: 50})
				assert.Equal(t, tt.wantIDs, ids, "search %q tag %q", tt.search, tt.tag)
				assert.Equal(t, len(tt.wantIDs), total, "total for search %q tag %q", tt.search, tt.tag)
			})
		}
	})
}

// ---------------------------------------------------------------- audit

func audit(id, actorID, action string, at time.Time) actors.AuditRecord {
	return actors.AuditRecord{
		ID:        id,
		ActorID:   actorID,
		Action:    action,
		Resource:  "customer/" + id,
		Outcome:   actors.OutcomeSuccess,
		IP:        "203.0.113.7",
		UserAgent: "storetest/1.0",
		RequestID: "req-" + id,
		Detail:    "detail of " + id,
		At:        at,
	}
}

// auditSeed is newest first a5, a4 (same At as a5, smaller id), a3, a2, a1.
func auditSeed() []actors.AuditRecord {
	s := time.Second
	return []actors.AuditRecord{
		audit("a1", "u1", "login", base),
		audit("a2", "u1", "customer.update", base.Add(1*s)),
		audit("a3", "u2", "login", base.Add(2*s)),
		audit("a4", "u2", "customer.delete", base.Add(3*s)),
		audit("a5", "u1", "login", base.Add(3*s)),
	}
}

func auditIDs(recs []actors.AuditRecord) []string {
	return idsOf(recs, func(x actors.AuditRecord) string { return x.ID })
}

func runAudit(t *testing.T, open func(t *testing.T) actors.Store) {
	runCases(t, open, []storeCase{
		{name: "append batch then list newest first", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			seed := auditSeed()
			require.NoError(t, s.AppendAudit(ctx, seed))
			got, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Equal(t, 5, total)
			assert.Equal(t, []actors.AuditRecord{seed[4], seed[3], seed[2], seed[1], seed[0]}, got)
		}},
		{name: "appending stored ids again stores them once and keeps the first", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			seed := auditSeed()
			require.NoError(t, s.AppendAudit(ctx, seed[:3]))

			changed := seed[1]
			changed.Detail = "retried with other detail"
			retry := []actors.AuditRecord{changed, seed[2], seed[3], seed[4]}
			require.NoError(t, s.AppendAudit(ctx, retry), "a retried batch with new records")
			want := []actors.AuditRecord{seed[4], seed[3], seed[2], seed[1], seed[0]}
			got, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Equal(t, 5, total)
			assert.Equal(t, want, got, "the stored a2 keeps its first detail")

			again := append([]actors.AuditRecord(nil), seed...)
			for i := range again {
				again[i].Detail = "third attempt"
			}
			require.NoError(t, s.AppendAudit(ctx, again), "the whole batch again")
			got, total, err = s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Equal(t, 5, total)
			assert.Equal(t, want, got)
		}},
		{name: "duplicate ids inside one batch store once", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			r := audit("a1", "u1", "login", base)
			require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{r, r}))
			_, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Equal(t, 1, total)
		}},
		{name: "empty batch and empty log", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.AppendAudit(ctx, nil))
			got, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Empty(t, got)
			assert.Equal(t, 0, total)
		}},
		{name: "times come back in UTC at millisecond precision", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			at := time.Date(2025, 6, 1, 23, 30, 0, 456_789_000, time.FixedZone("IST", 5*60*60+30*60))
			require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{audit("a1", "u1", "login", at)}))
			got, _, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, time.UTC, got[0].At.Location())
			assert.Equal(t, at.UTC().Truncate(time.Millisecond), got[0].At)
		}},
	})

	t.Run("filters and pages", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed := auditSeed()
		require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{seed[3], seed[0]}))
		require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{seed[4], seed[2], seed[1]}))

		sec := time.Second
		tests := []struct {
			name      string
			filter    actors.AuditFilter
			wantIDs   []string
			wantTotal int
		}{
			{name: "no filter", filter: actors.AuditFilter{Page: 1, Limit: 10}, wantIDs: []string{"a5", "a4", "a3", "a2", "a1"}, wantTotal: 5},
			{name: "actor", filter: actors.AuditFilter{ActorID: "u1", Page: 1, Limit: 10}, wantIDs: []string{"a5", "a2", "a1"}, wantTotal: 3},
			{name: "action", filter: actors.AuditFilter{Action: "login", Page: 1, Limit: 10}, wantIDs: []string{"a5", "a3", "a1"}, wantTotal: 3},
			{name: "actor and action", filter: actors.AuditFilter{ActorID: "u1", Action: "login", Page: 1, Limit: 10}, wantIDs: []string{"a5", "a1"}, wantTotal: 2},
			{name: "from is inclusive", filter: actors.AuditFilter{From: base.Add(2 * sec), Page: 1, Limit: 10}, wantIDs: []string{"a5", "a4", "a3"}, wantTotal: 3},
			{name: "to is exclusive", filter: actors.AuditFilter{To: base.Add(2 * sec), Page: 1, Limit: 10}, wantIDs: []string{"a2", "a1"}, wantTotal: 2},
			{name: "from and to", filter: actors.AuditFilter{From: base.Add(sec), To: base.Add(3 * sec), Page: 1, Limit: 10}, wantIDs: []string{"a3", "a2"}, wantTotal: 2},
			{name: "actor and time range", filter: actors.AuditFilter{ActorID: "u2", From: base.Add(3 * sec), Page: 1, Limit: 10}, wantIDs: []string{"a4"}, wantTotal: 1},
			{name: "from in another zone", filter: actors.AuditFilter{From: base.Add(3 * sec).In(time.FixedZone("X", 7200)), Page: 1, Limit: 10}, wantIDs: []string{"a5", "a4"}, wantTotal: 2},
			{name: "first page", filter: actors.AuditFilter{Page: 1, Limit: 2}, wantIDs: []string{"a5", "a4"}, wantTotal: 5},
			{name: "second page", filter: actors.AuditFilter{Page: 2, Limit: 2}, wantIDs: []string{"a3", "a2"}, wantTotal: 5},
			{name: "last partial page", filter: actors.AuditFilter{Page: 3, Limit: 2}, wantIDs: []string{"a1"}, wantTotal: 5},
			{name: "past the end", filter: actors.AuditFilter{Page: 9, Limit: 2}, wantIDs: []string{}, wantTotal: 5},
			{name: "filtered second page", filter: actors.AuditFilter{ActorID: "u1", Page: 2, Limit: 2}, wantIDs: []string{"a1"}, wantTotal: 3},
			{name: "unknown actor", filter: actors.AuditFilter{ActorID: "nobody", Page: 1, Limit: 10}, wantIDs: []string{}, wantTotal: 0},
			{name: "empty range", filter: actors.AuditFilter{From: base.Add(sec), To: base.Add(sec), Page: 1, Limit: 10}, wantIDs: []string{}, wantTotal: 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := s.ListAudit(ctx, tt.filter)
				require.NoError(t, err)
				assert.Equal(t, tt.wantIDs, auditIDs(got))
				assert.Equal(t, tt.wantTotal, total)
			})
		}
	})
}

// ------------------------------------------------------------ lifecycle

func runLifecycle(t *testing.T, open func(t *testing.T) actors.Store) {
	runCases(t, open, []storeCase{
		{name: "ping answers", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.Ping(ctx))
		}},
		{name: "close twice is safe", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.Ping(ctx))
			require.NoError(t, s.Close())
			require.NoError(t, s.Close())
		}},
	})
}

// idsOf is the id of each of xs, in order.
func idsOf[T any](xs []T, id func(T) string) []string {
	ids := make([]string, 0, len(xs))
	for _, x := range xs {
		ids = append(ids, id(x))
	}
	return ids
}
