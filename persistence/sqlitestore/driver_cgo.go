//go:build sqlite_cgo

package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"

	"github.com/mattn/go-sqlite3"
)

const driverName = "github.com/mattn/go-sqlite3"

// openPool opens a pool on the database file at path through
// mattn/go-sqlite3. params are written for modernc (see store.go); they are
// translated, not reinterpreted: mattn reads _txlock from the DSN as modernc
// does, and each _pragma=name(value) runs as "PRAGMA name(value)", in order,
// on every new connection, as modernc runs them. busy_timeout also goes into
// the DSN (_busy_timeout), so the wait applies from the connection's first
// statement, which is what modernc's first pragma gives.
func openPool(path string, params url.Values) (*sql.DB, error) {
	q := url.Values{}
	if v := params.Get("_txlock"); v != "" {
		q.Set("_txlock", v)
	}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	for k := range params {
		if k != "_txlock" && k != "_pragma" {
			return nil, fmt.Errorf("sqlite_cgo: connection parameter %q has no translation", k)
		}
	}
	pragmas := append([]string(nil), params["_pragma"]...)
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		for _, p := range pragmas {
			if _, err := c.Exec("PRAGMA "+p, nil); err != nil {
				return fmt.Errorf("PRAGMA %s: %w", p, err)
			}
		}
		return nil
	}}
	return sql.OpenDB(connector{dsn: dsn(path, q), drv: drv}), nil
}

// connector opens mattn connections on one DSN with the pool's pragmas.
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }

func (c connector) Driver() driver.Driver { return c.drv }

// sqliteCode reads the extended result code and the driver's text of a
// driver error; ok is false for any other error.
func sqliteCode(err error) (code int, text string, ok bool) {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return int(se.ExtendedCode), se.Error(), true
	}
	var pse *sqlite3.Error
	if errors.As(err, &pse) && pse != nil {
		return int(pse.ExtendedCode), pse.Error(), true
	}
	return 0, "", false
}
