//go:build !sqlite_cgo

package sqlitestore

import (
	"database/sql"
	"errors"
	"net/url"

	"modernc.org/sqlite"
)

const driverName = "modernc.org/sqlite"

// openPool opens a pool on the database file at path; params are the
// connection's pragmas (_pragma=name(value), run in order on each new
// connection) and _txlock, which modernc reads from the file: URI as they are.
func openPool(path string, params url.Values) (*sql.DB, error) {
	return sql.Open("sqlite", dsn(path, params))
}

// sqliteCode reads the extended result code and the driver's text of a
// driver error; ok is false for any other error.
func sqliteCode(err error) (code int, text string, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return 0, "", false
	}
	return se.Code(), se.Error(), true
}
