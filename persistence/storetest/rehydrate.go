package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// runOpenConversationsSince pins down OpenConversationsSince, the keyset
// listing rehydration after a restart reads: states new and active only,
// UpdatedAt at or after since (inclusive), newest first with ties broken by
// ID descending, pages that split a run of equal UpdatedAt losing and
// repeating nothing, and the conversations as stored.
func runOpenConversationsSince(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	m := time.Minute
	since := base.Add(-10 * m)
	// seed: r01..r10, created in a shuffled order. In the listing since
	// base-10m, newest first: r07 (base+1m), r05, r03, r02 (all base, by ID
	// descending), r01 (base-5m), r09 (exactly since).
	seed := func(t *testing.T, ctx context.Context, s actors.ConversationsStore) map[string]actors.Conversation {
		t.Helper()
		mk := func(i int, state string, updated time.Time) actors.Conversation {
			c := conv(fmt.Sprintf("r%02d", i), fmt.Sprintf("4917%04d", i))
			c.State, c.UpdatedAt = state, updated
			if state == actors.StateClosed {
				c.ClosedAt, c.NextTimerAt = updated, time.Time{}
			}
			return c
		}
		all := []actors.Conversation{
			mk(1, actors.StateActive, base.Add(-5*m)),
			mk(2, actors.StateNew, base),
			mk(3, actors.StateActive, base),
			mk(4, actors.StateExpired, base),         // expired: not open for rehydration
			mk(5, actors.StateActive, base),          // same instant as r02, r03
			mk(6, actors.StateClosed, base.Add(m)),   // closed
			mk(7, actors.StateNew, base.Add(m)),      // newest
			mk(8, actors.StateActive, since.Add(-1)), // a millisecond too old
			mk(9, actors.StateActive, since),         // since is inclusive
			mk(10, actors.StateActive, base.Add(-time.Hour)),
		}
		byID := map[string]actors.Conversation{}
		for _, i := range []int{5, 9, 0, 3, 7, 1, 6, 2, 8, 4} {
			require.NoError(t, s.CreateConversation(ctx, all[i]))
			byID[all[i].ID] = created(all[i])
		}
		return byID
	}
	want := []string{"r07", "r05", "r03", "r02", "r01", "r09"}

	runCases(t, open, []convCase{
		{name: "pages newest first by keyset", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			stored := seed(t, ctx, s)
			for _, limit := range []int{1, 2, 3, 4, 6, 7, 100} {
				t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
					var got []string
					var afterAt time.Time
					afterID := ""
					for range len(want) + 2 {
						page, err := s.OpenConversationsSince(ctx, since, afterAt, afterID, limit)
						require.NoError(t, err)
						require.LessOrEqual(t, len(page), limit)
						for _, c := range page {
							assert.Equal(t, stored[c.ID], c, "conversation %s as stored", c.ID)
							got = append(got, c.ID)
						}
						if len(page) < limit {
							break
						}
						last := page[len(page)-1]
						afterAt, afterID = last.UpdatedAt, last.ID
					}
					assert.Equal(t, want, got)
				})
			}
		}},
		{name: "cut-off and cursor bound the page", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seed(t, ctx, s)
			tests := []struct {
				name    string
				since   time.Time
				afterAt time.Time
				afterID string
				limit   int
				wantIDs []string
			}{
				{name: "since after every update", since: base.Add(time.Hour), limit: 10, wantIDs: []string{}},
				{name: "since at the newest", since: base.Add(m), limit: 10, wantIDs: []string{"r07"}},
				{name: "cursor inside a run of equal times", since: since, afterAt: base, afterID: "r04", limit: 10, wantIDs: []string{"r03", "r02", "r01", "r09"}},
				{name: "cursor of a conversation not open", since: since, afterAt: base.Add(m), afterID: "r06", limit: 2, wantIDs: []string{"r05", "r03"}},
				{name: "cursor past the end", since: since, afterAt: since, afterID: "r09", limit: 10, wantIDs: []string{}},
				{name: "zero limit", since: since, limit: 0, wantIDs: []string{}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					page, err := s.OpenConversationsSince(ctx, tt.since, tt.afterAt, tt.afterID, tt.limit)
					require.NoError(t, err)
					assert.Equal(t, tt.wantIDs, convIDs(page))
				})
			}
		}},
		{name: "a saved conversation moves and a closed one leaves", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seed(t, ctx, s)
			c := mustConv(t, ctx, s, "r09")
			c.Version++
			c.UpdatedAt = base.Add(2 * m)
			require.NoError(t, s.SaveConversation(ctx, c))
			closed := mustConv(t, ctx, s, "r05")
			closed.Version++
			closed.State, closed.ClosedAt, closed.NextTimerAt = actors.StateClosed, base.Add(m), time.Time{}
			require.NoError(t, s.SaveConversation(ctx, closed))

			page, err := s.OpenConversationsSince(ctx, since, time.Time{}, "", 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"r09", "r07", "r03", "r02", "r01"}, convIDs(page))
		}},
	})
}
