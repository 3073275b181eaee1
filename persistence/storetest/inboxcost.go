package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// InboxClaimCost measures what the leases cost a store, on s (empty), and
// logs it: appending batches of 100 bodies of 1.5 KB without and with a
// lease, reading 256 entries of a backlog of 512 with PendingInbox (the
// read before leases) and with ClaimInbox (the read that replaces it), and
// renewing a node's leases. It then drains the backlog with two nodes
// claiming in turn and checks that each entry is handed out once: the
// figures are those of a working claim. Timings are medians of rounds
// rounds on a shared machine, for comparison, never asserted.
func InboxClaimCost(t *testing.T, s actors.ConversationsStore, rounds int) {
	ctx := t.Context()
	body := bytes.Repeat([]byte(`{"entry":[{"changes":[{"value":{"messages":[{"id":"wamid.x"}]}}]}]}`), 1536/68+1)[:1536]
	n := 0
	batch := func(owner string, until time.Time) []actors.InboxEntry {
		es := make([]actors.InboxEntry, 100)
		for i := range es {
			n++
			es[i] = actors.InboxEntry{ID: fmt.Sprintf("c%08d", n), Body: body, ReceivedAt: base, Owner: owner, LeaseUntil: until}
		}
		return es
	}
	median := func(f func()) time.Duration {
		ds := make([]time.Duration, rounds)
		for i := range ds {
			start := time.Now()
			f()
			ds[i] = time.Since(start)
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	lease := base.Add(time.Minute)
	var ids []string
	keep := func(es []actors.InboxEntry) {
		for _, e := range es {
			ids = append(ids, e.ID)
		}
	}
	appendPlain := median(func() {
		es := batch("", time.Time{})
		require.NoError(t, s.AppendInbox(ctx, es))
		keep(es)
	})
	appendLeased := median(func() {
		es := batch("node-a", lease)
		require.NoError(t, s.AppendInbox(ctx, es))
		keep(es)
	})
	// A backlog of 512: the rest is marked done.
	require.GreaterOrEqual(t, len(ids), 512)
	require.NoError(t, s.MarkInboxDone(ctx, ids[512:]))
	pending := median(func() {
		es, err := s.PendingInbox(ctx, 256)
		require.NoError(t, err)
		require.Len(t, es, 256)
	})
	claim := median(func() {
		// node-a's own and the unclaimed: the same 256 rows every round.
		es, err := s.ClaimInbox(ctx, "node-a", base, lease, 256)
		require.NoError(t, err)
		require.Len(t, es, 256)
	})
	renew := median(func() {
		_, err := s.RenewInbox(ctx, "node-a", base, lease)
		require.NoError(t, err)
	})
	t.Logf("inbox lease cost (median of %d): append 100 plain %v, leased %v; read 256 of 512: PendingInbox %v, ClaimInbox %v; RenewInbox %v",
		rounds, appendPlain, appendLeased, pending, claim, renew)

	// Drain: node-b after node-a's leases ran out, then in turn.
	seen := map[string]string{}
	now := lease.Add(time.Second)
	for turn := 0; ; turn++ {
		node := []string{"node-b", "node-a"}[turn%2]
		es, err := s.ClaimInbox(ctx, node, now, now.Add(time.Minute), 100)
		require.NoError(t, err)
		if len(es) == 0 {
			break
		}
		done := make([]string, len(es))
		for i, e := range es {
			require.NotContains(t, seen, e.ID, "entry %s handed out twice", e.ID)
			seen[e.ID] = node
			done[i] = e.ID
		}
		require.NoError(t, s.MarkInboxDone(ctx, done))
	}
	require.Len(t, seen, 512)
}
