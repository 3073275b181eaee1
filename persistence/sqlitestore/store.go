package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/sealed"
)

// busyTimeout is how long a connection waits for a lock held by another
// connection (another process, or a checkpoint) before failing with
// SQLITE_BUSY, which the store reports as actors.ErrUnavailable.
const busyTimeout = 5 * time.Second

// Store keeps users, refresh-token families, customers, the audit log and
// the conversation engine's records in one SQLite database file, and the
// webhook inbox in a second file beside it (see inboxPath). It is safe for
// concurrent use.
type Store struct {
	// w is the only connection that writes the main database; SQLite allows
	// one writer at a time, so writers queue here instead of spinning on
	// SQLITE_BUSY.
	w *sql.DB
	// r serves reads; in WAL mode they run beside the writer and each
	// transaction sees a consistent snapshot.
	r *sql.DB
	// iw and ir are the inbox database's writer and readers. SQLite locks
	// per file, so an inbox commit (which a webhook's 200 waits for) never
	// queues behind the conversation actors' writes on w.
	iw  *sql.DB
	ir  *sql.DB
	log *zap.Logger
	// st holds the hot statements, prepared once on w, r, iw and ir.
	st *stmts
	// wc runs every write of the main database, batching concurrent ones
	// into shared transactions (see committer).
	wc *committer
	// cps checkpoint the main and the inbox database off their write paths.
	cps []*checkpointer

	// keys seal customer and message fields at rest; nil is encryption
	// off (see sealing.go).
	keys *sealed.Keyring

	closeOnce sync.Once
	closeErr  error
}

// Option configures Open.
type Option func(*Store)

// WithKeyring seals customer names, e-mails and attributes and message
// bodies with k (nil: encryption off). See sealing.go.
func WithKeyring(k *sealed.Keyring) Option { return func(s *Store) { s.keys = k } }

var _ actors.Store = (*Store)(nil)

// inboxPath names the inbox database beside the main one: "engine.db" gives
// "engine-inbox.db", a path without extension gets "-inbox" appended.
func inboxPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-inbox" + ext
}

// Open opens (creating if needed) the database file at path and the inbox
// database beside it (inboxPath), applies pending migrations to both, moves
// any inbox rows an older version left in the main database into the inbox
// database, and returns the store. path must name a file: ":memory:" is
// rejected because the reader and writer pools would see different
// databases.
func Open(ctx context.Context, path string, log *zap.Logger, opts ...Option) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open sqlite store %q: path must be a plain file path", path)
	}
	if log == nil {
		log = zap.NewNop()
	}
	ipath := inboxPath(path)
	log = log.With(zap.String("store", "sqlite"), zap.String("path", path), zap.String("inbox_path", ipath))

	w, r, applied, err := openDB(ctx, path, migrate)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	iw, ir, inboxApplied, err := openDB(ctx, ipath, migrateInbox)
	if err != nil {
		_ = errors.Join(r.Close(), w.Close())
		return nil, fmt.Errorf("open sqlite store %s: inbox %s: %w", path, ipath, err)
	}
	closeAll := func() { _ = errors.Join(ir.Close(), iw.Close(), r.Close(), w.Close()) }

	moved, err := moveLegacyInbox(ctx, w, iw)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	st, err := prepareStmts(ctx, w, r, iw, ir)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	wc, err := newCommitter(ctx, w)
	if err != nil {
		_ = st.close()
		closeAll()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	var cps []*checkpointer
	for _, p := range []string{path, ipath} {
		cp, err := newCheckpointer(ctx, p, log)
		if err != nil {
			wc.close()
			for _, cp := range cps {
				_ = cp.close()
			}
			_ = st.close()
			closeAll()
			return nil, fmt.Errorf("open sqlite store %s: checkpointer of %s: %w", path, p, err)
		}
		cps = append(cps, cp)
	}

	s := &Store{w: w, r: r, iw: iw, ir: ir, log: log, st: st, wc: wc, cps: cps}
	for _, o := range opts {
		o(s)
	}
	if s.keys.On() {
		// Deleted and overwritten content is zeroed, so a row resealed or
		// deleted leaves no plaintext in free space of the file.
		_, err := w.ExecContext(ctx, "PRAGMA secure_delete = ON")
		if err == nil {
			_, err = iw.ExecContext(ctx, "PRAGMA secure_delete = ON")
		}
		if err != nil {
			wc.close()
			for _, cp := range cps {
				_ = cp.close()
			}
			_ = st.close()
			closeAll()
			return nil, fmt.Errorf("open sqlite store %s: secure_delete: %w", path, mapErr(err))
		}
	}
	log.Info("sqlite store opened", zap.Strings("migrations_applied", applied),
		zap.Strings("inbox_migrations_applied", inboxApplied), zap.Int("inbox_rows_moved", moved),
		zap.Bool("encryption_at_rest", s.keys.On()))
	return s, nil
}

// openDB opens one database file: a single-connection writer pool, the
// migrations applied through it, then a reader pool.
func openDB(ctx context.Context, path string, migrateFn func(context.Context, *sql.DB) ([]string, error)) (w, r *sql.DB, applied []string, err error) {
	w, err = openPool(path, writerParams)
	if err != nil {
		return nil, nil, nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, nil, nil, mapErr(err)
	}

	applied, err = migrateFn(ctx, w)
	if err != nil {
		_ = w.Close()
		return nil, nil, nil, err
	}

	r, err = openPool(path, readerParams)
	if err != nil {
		_ = w.Close()
		return nil, nil, nil, err
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, nil, nil, mapErr(err)
	}
	return w, r, applied, nil
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
			// Statement journals (a savepoint per committer job) in memory,
			// not in temporary files: one write syscall less per page.
			"temp_store(MEMORY)",
			// Checkpoints run beside the writer (see checkpointer).
			"wal_autocheckpoint(0)",
			"foreign_keys(ON)",
		},
		"_txlock": {"immediate"},
	}
	// checkpointParams: the checkpointer's connection.
	checkpointParams = url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"journal_mode(WAL)",
		},
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

// dsn builds a file: URI (modernc's form; driver_cgo.go translates params
// for mattn/go-sqlite3) so that any character in path ('?', '#', '%') is
// taken literally.
func dsn(path string, params url.Values) string {
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: params.Encode()}
	return u.String()
}

// Ping reports whether both databases answer on both of their pools.
func (s *Store) Ping(ctx context.Context) error {
	for _, p := range []struct {
		name string
		db   *sql.DB
	}{{"writer", s.w}, {"reader", s.r}, {"inbox writer", s.iw}, {"inbox reader", s.ir}} {
		if err := p.db.PingContext(ctx); err != nil {
			return fmt.Errorf("ping sqlite %s: %w", p.name, mapErr(err))
		}
	}
	return nil
}

// Close closes the prepared statements and the pools of both databases; it
// is safe to call twice and returns the first call's result both times.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// Writes already submitted finish; later ones fail.
		s.wc.close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Refresh the planner statistics SQLite recommends keeping fresh; a
		// failure here only costs plan quality, so it is logged.
		for _, db := range []*sql.DB{s.w, s.iw} {
			if _, err := db.ExecContext(ctx, "PRAGMA optimize"); err != nil {
				s.log.Warn("sqlite optimize on close", zap.Error(err))
			}
		}
		errs := []error{s.st.close(), s.r.Close(), s.w.Close(), s.ir.Close(), s.iw.Close()}
		for _, cp := range s.cps {
			errs = append(errs, cp.close())
		}
		s.closeErr = errors.Join(errs...)
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close sqlite store: %w", s.closeErr)
		}
	})
	return s.closeErr
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
	if code, text, ok := sqliteCode(err); ok {
		switch code {
		case codeConstraintUnique, codeConstraintPrimaryKey:
			return fmt.Errorf("%s: %w", text, actors.ErrDuplicate)
		}
		switch code & 0xff {
		case codeBusy, codeLocked:
			return fmt.Errorf("%s: %w", text, actors.ErrUnavailable)
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

// inTx runs fn as one job of the committer: in a write transaction on the
// main database, shared with other callers' jobs, answered after the commit.
// fn's writes are applied if and only if it returns nil. fn must use the
// ctx it is given (not its caller's) and must not call inTx.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.wc.do(ctx, fn)
}

// exec runs one write statement as a committer job and returns the rows it
// changed: the prepared stmt when not nil (bound to the job's transaction),
// else query.
func (s *Store) exec(ctx context.Context, stmt *sql.Stmt, query string, args ...any) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var res sql.Result
		var err error
		if stmt != nil {
			res, err = tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, query, args...)
		}
		if err != nil {
			return mapErr(err)
		}
		n, err = res.RowsAffected()
		return mapErr(err)
	})
	return n, err
}

// updated reports whether a conditional write (res, err) changed a row. When
// it changed none it tells why, inside tx (so that a row an earlier job of
// the same batch wrote is seen): existsQuery finds no row for id
// (ErrNotFound), or the row is there and the condition did not hold (false,
// nil).
func updated(ctx context.Context, tx *sql.Tx, res sql.Result, err error, existsQuery, id string) (bool, error) {
	if err != nil {
		return false, mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, mapErr(err)
	}
	if n > 0 {
		return true, nil
	}
	var one int
	return false, mapErr(tx.QueryRowContext(ctx, existsQuery, id).Scan(&one))
}

// inTxOn runs fn in a write transaction on the writer pool w and commits
// when fn returns nil.
func inTxOn(ctx context.Context, w *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := w.BeginTx(ctx, nil)
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
