package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wacc/engine/actors"
)

// busyTimeout is how long a connection waits for a lock held by another
// connection (another process, or a checkpoint) before failing with
// SQLITE_BUSY, which the store reports as actors.ErrUnavailable.
const busyTimeout = 5 * time.Second

// Store keeps users, refresh-token families, customers and the audit log in
// one SQLite database file. It is safe for concurrent use.
type Store struct {
	// w is the only connection that writes; SQLite allows one writer at a
	// time, so writers queue here instead of spinning on SQLITE_BUSY.
	w *sql.DB
	// r serves reads; in WAL mode they run beside the writer and each
	// transaction sees a consistent snapshot.
	r   *sql.DB
	log *zap.Logger
	// st holds the hot statements, prepared once on w and r.
	st *stmts

	closeOnce sync.Once
	closeErr  error
}

var _ actors.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path, applies pending
// migrations and returns the store. path must name a file: ":memory:" is
// rejected because the reader and writer pools would see different databases.
func Open(ctx context.Context, path string, log *zap.Logger) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open sqlite store %q: path must be a plain file path", path)
	}
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("store", "sqlite"), zap.String("path", path))

	w, err := sql.Open("sqlite", dsn(path, writerParams))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, mapErr(err))
	}

	applied, err := migrate(ctx, w)
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", dsn(path, readerParams))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, mapErr(err))
	}

	st, err := prepareStmts(ctx, w, r)
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	log.Info("sqlite store opened", zap.Strings("migrations_applied", applied))
	return &Store{w: w, r: r, log: log, st: st}, nil
}

// readers bounds the reader pool.
const readers = 8

var (
	// writerParams: WAL so readers never block the writer; synchronous=NORMAL
	// is durable across application crashes in WAL mode (a power loss can
	// drop the last commits, never corrupt); IMMEDIATE transactions take the
	// write lock up front so a transaction never fails half-way on upgrade.
	writerParams = url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"journal_mode(WAL)",
			"synchronous(NORMAL)",
			"foreign_keys(ON)",
		},
		"_txlock": {"immediate"},
	}
	// readerParams: query_only makes an accidental write through the reader
	// pool an error instead of a second writer.
	readerParams = url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"foreign_keys(ON)",
			"query_only(ON)",
		},
	}
)

// dsn builds a file: URI so that any character in path ('?', '#', '%') is
// taken literally.
func dsn(path string, params url.Values) string {
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: params.Encode()}
	return u.String()
}

// Ping reports whether the database answers on both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite writer: %w", mapErr(err))
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite reader: %w", mapErr(err))
	}
	return nil
}

// Close closes the prepared statements and both pools; it is safe to call
// twice and returns the first call's result both times.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Refresh the planner statistics SQLite recommends keeping fresh; a
		// failure here only costs plan quality, so it is logged.
		if _, err := s.w.ExecContext(ctx, "PRAGMA optimize"); err != nil {
			s.log.Warn("sqlite optimize on close", zap.Error(err))
		}
		s.closeErr = errors.Join(s.st.close(), s.r.Close(), s.w.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close sqlite store: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// QueryPlan returns the lines of EXPLAIN QUERY PLAN for query, joined with
// newlines, so tests and operators can check which indexes a query uses.
func (s *Store) QueryPlan(ctx context.Context, query string, args ...any) (string, error) {
	rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", fmt.Errorf("explain query plan: %w", mapErr(err))
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			return "", fmt.Errorf("explain query plan: %w", err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("explain query plan: %w", mapErr(err))
	}
	return strings.Join(lines, "\n"), nil
}

// mapErr turns driver errors callers branch on into the actors sentinels:
// a unique or primary key violation is ErrDuplicate, no row is ErrNotFound,
// a lock not granted within busyTimeout is ErrUnavailable. The driver's text
// stays in the message.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return actors.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w", se.Error(), actors.ErrDuplicate)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%s: %w", se.Error(), actors.ErrUnavailable)
		}
	}
	return err
}

// Times are stored as INTEGER Unix milliseconds; the zero time is NULL where
// a column is optional.

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMillis(n.Int64)
}

// inTx runs fn in a write transaction on the writer connection and commits
// when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return mapErr(err)
	}
	return nil
}

// readTx runs fn in a read transaction on the reader pool, so the queries in
// fn see one snapshot (a page and its total agree).
func (s *Store) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return mapErr(err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// pageWindow turns a 1-based page and a limit into LIMIT and OFFSET. Page
// below 1 is 1; a limit below 1 is defaultLimit, above maxLimit is maxLimit.
func pageWindow(page, limit int) (lim, off int) {
	if page < 1 {
		page = 1
	}
	if limit < 1 {
		limit = defaultLimit
	}
	if limit > maxLimit {
		limit = maxLimit
	}
	return limit, (page - 1) * limit
}

const (
	defaultLimit = 20
	maxLimit     = 1000
)
