package inbox

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/gateway/webhook"
)

// A node that stops serving conversations (a cluster node that downed
// itself: frozen, partitioned, unlisted) hands nothing to them and holds no
// lease on what it accepts meanwhile: the serving node applies all of it,
// at once rather than after a lease, and none of it burns an attempt.
// Serving again, the node dispatches as before.
func TestNodeThatDoesNotServeLeavesItsEntriesToTheServingNode(t *testing.T) {
	t.Parallel()
	store := sharedStores[0].open(t)
	l := newLedger(store)
	var aServes atomic.Bool
	aServes.Store(true)
	// A long lease: what B takes from A must come from A's not holding
	// it, not from a lapse.
	const lease = time.Minute
	a := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: &nodeDirectory{node: "node-a", ledger: l}, NodeID: "node-a",
		Lease: lease, Serving: aServes.Load, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	b := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: &nodeDirectory{node: "node-b", ledger: l}, NodeID: "node-b",
		Lease: 2 * time.Second, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	runNode(t, a)
	runNode(t, b)

	appliedBy := func(wamids []string, node string) func() bool {
		return func() bool {
			applied, _, by, _ := l.snapshot()
			for _, w := range wamids {
				if applied[w] == 0 || by[w] != node {
					return false
				}
			}
			return true
		}
	}
	first := accept(t, a, "serving", 10)
	require.Eventually(t, appliedBy(first, "node-a"), 30*time.Second, 20*time.Millisecond, "a serving node applies what it accepts")

	aServes.Store(false)
	down := accept(t, a, "down", 20)
	require.Eventually(t, appliedBy(down, "node-b"), 30*time.Second, 20*time.Millisecond,
		"what a node accepts while it does not serve is applied by the serving node")
	applied, _, _, _ := l.snapshot()
	for _, w := range down {
		require.Equalf(t, 1, applied[w], "%s applied once", w)
	}
	pending, err := store.PendingInbox(t.Context(), 100)
	require.NoError(t, err)
	for _, e := range pending {
		require.Zerof(t, e.Attempts, "entry %s counted an attempt", e.ID)
	}

	aServes.Store(true)
	again := accept(t, a, "again", 10)
	require.Eventually(t, appliedBy(again, "node-a"), 30*time.Second, 20*time.Millisecond, "serving again, the node applies what it accepts")
}
