//go:build sqlite_cgo && !sqlite_fts5 && !fts5

package sqlitestore

// The customers' search index is an FTS5 table, and mattn/go-sqlite3
// compiles FTS5 only under its own tag: build with -tags sqlite_cgo,sqlite_fts5.
var _ = sqlite_cgo_needs_the_sqlite_fts5_tag_too
