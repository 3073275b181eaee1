package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

//go:embed inbox_migrations/*.sql
var inboxMigrationFiles embed.FS

// Directories of the embedded migrations: the main database's and the inbox
// database's. Each database tracks its own in its schema_migrations table.
const (
	mainMigrationsDir  = "migrations"
	inboxMigrationsDir = "inbox_migrations"
)

// migration is one numbered schema change, migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the main database's migrations in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	return loadMigrationsDir(fsys, mainMigrationsDir)
}

// loadMigrationsDir reads the migrations in dir in version order. Versions
// must be unique and positive; file names are NNNN_name.sql.
func loadMigrationsDir(fsys fs.FS, dir string) ([]migration, error) {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, p := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(p, dir+"/"), ".sql")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", p)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration %s: version %d already used by %s", p, v, other)
		}
		seen[v] = base
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", p, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies the main database's pending migrations.
func migrate(ctx context.Context, db *sql.DB) ([]string, error) {
	return migrateFrom(ctx, db, migrationFiles, mainMigrationsDir)
}

// migrateInbox applies the inbox database's pending migrations.
func migrateInbox(ctx context.Context, db *sql.DB) ([]string, error) {
	return migrateFrom(ctx, db, inboxMigrationFiles, inboxMigrationsDir)
}

// migrateFrom applies the migrations in dir not yet recorded in db's
// schema_migrations, all in one IMMEDIATE transaction: two processes opening
// the same file at once serialise on the write lock and the second finds
// nothing left to do. It returns the names it applied.
func migrateFrom(ctx context.Context, db *sql.DB, fsys fs.FS, dir string) ([]string, error) {
	ms, err := loadMigrationsDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE via _txlock
	if err != nil {
		return nil, fmt.Errorf("migrate: begin: %w", mapErr(err))
	}
	defer func() { _ = tx.Rollback() }()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", mapErr(err))
	}
	done := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", mapErr(err))
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", mapErr(err))
	}

	var applied []string
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return nil, fmt.Errorf("migrate: apply %s: %w", m.name, mapErr(err))
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, millis(time.Now())); err != nil {
			return nil, fmt.Errorf("migrate: record %s: %w", m.name, mapErr(err))
		}
		applied = append(applied, m.name)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("migrate: commit: %w", mapErr(err))
	}
	return applied, nil
}
