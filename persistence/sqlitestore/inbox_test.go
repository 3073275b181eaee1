package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/storetest"
)

func TestInboxPath(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/data/engine.db", "/data/engine-inbox.db"},
		{"/data/engine", "/data/engine-inbox"},
		{"/data/a.b/engine.sqlite", "/data/a.b/engine-inbox.sqlite"},
		{"/data/a?b#c%d/engine.db", "/data/a?b#c%d/engine-inbox.db"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, inboxPath(tt.path), "path %q", tt.path)
	}
}

// countMainInbox counts the rows of the main database's old inbox table.
func countMainInbox(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.r.QueryRowContext(t.Context(), `SELECT count(*) FROM inbox`).Scan(&n))
	return n
}

// TestInboxLivesInItsOwnFile checks that inbox entries are written to the
// inbox database beside the main one and not to the main database, and that
// each database records its own migrations.
func TestInboxLivesInItsOwnFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engine.db")
	s := openAt(t, path)
	require.FileExists(t, filepath.Join(filepath.Dir(path), "engine-inbox.db"))

	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{{ID: "i1", Body: []byte("{}"), ReceivedAt: at}}))
	assert.Equal(t, 0, countMainInbox(t, s), "the main database's inbox stays empty")
	var n int
	require.NoError(t, s.ir.QueryRowContext(ctx, `SELECT count(*) FROM inbox`).Scan(&n))
	assert.Equal(t, 1, n)

	embedded, err := loadMigrationsDir(inboxMigrationFiles, inboxMigrationsDir)
	require.NoError(t, err)
	require.NotEmpty(t, embedded)
	var names []string
	rows, err := s.ir.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		names = append(names, name)
	}
	require.NoError(t, rows.Err())
	var want []string
	for _, m := range embedded {
		want = append(want, m.name)
	}
	assert.Equal(t, want, names)

	// Applying again finds nothing to do.
	applied, err := migrateInbox(ctx, s.iw)
	require.NoError(t, err)
	assert.Empty(t, applied)
}

// TestInboxSurvivesReopen checks that pending entries, their attempts and
// bodies, and done marks are durable across Close and Open.
func TestInboxSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engine.db")
	at := time.Date(2025, 5, 1, 12, 0, 0, 250_000_000, time.UTC)
	entries := []actors.InboxEntry{
		{ID: "i1", Body: []byte(`{"a":1}`), ReceivedAt: at},
		{ID: "i2", Body: []byte{0, 1, 2, 0xff}, ReceivedAt: at.Add(time.Millisecond)},
		{ID: "i3", Body: []byte(`{"c":3}`), ReceivedAt: at.Add(2 * time.Millisecond)},
	}

	s, err := Open(ctx, path, zaptest.NewLogger(t))
	require.NoError(t, err)
	require.NoError(t, s.AppendInbox(ctx, entries))
	require.NoError(t, s.RecordInboxAttempt(ctx, "i2"))
	require.NoError(t, s.MarkInboxDone(ctx, []string{"i3"}))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is safe twice")

	s = openAt(t, path)
	require.NoError(t, s.Ping(ctx))
	got, err := s.PendingInbox(ctx, 10)
	require.NoError(t, err)
	want := []actors.InboxEntry{entries[0], entries[1]}
	want[1].Attempts = 1
	assert.Equal(t, want, got)
}

// TestOpenMovesLegacyInboxRows checks the upgrade path: rows an older
// version left in the main database's inbox table are moved to the inbox
// database on Open, with their bodies, times and attempts, and removed from
// the main database; a row already in the inbox database (a move
// interrupted after its copy) is kept once.
func TestOpenMovesLegacyInboxRows(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engine.db")
	at := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)

	s, err := Open(ctx, path, zaptest.NewLogger(t))
	require.NoError(t, err)
	// More rows than one move batch, written where an older version wrote
	// them: the main database's inbox table.
	total := legacyMoveBatch*2 + 7
	var want []actors.InboxEntry
	for i := range total {
		e := actors.InboxEntry{ID: fmt.Sprintf("i%06d", i), Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), ReceivedAt: at.Add(time.Duration(i) * time.Millisecond), Attempts: i % 3}
		want = append(want, e)
		// The legacy table has no lease columns.
		_, err := s.w.ExecContext(ctx, `INSERT INTO inbox (id, body, received_at, attempts) VALUES (?, ?, ?, ?)`,
			e.ID, e.Body, millis(e.ReceivedAt), e.Attempts)
		require.NoError(t, err)
	}
	// i000000 is in both databases already, as after a crash between the
	// copy and the delete.
	require.NoError(t, s.AppendInbox(ctx, want[:1]))
	require.NoError(t, s.Close())

	s = openAt(t, path)
	assert.Equal(t, 0, countMainInbox(t, s), "moved rows leave the main database")
	got, err := s.PendingInbox(ctx, total+10)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// The moved rows are served like any other.
	require.NoError(t, s.RecordInboxAttempt(ctx, want[1].ID))
	require.NoError(t, s.MarkInboxDone(ctx, []string{want[0].ID}))
	got, err = s.PendingInbox(ctx, 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, want[1].ID, got[0].ID)
	assert.Equal(t, want[1].Attempts+1, got[0].Attempts)
}

// TestCloseClosesInboxDatabase checks that Close closes the inbox pools and
// Ping reports them.
func TestCloseClosesInboxDatabase(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zaptest.NewLogger(t))
	require.NoError(t, err)
	require.NoError(t, s.Ping(t.Context()))
	require.NoError(t, s.Close())
	require.Error(t, s.iw.PingContext(t.Context()))
	require.Error(t, s.ir.PingContext(t.Context()))
	require.Error(t, s.Ping(t.Context()))
}

// TestInboxClaimDrainsOnceAndReportsItsCost logs what the inbox leases
// cost on SQLite (see storetest.InboxClaimCost) and checks the drain.
func TestInboxClaimDrainsOnceAndReportsItsCost(t *testing.T) {
	storetest.InboxClaimCost(t, openAt(t, filepath.Join(t.TempDir(), "engine.db")), 15)
}
