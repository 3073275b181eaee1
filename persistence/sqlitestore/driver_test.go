package sqlitestore

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// Every pool of the store runs with the pragmas store.go asks for, whichever
// driver the build links (go test -tags sqlite_cgo,sqlite_fts5 runs this on
// mattn/go-sqlite3).
func TestPoolsRunTheirPragmas(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engine.db")
	s := openAt(t, path)
	t.Logf("driver %s", Driver())
	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		require.NoError(t, db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v), name)
		return v
	}
	for _, p := range []struct {
		name   string
		db     *sql.DB
		writer bool
	}{{"writer", s.w, true}, {"reader", s.r, false}, {"inbox writer", s.iw, true}, {"inbox reader", s.ir, false}} {
		assert.Equal(t, "5000", pragma(p.db, "busy_timeout"), p.name)
		assert.Equal(t, "wal", pragma(p.db, "journal_mode"), p.name)
		assert.Equal(t, "1", pragma(p.db, "foreign_keys"), p.name)
		if p.writer {
			assert.Equal(t, "1", pragma(p.db, "synchronous"), p.name+": NORMAL")
			assert.Equal(t, "2", pragma(p.db, "temp_store"), p.name+": MEMORY")
			assert.Equal(t, "0", pragma(p.db, "wal_autocheckpoint"), p.name)
			assert.Equal(t, "0", pragma(p.db, "query_only"), p.name)
		} else {
			assert.Equal(t, "1", pragma(p.db, "query_only"), p.name)
		}
	}
	for i, cp := range s.cps {
		assert.Equal(t, "5000", pragma(cp.db, "busy_timeout"), "checkpointer %d", i)
	}
	// The writer's transactions are IMMEDIATE (_txlock): a second writer
	// asking for the lock with no wait is refused at BEGIN, not at its
	// first write.
	tx, err := s.w.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	other, err := openPool(path, url.Values{"_pragma": {"busy_timeout(0)"}, "_txlock": {"immediate"}})
	require.NoError(t, err)
	defer other.Close()
	_, err = other.BeginTx(ctx, nil)
	require.ErrorIs(t, mapErr(err), actors.ErrUnavailable, "%v", err)
}

// mapErr reads both drivers' errors: a unique or primary-key violation is
// ErrDuplicate, and the driver's text stays in the message.
func TestMapErrReadsTheDriversCodes(t *testing.T) {
	ctx := t.Context()
	db, err := openPool(filepath.Join(t.TempDir(), "codes.db"), writerParams)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE t (id TEXT PRIMARY KEY, u TEXT UNIQUE)`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO t VALUES ('a', 'x')`)
	require.NoError(t, err)

	_, err = db.ExecContext(ctx, `INSERT INTO t VALUES ('a', 'y')`)
	code, _, ok := sqliteCode(err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, codeConstraintPrimaryKey, code)
	assert.ErrorIs(t, mapErr(err), actors.ErrDuplicate)

	_, err = db.ExecContext(ctx, `INSERT INTO t VALUES ('b', 'x')`)
	code, _, ok = sqliteCode(err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, codeConstraintUnique, code)
	assert.ErrorIs(t, mapErr(err), actors.ErrDuplicate)
	assert.Contains(t, mapErr(err).Error(), "UNIQUE constraint failed: t.u")

	_, err = db.ExecContext(ctx, `INSERT INTO nowhere VALUES (1)`)
	_, _, ok = sqliteCode(err)
	assert.True(t, ok, "a driver error: %v", err)
	assert.NotErrorIs(t, mapErr(err), actors.ErrDuplicate)
	assert.NotErrorIs(t, mapErr(err), actors.ErrUnavailable)
	_, _, ok = sqliteCode(sql.ErrConnDone)
	assert.False(t, ok)
}
