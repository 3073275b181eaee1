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

// RunConversations runs the conversation engine's contract suite
// (conversations, messages, pending statuses, inbox, notifications) against
// the stores open returns. open gives a fresh, empty store and registers its
// own cleanup.
func RunConversations(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	t.Run("conversations", func(t *testing.T) { runConversations(t, open) })
	t.Run("conversation_list", func(t *testing.T) { runConversationList(t, open) })
	t.Run("conversation_timers", func(t *testing.T) { runConversationTimers(t, open) })
	t.Run("open_conversations_since", func(t *testing.T) { runOpenConversationsSince(t, open) })
	t.Run("messages", func(t *testing.T) { runMessages(t, open) })
	t.Run("message_pages", func(t *testing.T) { runMessagePages(t, open) })
	t.Run("status_batches", func(t *testing.T) { runStatusBatches(t, open) })
	t.Run("pending_statuses", func(t *testing.T) { runPendingStatuses(t, open) })
	t.Run("inbox", func(t *testing.T) { runInbox(t, open) })
	t.Run("notifications", func(t *testing.T) { runNotifications(t, open) })
}

// convCase is a case of the conversation engine's suite.
type convCase = caseOf[actors.ConversationsStore]

// --------------------------------------------------------- conversations

// conv is an open conversation with every field set except ClosedAt.
// Version is left 0: CreateConversation stores Version 1 whatever it says.
func conv(id, waID string) actors.Conversation {
	return actors.Conversation{
		ID:             id,
		CustomerID:     "cu-" + waID,
		PhoneNumberID:  "pn1",
		WaID:           waID,
		State:          actors.StateActive,
		AssigneeID:     "agent1",
		LastInboundAt:  base.Add(-10 * time.Minute),
		LastOutboundAt: base.Add(-5 * time.Minute),
		ExpiresAt:      base.Add(24*time.Hour - 10*time.Minute),
		NextTimerAt:    base.Add(23 * time.Hour),
		WarnedAt:       base.Add(-time.Minute),
		Unread:         3,
		Seq:            7,
		CreatedAt:      base.Add(-time.Hour),
		UpdatedAt:      base,
	}
}

// created is c as CreateConversation stores it.
func created(c actors.Conversation) actors.Conversation {
	c.Version = 1
	return c
}

func mustConv(t *testing.T, ctx context.Context, s actors.ConversationsStore, id string) actors.Conversation {
	t.Helper()
	c, err := s.Conversation(ctx, id)
	require.NoError(t, err, "conversation %s", id)
	return c
}

func convIDs(cs []actors.Conversation) []string {
	return idsOf(cs, func(x actors.Conversation) string { return x.ID })
}

func runConversations(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	runCases(t, open, []convCase{
		{name: "create stores version 1 and every field", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			c := conv("c0001", "491511")
			require.NoError(t, s.CreateConversation(ctx, c))
			assert.Equal(t, created(c), mustConv(t, ctx, s, "c0001"))

			c2 := conv("c0002", "491512")
			c2.Version = 1
			require.NoError(t, s.CreateConversation(ctx, c2))
			assert.Equal(t, int64(1), mustConv(t, ctx, s, "c0002").Version)
		}},
		{name: "zero times round-trip as zero", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			c := actors.Conversation{ID: "c0001", CustomerID: "cu1", PhoneNumberID: "pn1", WaID: "491511",
				State: actors.StateNew, CreatedAt: base, UpdatedAt: base}
			require.NoError(t, s.CreateConversation(ctx, c))
			got := mustConv(t, ctx, s, "c0001")
			assert.Equal(t, created(c), got)
			for name, tm := range map[string]time.Time{"LastInboundAt": got.LastInboundAt, "LastOutboundAt": got.LastOutboundAt,
				"ExpiresAt": got.ExpiresAt, "NextTimerAt": got.NextTimerAt, "WarnedAt": got.WarnedAt, "ClosedAt": got.ClosedAt} {
				assert.True(t, tm.IsZero(), "%s must come back zero, got %v", name, tm)
			}
		}},
		{name: "times come back in UTC truncated to the millisecond", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			zone := time.FixedZone("NPT", 5*3600+45*60)
			at := time.Date(2025, 7, 1, 2, 3, 4, 987_654_321, zone)
			c := conv("c0001", "491511")
			c.LastInboundAt, c.LastOutboundAt, c.ExpiresAt = at, at.Add(time.Second), at.Add(24*time.Hour)
			c.NextTimerAt, c.WarnedAt, c.CreatedAt, c.UpdatedAt = at.Add(23*time.Hour), at.Add(time.Minute), at, at
			require.NoError(t, s.CreateConversation(ctx, c))

			ms := func(tm time.Time) time.Time { return tm.UTC().Truncate(time.Millisecond) }
			want := created(c)
			want.LastInboundAt, want.LastOutboundAt, want.ExpiresAt = ms(c.LastInboundAt), ms(c.LastOutboundAt), ms(c.ExpiresAt)
			want.NextTimerAt, want.WarnedAt, want.CreatedAt, want.UpdatedAt = ms(c.NextTimerAt), ms(c.WarnedAt), ms(at), ms(at)
			assert.Equal(t, want, mustConv(t, ctx, s, "c0001"))
		}},
		{name: "duplicate id is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			c := conv("c0001", "491511")
			require.NoError(t, s.CreateConversation(ctx, c))
			err := s.CreateConversation(ctx, conv("c0001", "491599"))
			require.ErrorIs(t, err, actors.ErrDuplicate)
			assert.Equal(t, created(c), mustConv(t, ctx, s, "c0001"), "a rejected duplicate must not change the stored conversation")
			_, err = s.OpenConversation(ctx, "pn1", "491599")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "second open conversation of the same number and customer is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.CreateConversation(ctx, conv("c0001", "491511")))
			for _, state := range []string{actors.StateNew, actors.StateActive, actors.StateExpired} {
				c := conv("c0002", "491511")
				c.State = state
				require.ErrorIs(t, s.CreateConversation(ctx, c), actors.ErrDuplicate, "state %s", state)
			}
			_, err := s.Conversation(ctx, "c0002")
			assert.ErrorIs(t, err, actors.ErrNotFound)

			// The same customer on another business number, or another
			// customer on the same number, is a different conversation.
			other := conv("c0003", "491511")
			other.PhoneNumberID = "pn2"
			require.NoError(t, s.CreateConversation(ctx, other))
			require.NoError(t, s.CreateConversation(ctx, conv("c0004", "491512")))
		}},
		{name: "after the open one is closed a new one can be created", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			first := created(conv("c0001", "491511"))
			require.NoError(t, s.CreateConversation(ctx, first))
			first.State = actors.StateClosed
			first.ClosedAt = base.Add(time.Hour)
			first.NextTimerAt = time.Time{}
			first.Version = 2
			require.NoError(t, s.SaveConversation(ctx, first))

			second := conv("c0002", "491511")
			require.NoError(t, s.CreateConversation(ctx, second))
			got, err := s.OpenConversation(ctx, "pn1", "491511")
			require.NoError(t, err)
			assert.Equal(t, created(second), got)

			// A closed conversation may also be created directly beside an
			// open one (imports, tests).
			closed := conv("c0003", "491511")
			closed.State = actors.StateClosed
			closed.ClosedAt = base
			require.NoError(t, s.CreateConversation(ctx, closed))
		}},
		{name: "open conversation finds only the one that is not closed", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			closed := conv("c0001", "491511")
			closed.State = actors.StateClosed
			closed.ClosedAt = base
			require.NoError(t, s.CreateConversation(ctx, closed))

			_, err := s.OpenConversation(ctx, "pn1", "491511")
			require.ErrorIs(t, err, actors.ErrNotFound, "a closed conversation is not open")

			open := conv("c0002", "491511")
			open.State = actors.StateExpired
			require.NoError(t, s.CreateConversation(ctx, open))
			got, err := s.OpenConversation(ctx, "pn1", "491511")
			require.NoError(t, err)
			assert.Equal(t, created(open), got, "expired is not closed")

			_, err = s.OpenConversation(ctx, "pn2", "491511")
			assert.ErrorIs(t, err, actors.ErrNotFound)
			_, err = s.OpenConversation(ctx, "pn1", "491599")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "unknown id is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			_, err := s.Conversation(ctx, "c404")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "save with the next version persists every field", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.CreateConversation(ctx, conv("c0001", "491511")))
			// Every field but the id changes, and some times go back to zero.
			next := actors.Conversation{
				ID:             "c0001",
				CustomerID:     "cu-other",
				PhoneNumberID:  "pn9",
				WaID:           "499999",
				State:          actors.StateClosed,
				AssigneeID:     "",
				LastInboundAt:  base.Add(time.Hour),
				LastOutboundAt: base.Add(2 * time.Hour),
				ExpiresAt:      base.Add(25 * time.Hour),
				NextTimerAt:    time.Time{},
				WarnedAt:       time.Time{},
				Unread:         0,
				Seq:            42,
				Version:        2,
				CreatedAt:      base.Add(-2 * time.Hour),
				UpdatedAt:      base.Add(3 * time.Hour),
				ClosedAt:       base.Add(3 * time.Hour),
			}
			require.NoError(t, s.SaveConversation(ctx, next))
			assert.Equal(t, next, mustConv(t, ctx, s, "c0001"))

			// And back from zero to set.
			next.NextTimerAt = base.Add(4 * time.Hour)
			next.WarnedAt = base.Add(5 * time.Hour)
			next.ClosedAt = time.Time{}
			next.State = actors.StateNew
			next.AssigneeID = "agent7"
			next.Unread = 9
			next.Version = 3
			require.NoError(t, s.SaveConversation(ctx, next))
			assert.Equal(t, next, mustConv(t, ctx, s, "c0001"))
		}},
		{name: "stale or skipped version is ErrConflict and changes nothing", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			c := created(conv("c0001", "491511"))
			require.NoError(t, s.CreateConversation(ctx, c))
			c2 := c
			c2.Version = 2
			c2.Unread = 0
			require.NoError(t, s.SaveConversation(ctx, c2))

			tests := []struct {
				name    string
				version int64
			}{
				{name: "same as stored", version: 2},
				{name: "older than stored", version: 1},
				{name: "skips a version", version: 4},
				{name: "zero", version: 0},
			}
			for _, tt := range tests {
				stale := c2
				stale.Version = tt.version
				stale.State = actors.StateClosed
				stale.Unread = 99
				stale.AssigneeID = "intruder"
				require.ErrorIs(t, s.SaveConversation(ctx, stale), actors.ErrConflict, tt.name)
				assert.Equal(t, c2, mustConv(t, ctx, s, "c0001"), "%s: a lost save must change nothing", tt.name)
			}
		}},
		{name: "save of unknown conversation is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			c := created(conv("c404", "491511"))
			c.Version = 2
			require.ErrorIs(t, s.SaveConversation(ctx, c), actors.ErrNotFound)
			_, err := s.Conversation(ctx, "c404")
			assert.ErrorIs(t, err, actors.ErrNotFound, "a save must never create")
		}},
		{name: "concurrent saves from the same version: exactly one wins", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.CreateConversation(ctx, conv("c0001", "491511")))
			loaded := mustConv(t, ctx, s, "c0001")
			const n = 20
			errs := make([]error, n)
			Race(n, func(i int) {
				c := loaded
				c.Version = loaded.Version + 1
				c.Unread = 100 + i
				c.AssigneeID = fmt.Sprintf("agent%02d", i)
				errs[i] = s.SaveConversation(ctx, c)
			})
			winner, failed := AtMostOneWinner(t, errs, actors.ErrConflict)
			got := mustConv(t, ctx, s, "c0001")
			landed := -1
			if got.Version == loaded.Version {
				assert.Equal(t, loaded, got, "no save landed: nothing changed")
			} else {
				_, err := fmt.Sscanf(got.AssigneeID, "agent%02d", &landed)
				require.NoError(t, err, "stored assignee %q", got.AssigneeID)
				assert.Equal(t, int64(2), got.Version)
				assert.Equal(t, 100+landed, got.Unread)
			}
			Landed(t, winner, failed, landed)
		}},
	})
}

// convListSeed is the read-only data set of the list tables. Ordered by
// UpdatedAt descending then ID descending it is
// c0007, c0005, c0006, c0004, c0003, c0002, c0008, c0001; c0003 and c0008
// are on business number pn2, the others on pn1.
func convListSeed() []actors.Conversation {
	m := time.Minute
	mk := func(i int, state, assignee, customer string, updated time.Duration) actors.Conversation {
		c := conv(fmt.Sprintf("c%04d", i), fmt.Sprintf("4915%04d", i))
		c.State, c.AssigneeID, c.CustomerID = state, assignee, customer
		if i == 3 || i == 8 {
			// cu2 writes to two business numbers: c0006 on pn1, c0003
			// and the closed c0008 on pn2.
			c.PhoneNumberID = "pn2"
		}
		c.UpdatedAt = base.Add(updated)
		if state == actors.StateClosed {
			c.ClosedAt = c.UpdatedAt
			c.NextTimerAt = time.Time{}
		}
		return c
	}
	return []actors.Conversation{
		mk(1, actors.StateNew, "", "cu1", 1*m),
		mk(2, actors.StateActive, "a1", "cu1", 2*m),
		mk(3, actors.StateActive, "a2", "cu2", 2*m),
		mk(4, actors.StateExpired, "a1", "cu3", 3*m),
		mk(5, actors.StateClosed, "a1", "cu1", 5*m),
		mk(6, actors.StateNew, "a2", "cu2", 4*m),
		mk(7, actors.StateActive, "", "cu3", 6*m),
		mk(8, actors.StateClosed, "", "cu2", 1*m),
	}
}

func runConversationList(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	s := open(t)
	ctx := t.Context()
	seed := convListSeed()
	for _, i := range []int{4, 0, 7, 2, 6, 1, 5, 3} {
		require.NoError(t, s.CreateConversation(ctx, seed[i]))
	}

	t.Run("records carry every field", func(t *testing.T) {
		cs, total, err := s.ListConversations(ctx, actors.ConversationFilter{Page: 1, Limit: 50})
		require.NoError(t, err)
		assert.Equal(t, 8, total)
		require.Len(t, cs, 8)
		byID := map[string]actors.Conversation{}
		for _, c := range seed {
			byID[c.ID] = created(c)
		}
		for _, c := range cs {
			assert.Equal(t, byID[c.ID], c)
		}
	})

	t.Run("filters and pages", func(t *testing.T) {
		tests := []struct {
			name      string
			filter    actors.ConversationFilter
			wantIDs   []string
			wantTotal int
		}{
			{name: "all, ties by id descending", filter: actors.ConversationFilter{Page: 1, Limit: 50},
				wantIDs: []string{"c0007", "c0005", "c0006", "c0004", "c0003", "c0002", "c0008", "c0001"}, wantTotal: 8},
			{name: "one state", filter: actors.ConversationFilter{States: []string{actors.StateNew}, Page: 1, Limit: 50},
				wantIDs: []string{"c0006", "c0001"}, wantTotal: 2},
			{name: "several states", filter: actors.ConversationFilter{States: []string{actors.StateNew, actors.StateActive}, Page: 1, Limit: 50},
				wantIDs: []string{"c0007", "c0006", "c0003", "c0002", "c0001"}, wantTotal: 5},
			{name: "closed", filter: actors.ConversationFilter{States: []string{actors.StateClosed}, Page: 1, Limit: 50},
				wantIDs: []string{"c0005", "c0008"}, wantTotal: 2},
			{name: "unknown state", filter: actors.ConversationFilter{States: []string{"nope"}, Page: 1, Limit: 50},
				wantIDs: []string{}, wantTotal: 0},
			{name: "assignee", filter: actors.ConversationFilter{AssigneeID: "a1", Page: 1, Limit: 50},
				wantIDs: []string{"c0005", "c0004", "c0002"}, wantTotal: 3},
			{name: "assignee and states", filter: actors.ConversationFilter{AssigneeID: "a1", States: []string{actors.StateNew, actors.StateActive}, Page: 1, Limit: 50},
				wantIDs: []string{"c0002"}, wantTotal: 1},
			{name: "unknown assignee", filter: actors.ConversationFilter{AssigneeID: "a404", Page: 1, Limit: 50},
				wantIDs: []string{}, wantTotal: 0},
			{name: "unassigned", filter: actors.ConversationFilter{Unassigned: true, Page: 1, Limit: 50},
				wantIDs: []string{"c0007", "c0008", "c0001"}, wantTotal: 3},
			{name: "assignee and one state", filter: actors.ConversationFilter{AssigneeID: "a2", States: []string{actors.StateActive}, Page: 1, Limit: 50},
				wantIDs: []string{"c0003"}, wantTotal: 1},
			{name: "unassigned and one state", filter: actors.ConversationFilter{Unassigned: true, States: []string{actors.StateNew}, Page: 1, Limit: 50},
				wantIDs: []string{"c0001"}, wantTotal: 1},
			{name: "one state with pages", filter: actors.ConversationFilter{States: []string{actors.StateActive}, Page: 2, Limit: 2},
				wantIDs: []string{"c0002"}, wantTotal: 3},
			{name: "several states with pages", filter: actors.ConversationFilter{States: []string{actors.StateActive, actors.StateClosed}, Page: 2, Limit: 2},
				wantIDs: []string{"c0003", "c0002"}, wantTotal: 5},
			{name: "unassigned and states", filter: actors.ConversationFilter{Unassigned: true, States: []string{actors.StateNew, actors.StateActive}, Page: 1, Limit: 50},
				wantIDs: []string{"c0007", "c0001"}, wantTotal: 2},
			{name: "customer", filter: actors.ConversationFilter{CustomerID: "cu1", Page: 1, Limit: 50},
				wantIDs: []string{"c0005", "c0002", "c0001"}, wantTotal: 3},
			{name: "customer and state", filter: actors.ConversationFilter{CustomerID: "cu2", States: []string{actors.StateClosed}, Page: 1, Limit: 50},
				wantIDs: []string{"c0008"}, wantTotal: 1},
			{name: "customer and assignee", filter: actors.ConversationFilter{CustomerID: "cu2", AssigneeID: "a2", Page: 1, Limit: 50},
				wantIDs: []string{"c0006", "c0003"}, wantTotal: 2},
			{name: "customer and business number", filter: actors.ConversationFilter{CustomerID: "cu2", PhoneNumberID: "pn1", Page: 1, Limit: 50},
				wantIDs: []string{"c0006"}, wantTotal: 1},
			{name: "customer, business number and state", filter: actors.ConversationFilter{CustomerID: "cu2", PhoneNumberID: "pn2",
				States: []string{actors.StateClosed}, Page: 1, Limit: 50},
				wantIDs: []string{"c0008"}, wantTotal: 1},
			{name: "customer closed on another business number", filter: actors.ConversationFilter{CustomerID: "cu2", PhoneNumberID: "pn1",
				States: []string{actors.StateClosed}, Page: 1, Limit: 50},
				wantIDs: []string{}, wantTotal: 0},
			{name: "business number", filter: actors.ConversationFilter{PhoneNumberID: "pn2", Page: 1, Limit: 50},
				wantIDs: []string{"c0003", "c0008"}, wantTotal: 2},
			{name: "business number and state", filter: actors.ConversationFilter{PhoneNumberID: "pn2", States: []string{actors.StateActive}, Page: 1, Limit: 50},
				wantIDs: []string{"c0003"}, wantTotal: 1},
			{name: "business number and assignee", filter: actors.ConversationFilter{PhoneNumberID: "pn1", AssigneeID: "a2", Page: 1, Limit: 50},
				wantIDs: []string{"c0006"}, wantTotal: 1},
			{name: "business number with pages", filter: actors.ConversationFilter{PhoneNumberID: "pn1", Page: 2, Limit: 2},
				wantIDs: []string{"c0006", "c0004"}, wantTotal: 6},
			{name: "unknown business number", filter: actors.ConversationFilter{PhoneNumberID: "pn404", Page: 1, Limit: 50},
				wantIDs: []string{}, wantTotal: 0},
			{name: "first page", filter: actors.ConversationFilter{Page: 1, Limit: 3},
				wantIDs: []string{"c0007", "c0005", "c0006"}, wantTotal: 8},
			{name: "second page", filter: actors.ConversationFilter{Page: 2, Limit: 3},
				wantIDs: []string{"c0004", "c0003", "c0002"}, wantTotal: 8},
			{name: "last partial page", filter: actors.ConversationFilter{Page: 3, Limit: 3},
				wantIDs: []string{"c0008", "c0001"}, wantTotal: 8},
			{name: "past the end", filter: actors.ConversationFilter{Page: 4, Limit: 3},
				wantIDs: []string{}, wantTotal: 8},
			{name: "filtered second page", filter: actors.ConversationFilter{AssigneeID: "a1", Page: 2, Limit: 2},
				wantIDs: []string{"c0002"}, wantTotal: 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cs, total, err := s.ListConversations(ctx, tt.filter)
				require.NoError(t, err)
				assert.Equal(t, tt.wantIDs, convIDs(cs))
				assert.Equal(t, tt.wantTotal, total)
			})
		}
	})

	t.Run("count open by assignee", func(t *testing.T) {
		got, err := s.CountOpenByAssignee(ctx)
		require.NoError(t, err)
		// new and active only: expired c0004 and closed c0005/c0008 are not
		// counted; assignees without such conversations are absent.
		assert.Equal(t, map[string]int{"": 2, "a1": 1, "a2": 2}, got)
	})
}
