package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// base is the suite's reference instant: UTC, millisecond precision.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// Run runs the whole contract suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) actors.Store) {
	t.Run("users", func(t *testing.T) { runUsers(t, open) })
	t.Run("families", func(t *testing.T) { runFamilies(t, open) })
	t.Run("accounts", func(t *testing.T) { runAccounts(t, open) })
	t.Run("customers", func(t *testing.T) { runCustomers(t, open) })
	t.Run("customer_list", func(t *testing.T) { runCustomerList(t, open) })
	t.Run("audit", func(t *testing.T) { runAudit(t, open) })
	t.Run("lifecycle", func(t *testing.T) { runLifecycle(t, open) })
}

// caseOf is one behaviour checked against a fresh store of type S.
type caseOf[S any] struct {
	// name names the behaviour.
	name string
	// check exercises s, which is empty when check starts.
	check func(t *testing.T, ctx context.Context, s S)
}

// storeCase is a case of the foundation suite.
type storeCase = caseOf[actors.Store]

// runCases runs each case against its own fresh store from open.
func runCases[S any](t *testing.T, open func(t *testing.T) S, cases []caseOf[S]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			require.NotNil(t, s, "open returned a nil store")
			tc.check(t, t.Context(), s)
		})
	}
}

// ---------------------------------------------------------------- users

func runLifecycle(t *testing.T, open func(t *testing.T) actors.Store) {
	runCases(t, open, []storeCase{
		{name: "ping answers", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.Ping(ctx))
		}},
		{name: "close twice is safe", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.Ping(ctx))
			require.NoError(t, s.Close())
			require.NoError(t, s.Close())
		}},
	})
}

// idsOf is the id of each of xs, in order.
func idsOf[T any](xs []T, id func(T) string) []string {
	ids := make([]string, 0, len(xs))
	for _, x := range xs {
		ids = append(ids, id(x))
	}
	return ids
}
