package sqlitestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/storetest"
)

// openAt opens the store at path and closes it when t ends.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	log := zap.NewNop() // benchmarks stay quiet
	if _, bench := t.(*testing.B); !bench {
		log = zaptest.NewLogger(t)
	}
	s, err := Open(context.Background(), path, log)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func openTemp(t testing.TB) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "engine.db"))
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) actors.Store { return openTemp(t) })
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engine.db")
	at := time.Date(2025, 5, 1, 12, 0, 0, 250_000_000, time.UTC)

	s, err := Open(ctx, path, zaptest.NewLogger(t))
	require.NoError(t, err)
	u := actors.User{ID: "u1", Email: "ana@example.com", EmailSkeleton: "ana@example.com", Name: "Ana", Role: actors.RoleAdmin, PasswordHash: "h", CreatedAt: at, UpdatedAt: at}
	f := actors.RefreshFamily{ID: "f1", UserID: "u1", TokenHash: "t1", Generation: 1, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(time.Hour)}
	c := actors.Customer{ID: "c1", Name: "Bia Souza", Phone: "+5511999990001", WaID: "5511999990001", Email: "bia@example.com",
		Tags: []string{"vip"}, Attributes: map[string]string{"plan": "gold"}, Version: 1, CreatedAt: at, UpdatedAt: at}
	a := actors.AuditRecord{ID: "a1", ActorID: "u1", Action: "login", Outcome: actors.OutcomeSuccess, At: at}
	require.NoError(t, s.CreateUser(ctx, u))
	require.NoError(t, s.CreateFamily(ctx, f))
	require.NoError(t, s.CreateCustomer(ctx, c))
	require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{a}))
	require.NoError(t, s.Close())

	s = openAt(t, path)
	gotU, err := s.UserByEmail(ctx, "ana@example.com")
	require.NoError(t, err)
	assert.Equal(t, u, gotU)
	gotF, err := s.Family(ctx, "f1")
	require.NoError(t, err)
	assert.Equal(t, f, gotF)
	gotC, err := s.CustomerByPhone(ctx, c.Phone)
	require.NoError(t, err)
	assert.Equal(t, c, gotC)
	ids := func(f actors.CustomerFilter) []string {
		cs, _, err := s.ListCustomers(ctx, f)
		require.NoError(t, err)
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	assert.Equal(t, []string{"c1"}, ids(actors.CustomerFilter{Search: "souza", Page: 1, Limit: 10}), "search index survives")
	assert.Equal(t, []string{"c1"}, ids(actors.CustomerFilter{Tag: "vip", Page: 1, Limit: 10}), "tag index survives")
	recs, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, 1, total)
	assert.Equal(t, []actors.AuditRecord{a}, recs)
}

func TestMigrationsIdempotentOnReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engine.db")
	embedded, err := loadMigrations(migrationFiles)
	require.NoError(t, err)
	require.NotEmpty(t, embedded)

	type row struct {
		Version   int
		Name      string
		AppliedAt int64
	}
	recorded := func(s *Store) []row {
		rows, err := s.r.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
		require.NoError(t, err)
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			require.NoError(t, rows.Scan(&r.Version, &r.Name, &r.AppliedAt))
			out = append(out, r)
		}
		require.NoError(t, rows.Err())
		return out
	}

	s, err := Open(ctx, path, zaptest.NewLogger(t))
	require.NoError(t, err)
	first := recorded(s)
	require.Len(t, first, len(embedded))
	for i, m := range embedded {
		assert.Equal(t, m.version, first[i].Version)
		assert.Equal(t, m.name, first[i].Name)
	}
	require.NoError(t, s.CreateUser(ctx, actors.User{ID: "u1", Email: "a@example.com", Role: actors.RoleAgent}))
	require.NoError(t, s.Close())

	for range 2 {
		s, err = Open(ctx, path, zaptest.NewLogger(t))
		require.NoError(t, err, "reopen must not re-run applied migrations")
		assert.Equal(t, first, recorded(s), "reopen records nothing new")
		_, err = s.UserByID(ctx, "u1")
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}

	// Applying again on the same connection finds nothing to do.
	s = openAt(t, path)
	applied, err := migrate(ctx, s.w)
	require.NoError(t, err)
	assert.Empty(t, applied)
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name        string
		files       fstest.MapFS
		wantNames   []string
		wantErrText string
	}{
		{
			name: "sorted by number, not by file order",
			files: fstest.MapFS{
				"migrations/0010_later.sql": {Data: []byte("SELECT 10")},
				"migrations/0002_next.sql":  {Data: []byte("SELECT 2")},
				"migrations/0001_init.sql":  {Data: []byte("SELECT 1")},
			},
			wantNames: []string{"0001_init", "0002_next", "0010_later"},
		},
		{
			name:        "name without number",
			files:       fstest.MapFS{"migrations/init.sql": {Data: []byte("SELECT 1")}},
			wantErrText: "must be NNNN_name.sql",
		},
		{
			name: "version used twice",
			files: fstest.MapFS{
				"migrations/0001_a.sql": {Data: []byte("SELECT 1")},
				"migrations/001_b.sql":  {Data: []byte("SELECT 1")},
			},
			wantErrText: "version 1 already used",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.files)
			if tt.wantErrText != "" {
				require.ErrorContains(t, err, tt.wantErrText)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, m := range ms {
				names = append(names, m.name)
			}
			assert.Equal(t, tt.wantNames, names)
		})
	}
}

func TestOpenRejectsNonFilePaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared"} {
		_, err := Open(t.Context(), path, zaptest.NewLogger(t))
		assert.Error(t, err, "path %q", path)
	}
}

func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%d")
	path := filepath.Join(dir, "engine.db")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	s := openAt(t, path)
	require.NoError(t, s.Ping(t.Context()))
	require.FileExists(t, path, "the file lands at the literal path")
}

// TestSearchMatchesReference checks, on random data, that both search paths
// (trigram index for three or more characters, escaped LIKE below) agree
// with a plain case-insensitive substring match.
func TestSearchMatchesReference(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdeABCDE %_.*()\\'\"-"
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []actors.Customer
	for i := range 120 {
		c := actors.Customer{
			ID: fmt.Sprintf("c%03d", i), Name: word(3 + rng.IntN(10)), Phone: fmt.Sprintf("+49151%08d", rng.IntN(1e8)),
			Email: word(rng.IntN(8)), Version: 1, CreatedAt: base.Add(time.Duration(i) * time.Second),
		}
		c.WaID = c.Phone[1:]
		if err := s.CreateCustomer(ctx, c); err != nil {
			require.ErrorIs(t, err, actors.ErrDuplicate) // a rare random phone clash
			continue
		}
		all = append(all, c)
	}
	for i := range 150 {
		var q string
		if i%3 == 0 {
			q = word(1 + rng.IntN(5))
		} else { // a substring of real data, so most queries match something
			c := all[rng.IntN(len(all))]
			src := []string{c.Name, c.Phone, c.Email}[rng.IntN(3)]
			if src == "" {
				src = c.Name
			}
			from := rng.IntN(len(src))
			to := min(len(src), from+1+rng.IntN(5))
			q = src[from:to]
			if rng.IntN(2) == 0 {
				q = strings.ToUpper(q)
			}
		}
		var want []string
		for _, c := range all {
			lq := strings.ToLower(q)
			if strings.Contains(strings.ToLower(c.Name), lq) || strings.Contains(c.Phone, lq) || strings.Contains(strings.ToLower(c.Email), lq) {
				want = append(want, c.ID)
			}
		}
		slices.Reverse(want) // newest first
		got, total, err := s.ListCustomers(ctx, actors.CustomerFilter{Search: q, Page: 1, Limit: 1000})
		require.NoError(t, err, "search %q", q)
		gotIDs := []string{}
		for _, c := range got {
			gotIDs = append(gotIDs, c.ID)
		}
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, gotIDs, "search %q", q)
		require.Equal(t, len(want), total, "total for search %q", q)
	}
}

// TestConcurrentWritersAndReaders runs many writers and readers at once; the
// single writer connection must queue them without SQLITE_BUSY.
func TestConcurrentWritersAndReaders(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	const writers, perWriter = 8, 25
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*3)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := fmt.Sprintf("c-%d-%d", w, i)
				c := actors.Customer{ID: id, Name: "Name " + id, Phone: fmt.Sprintf("+4915%04d%04d", w, i), Version: 1,
					Tags: []string{"load"}, CreatedAt: at, UpdatedAt: at}
				if err := s.CreateCustomer(ctx, c); err != nil {
					errs <- err
				}
				if err := s.AppendAudit(ctx, []actors.AuditRecord{{ID: "a-" + id, ActorID: "u", Action: "create", At: at}}); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range perWriter {
				if _, _, err := s.ListCustomers(ctx, actors.CustomerFilter{Tag: "load", Page: 1, Limit: 5}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	_, total, err := s.ListCustomers(ctx, actors.CustomerFilter{Tag: "load", Page: 1, Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, writers*perWriter, total)
	_, total, err = s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, writers*perWriter, total)
}

func TestErrorsCarryContext(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	c := actors.Customer{ID: "c1", Name: "Ana", Phone: "+5511999990001", Version: 1}
	require.NoError(t, s.CreateCustomer(ctx, c))
	err := s.CreateCustomer(ctx, actors.Customer{ID: "c2", Name: "Bia", Phone: c.Phone, Version: 1})
	require.ErrorIs(t, err, actors.ErrDuplicate)
	assert.Contains(t, err.Error(), "create customer c2: ")
	assert.Contains(t, err.Error(), "customers.phone", "the driver says which key clashed")
	assert.NotContains(t, err.Error(), c.Phone, "errors never carry the phone number")

	_, err = s.CustomerByPhone(ctx, "+5511999990404")
	require.ErrorIs(t, err, actors.ErrNotFound)
	assert.NotContains(t, err.Error(), "+5511999990404")

	_, err = s.Customer(ctx, "c404")
	require.ErrorIs(t, err, actors.ErrNotFound)
	assert.Equal(t, "customer c404: not found", err.Error())
}
