package sqlitestore

// The SQLite driver is chosen when the engine is built: modernc.org/sqlite
// (pure Go, driver "sqlite", driver_modernc.go) by default, or
// mattn/go-sqlite3 (cgo, driver "sqlite3", driver_cgo.go) with the build
// tags sqlite_cgo and sqlite_fts5 (the second is mattn's: it compiles
// SQLite's FTS5, which the customers' search index needs). Both open the
// same files with the same pragmas, in the same order, and report errors
// with SQLite's own result codes, which mapErr reads through sqliteCode.

// SQLite's result codes the store branches on (https://sqlite.org/rescode.html);
// the same numbers in both drivers.
const (
	codeBusy                 = 5
	codeLocked               = 6
	codeConstraintPrimaryKey = 1555 // SQLITE_CONSTRAINT | 6<<8
	codeConstraintUnique     = 2067 // SQLITE_CONSTRAINT | 8<<8
)

// Driver names the SQLite driver this build of the store uses:
// "modernc.org/sqlite" or "github.com/mattn/go-sqlite3".
func Driver() string { return driverName }
