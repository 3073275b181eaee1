package sqlitestore

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// TestSkeletonMigrationBackfillsExistingUsers opens a database made by the
// migrations before 0004 with users in it: the migration gives each its
// email as skeleton, and the unique index then holds.
func TestSkeletonMigrationBackfillsExistingUsers(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engine.db")

	db := migratedBefore(t, path, "0004")
	var err error
	for _, email := range []string{"ana@example.com", "bia@example.com"} {
		_, err = db.ExecContext(ctx, `INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at) VALUES (?, ?, 'n', 'agent', 'h', 1, 1)`,
			"id-"+email, email)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s := openAt(t, path)
	for _, email := range []string{"ana@example.com", "bia@example.com"} {
		u, err := s.UserByEmailSkeleton(ctx, email)
		require.NoError(t, err, email)
		assert.Equal(t, email, u.Email)
		assert.Equal(t, email, u.EmailSkeleton)
	}
	err = s.CreateUser(ctx, actors.User{ID: "u3", Email: "other@example.com", EmailSkeleton: "ana@example.com", Role: actors.RoleAgent})
	assert.ErrorIs(t, err, actors.ErrDuplicate, "the skeleton index is unique")
}

// migratedBefore opens a database at path made by the main migrations
// numbered below version only, as an earlier release left it, so a test
// can put that release's data in before the newer migrations run.
func migratedBefore(t *testing.T, path, version string) *sql.DB {
	t.Helper()
	older := fstest.MapFS{}
	names, err := fs.Glob(migrationFiles, mainMigrationsDir+"/*.sql")
	require.NoError(t, err)
	for _, n := range names {
		if filepath.Base(n) >= version {
			continue
		}
		b, err := fs.ReadFile(migrationFiles, n)
		require.NoError(t, err)
		older[n] = &fstest.MapFile{Data: b}
	}
	db, err := openPool(path, writerParams)
	require.NoError(t, err)
	_, err = migrateFrom(t.Context(), db, older, mainMigrationsDir)
	require.NoError(t, err)
	return db
}
