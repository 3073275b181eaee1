package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// appendInbox appends entries i0001..i000n, unclaimed.
func appendInbox(t *testing.T, ctx context.Context, s actors.ConversationsStore, n int) {
	t.Helper()
	es := make([]actors.InboxEntry, n)
	for i := range es {
		es[i] = inboxEntry(i+1, base)
	}
	require.NoError(t, s.AppendInbox(ctx, es))
}

// owners maps each pending entry to its stored owner.
func owners(t *testing.T, ctx context.Context, s actors.ConversationsStore) map[string]string {
	t.Helper()
	got, err := s.PendingInbox(ctx, 1000)
	require.NoError(t, err)
	out := map[string]string{}
	for _, e := range got {
		out[e.ID] = e.Owner
	}
	return out
}

// runInboxLeases pins down ClaimInbox and RenewInbox: a claim hands a node
// only entries unclaimed, its own, or whose lease ran out; of concurrent
// claims one gets each entry; done entries never come back.
func runInboxLeases(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	sec := time.Second
	lease := 10 * sec
	runCases(t, open, []convCase{
		{name: "claims are exclusive: a node gets the unclaimed and its own, never another's live ones", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			appendInbox(t, ctx, s, 4)
			a, err := s.ClaimInbox(ctx, "node-a", base, base.Add(lease), 2)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0001", "i0002"}, inboxIDs(a))
			for _, e := range a {
				assert.Equal(t, "node-a", e.Owner)
				assert.Equal(t, base.Add(lease), e.LeaseUntil)
				assert.Equal(t, inboxEntry(0, base).ReceivedAt, e.ReceivedAt)
				assert.NotEmpty(t, e.Body)
			}
			b, err := s.ClaimInbox(ctx, "node-b", base.Add(sec), base.Add(sec+lease), 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0003", "i0004"}, inboxIDs(b))
			// Claiming again gets a node its own entries back, with the new lease.
			a, err = s.ClaimInbox(ctx, "node-a", base.Add(2*sec), base.Add(2*sec+lease), 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0001", "i0002"}, inboxIDs(a))
			assert.Equal(t, base.Add(2*sec+lease), a[0].LeaseUntil)
			assert.Equal(t, map[string]string{"i0001": "node-a", "i0002": "node-a", "i0003": "node-b", "i0004": "node-b"}, owners(t, ctx, s))
		}},
		{name: "concurrent claims by many nodes hand each entry to one", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			const entries, nodes = 24, 4
			appendInbox(t, ctx, s, entries)
			got := make([][]actors.InboxEntry, nodes)
			var wg sync.WaitGroup
			for n := range nodes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					got[n], err = s.ClaimInbox(ctx, fmt.Sprintf("node-%d", n), base, base.Add(lease), 10)
					assert.NoError(t, err)
				}()
			}
			wg.Wait()
			stored := owners(t, ctx, s)
			holder := map[string]string{}
			for n, es := range got {
				node := fmt.Sprintf("node-%d", n)
				for _, e := range es {
					require.NotContains(t, holder, e.ID, "entry %s handed to %s and %s", e.ID, holder[e.ID], node)
					holder[e.ID] = node
					assert.Equal(t, node, stored[e.ID], "the stored owner of %s is the node it was handed to", e.ID)
				}
			}
			assert.Len(t, holder, min(entries, 10*nodes))
		}},
		{name: "an expired lease is taken over; a live lease is not", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			appendInbox(t, ctx, s, 2)
			a, err := s.ClaimInbox(ctx, "node-a", base, base.Add(lease), 10)
			require.NoError(t, err)
			require.Len(t, a, 2)

			// Live (the lease ends at base+lease, inclusive): not handed over.
			b, err := s.ClaimInbox(ctx, "node-b", base.Add(lease), base.Add(2*lease), 10)
			require.NoError(t, err)
			assert.Empty(t, b)
			// Run out: taken over, with node-b's lease.
			later := base.Add(lease + sec)
			b, err = s.ClaimInbox(ctx, "node-b", later, later.Add(lease), 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0001", "i0002"}, inboxIDs(b))
			assert.Equal(t, "node-b", b[0].Owner)
			assert.Equal(t, later.Add(lease), b[0].LeaseUntil)
			// The old holder gets nothing back while node-b's lease lives,
			// and cannot renew what it lost.
			a, err = s.ClaimInbox(ctx, "node-a", later, later.Add(lease), 10)
			require.NoError(t, err)
			assert.Empty(t, a)
			n, err := s.RenewInbox(ctx, "node-a", later, later.Add(lease))
			require.NoError(t, err)
			assert.Zero(t, n)
			assert.Equal(t, map[string]string{"i0001": "node-b", "i0002": "node-b"}, owners(t, ctx, s))
		}},
		{name: "renewal extends live leases of the node only", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			appendInbox(t, ctx, s, 3)
			_, err := s.ClaimInbox(ctx, "node-a", base, base.Add(lease), 2)
			require.NoError(t, err)
			_, err = s.ClaimInbox(ctx, "node-b", base, base.Add(lease), 10)
			require.NoError(t, err)

			n, err := s.RenewInbox(ctx, "node-a", base.Add(lease-sec), base.Add(3*lease))
			require.NoError(t, err)
			assert.Equal(t, 2, n)
			// At 2*lease node-a's renewed entries are still held; node-b's ran out.
			c, err := s.ClaimInbox(ctx, "node-c", base.Add(2*lease), base.Add(3*lease), 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0003"}, inboxIDs(c))

			// A lease that ran out is not renewed.
			n, err = s.RenewInbox(ctx, "node-a", base.Add(3*lease+sec), base.Add(5*lease))
			require.NoError(t, err)
			assert.Zero(t, n)
		}},
		{name: "entries appended with a lease are held from the start", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			e := inboxEntry(1, base)
			e.Owner, e.LeaseUntil = "node-a", base.Add(lease)
			require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{e, inboxEntry(2, base)}))
			got, err := s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			require.Len(t, got, 2)
			assert.Equal(t, e, got[0])
			assert.Empty(t, got[1].Owner)
			assert.True(t, got[1].LeaseUntil.IsZero())

			b, err := s.ClaimInbox(ctx, "node-b", base.Add(sec), base.Add(sec+lease), 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0002"}, inboxIDs(b))
			a, err := s.ClaimInbox(ctx, "node-a", base.Add(sec), base.Add(sec+lease), 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0001"}, inboxIDs(a))
		}},
		{name: "done entries never come back to any node", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			appendInbox(t, ctx, s, 3)
			a, err := s.ClaimInbox(ctx, "node-a", base, base.Add(lease), 10)
			require.NoError(t, err)
			require.Len(t, a, 3)
			require.NoError(t, s.MarkInboxDone(ctx, []string{"i0001", "i0002"}))
			far := base.Add(100 * lease)
			for _, node := range []string{"node-a", "node-b"} {
				got, err := s.ClaimInbox(ctx, node, far, far.Add(lease), 10)
				require.NoError(t, err)
				assert.NotContains(t, inboxIDs(got), "i0001", node)
				assert.NotContains(t, inboxIDs(got), "i0002", node)
			}
			pending, err := s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0003"}, inboxIDs(pending))
		}},
		{name: "attempts counted on a claimed entry keep its lease", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			appendInbox(t, ctx, s, 1)
			_, err := s.ClaimInbox(ctx, "node-a", base, base.Add(lease), 10)
			require.NoError(t, err)
			require.NoError(t, s.RecordInboxAttempt(ctx, "i0001"))
			got, err := s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, 1, got[0].Attempts)
			assert.Equal(t, "node-a", got[0].Owner)
			assert.Equal(t, base.Add(lease), got[0].LeaseUntil)
		}},
	})
}
