// Package storetest is the contract suite every actors.Store implementation
// must pass. The SQLite and MongoDB stores run the same suite from their own
// tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) actors.Store {
//			s, err := Open(t.Context(), filepath.Join(t.TempDir(), "engine.db"), zaptest.NewLogger(t))
//			require.NoError(t, err)
//			t.Cleanup(func() { _ = s.Close() })
//			return s
//		})
//	}
//
// What the suite pins down, beyond the doc comments in package actors:
//
//   - Every group of subtests gets a fresh, empty store from open; open
//     registers its own cleanup. Read-only tables (search, filters, pages)
//     share one seeded store inside their group.
//   - Unique keys (user id and email, family id, customer id and phone) report
//     actors.ErrDuplicate; missing rows actors.ErrNotFound; lost conditional
//     writes (stale version, stale or revoked refresh token) actors.ErrConflict,
//     and a lost write changes nothing. Errors are matched with errors.Is.
//   - Times come back in UTC, truncated to the millisecond. A zero RevokedAt
//     comes back as the zero time.Time.
//   - Tags keep their order; a nil and an empty Tags or Attributes are
//     equivalent and come back with length zero.
//   - Customer search is a literal, case-insensitive substring match on name,
//     phone and email for strings of any length: %, _, \, quotes and regular
//     expression metacharacters have no special meaning. Tag filtering is an
//     exact, case-sensitive match on one tag.
//   - RotateFamily is atomic: of 20 concurrent rotations presenting the same
//     old hash exactly one wins and the rest get ErrConflict.
//   - Close is safe to call twice.
//
// The package is a normal (non-test) package so other packages' tests can
// import it; it imports testing and testify and must never be imported by
// production code.
package storetest
