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
