package storetest

import (
	"context"
	"encoding/json"
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
			winner := OneWinner(t, errs, actors.ErrConflict)
			got := mustConv(t, ctx, s, "c0001")
			assert.Equal(t, int64(2), got.Version)
			assert.Equal(t, 100+winner, got.Unread)
			assert.Equal(t, fmt.Sprintf("agent%02d", winner), got.AssigneeID)
		}},
	})
}

// convListSeed is the read-only data set of the list tables. Ordered by
// UpdatedAt descending then ID descending it is
// c0007, c0005, c0006, c0004, c0003, c0002, c0008, c0001.
func convListSeed() []actors.Conversation {
	m := time.Minute
	mk := func(i int, state, assignee, customer string, updated time.Duration) actors.Conversation {
		c := conv(fmt.Sprintf("c%04d", i), fmt.Sprintf("4915%04d", i))
		c.State, c.AssigneeID, c.CustomerID = state, assignee, customer
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

func runConversationTimers(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	m := time.Minute
	// timerSeed: d01..d07; due order at base+3m is d01, d03, d06, d02.
	timerSeed := func() []actors.Conversation {
		mk := func(i int, state string, next time.Time) actors.Conversation {
			c := conv(fmt.Sprintf("d%02d", i), fmt.Sprintf("4916%04d", i))
			c.State = state
			c.NextTimerAt = next
			if state == actors.StateClosed {
				c.ClosedAt = base
			}
			return c
		}
		return []actors.Conversation{
			mk(1, actors.StateActive, base.Add(1*m)),
			mk(2, actors.StateNew, base.Add(3*m)),
			mk(3, actors.StateExpired, base.Add(2*m)),
			mk(4, actors.StateClosed, base), // closed: never due
			mk(5, actors.StateActive, time.Time{}),
			mk(6, actors.StateActive, base.Add(2*m)), // same instant as d03
			mk(7, actors.StateActive, base.Add(10*m)),
		}
	}
	seedTimers := func(t *testing.T, ctx context.Context, s actors.ConversationsStore) []actors.Conversation {
		t.Helper()
		seed := timerSeed()
		for _, i := range []int{6, 3, 1, 4, 0, 5, 2} {
			require.NoError(t, s.CreateConversation(ctx, seed[i]))
		}
		return seed
	}

	runCases(t, open, []convCase{
		{name: "due conversations", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seedTimers(t, ctx, s)
			tests := []struct {
				name    string
				at      time.Time
				limit   int
				wantIDs []string
			}{
				{name: "earliest first, at is inclusive, ties by id", at: base.Add(3 * m), limit: 10, wantIDs: []string{"d01", "d03", "d06", "d02"}},
				{name: "limit", at: base.Add(3 * m), limit: 2, wantIDs: []string{"d01", "d03"}},
				{name: "exactly one due", at: base.Add(1 * m), limit: 10, wantIDs: []string{"d01"}},
				{name: "none due yet", at: base.Add(-time.Millisecond), limit: 10, wantIDs: []string{}},
				{name: "just before a timer", at: base.Add(m - time.Millisecond), limit: 10, wantIDs: []string{}},
				{name: "all set timers of open conversations", at: base.Add(time.Hour), limit: 10, wantIDs: []string{"d01", "d03", "d06", "d02", "d07"}},
				{name: "at in another zone", at: base.Add(2 * m).In(time.FixedZone("X", -7*3600)), limit: 10, wantIDs: []string{"d01", "d03", "d06"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := s.DueConversations(ctx, tt.at, tt.limit)
					require.NoError(t, err)
					assert.Equal(t, tt.wantIDs, convIDs(got))
				})
			}
		}},
		{name: "due conversations carry every field", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seed := seedTimers(t, ctx, s)
			got, err := s.DueConversations(ctx, base.Add(m), 10)
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, created(seed[0]), got[0])
		}},
		{name: "closing removes a conversation from the due set", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seed := seedTimers(t, ctx, s)
			c := created(seed[0])
			c.State = actors.StateClosed
			c.ClosedAt = base
			c.Version = 2 // NextTimerAt deliberately left set
			require.NoError(t, s.SaveConversation(ctx, c))
			got, err := s.DueConversations(ctx, base.Add(3*m), 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"d03", "d06", "d02"}, convIDs(got))
		}},
		{name: "next timer of an empty store is not ok", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			at, ok, err := s.NextTimer(ctx)
			require.NoError(t, err)
			assert.False(t, ok)
			assert.True(t, at.IsZero())
		}},
		{name: "next timer ignores closed conversations and zero timers", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seed := timerSeed()
			require.NoError(t, s.CreateConversation(ctx, seed[3])) // closed, timer set
			require.NoError(t, s.CreateConversation(ctx, seed[4])) // open, zero timer
			_, ok, err := s.NextTimer(ctx)
			require.NoError(t, err)
			assert.False(t, ok)
		}},
		{name: "next timer is the earliest and follows saves", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seed := seedTimers(t, ctx, s)
			at, ok, err := s.NextTimer(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, base.Add(m), at)

			c := created(seed[0])
			c.NextTimerAt = time.Time{}
			c.Version = 2
			require.NoError(t, s.SaveConversation(ctx, c))
			at, ok, err = s.NextTimer(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, base.Add(2*m), at)

			c.NextTimerAt = base.Add(-time.Hour)
			c.Version = 3
			require.NoError(t, s.SaveConversation(ctx, c))
			at, ok, err = s.NextTimer(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, base.Add(-time.Hour), at)
			assert.Equal(t, time.UTC, at.Location())
		}},
		{name: "count open by assignee of an empty store", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			got, err := s.CountOpenByAssignee(ctx)
			require.NoError(t, err)
			assert.Empty(t, got)
		}},
	})
}

// -------------------------------------------------------------- messages

func msg(id, convID string, created time.Time) actors.Message {
	return actors.Message{
		ID:             id,
		ConversationID: convID,
		Direction:      actors.DirectionInbound,
		Type:           "text",
		Text:           "hello " + id,
		Content:        json.RawMessage(`{"body":"hello ` + id + `"}`),
		Status:         "received",
		WaMessageID:    "wamid." + id,
		Seq:            1,
		Raw:            json.RawMessage(`{"from":"491511","id":"wamid.` + id + `","type":"text","text":{"body":"hello"}}`),
		CreatedAt:      created,
		UpdatedAt:      created,
	}
}

func outbound(id, convID string, created time.Time) actors.Message {
	m := msg(id, convID, created)
	m.Direction = actors.DirectionOutbound
	m.Status = actors.StatusQueued
	m.WaMessageID = ""
	m.Raw = nil
	return m
}

// assertMessage compares messages, Content and Raw as JSON (nil and empty
// are equivalent).
func assertMessage(t *testing.T, want, got actors.Message, msgAndArgs ...any) {
	t.Helper()
	assertJSON(t, want.Content, got.Content, "Content")
	assertJSON(t, want.Raw, got.Raw, "Raw")
	want.Content, want.Raw, got.Content, got.Raw = nil, nil, nil, nil
	assert.Equal(t, want, got, msgAndArgs...)
}

func assertJSON(t *testing.T, want, got json.RawMessage, field string) {
	t.Helper()
	if len(want) == 0 {
		assert.Empty(t, got, "%s must come back empty", field)
		return
	}
	assert.JSONEq(t, string(want), string(got), field)
}

func mustMessage(t *testing.T, ctx context.Context, s actors.ConversationsStore, wamid string) actors.Message {
	t.Helper()
	m, err := s.MessageByWaID(ctx, wamid)
	require.NoError(t, err, "message %s", wamid)
	return m
}

func msgIDs(ms []actors.Message) []string {
	return idsOf(ms, func(x actors.Message) string { return x.ID })
}

// allMessages lists every message of a conversation (newest first).
func allMessages(t *testing.T, ctx context.Context, s actors.ConversationsStore, convID string) []actors.Message {
	t.Helper()
	ms, _, err := s.ListMessages(ctx, convID, "", 1000)
	require.NoError(t, err)
	return ms
}

func runMessages(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	runCases(t, open, []convCase{
		{name: "append then read by wamid", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := msg("m0001", "c0001", base)
			m.Seq = 12
			m.UpdatedAt = base.Add(time.Second)
			require.NoError(t, s.AppendMessage(ctx, m))
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))
			_, err := s.MessageByWaID(ctx, "wamid.nope")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "append and save: the message and the conversation's next state", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			c := conv("c0001", "491511")
			require.NoError(t, s.CreateConversation(ctx, c))
			m := msg("m0001", "c0001", base)
			m.Seq = 8
			next := created(c)
			next.Version, next.Seq, next.Unread, next.UpdatedAt = 2, 8, 4, base.Add(time.Minute)
			require.NoError(t, s.AppendMessageAndSave(ctx, m, next))
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))
			assert.Equal(t, next, mustConv(t, ctx, s, "c0001"))

			// A duplicate wamid changes nothing.
			dup := msg("m0002", "c0001", base)
			dup.WaMessageID = m.WaMessageID
			later := next
			later.Version, later.Seq = 3, 9
			require.ErrorIs(t, s.AppendMessageAndSave(ctx, dup, later), actors.ErrDuplicate)
			assert.Equal(t, next, mustConv(t, ctx, s, "c0001"))
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))

			// A stale version is a conflict and leaves the conversation.
			stale := next
			stale.Seq = 99
			require.ErrorIs(t, s.AppendMessageAndSave(ctx, msg("m0003", "c0001", base), stale), actors.ErrConflict)
			assert.Equal(t, next, mustConv(t, ctx, s, "c0001"))
			missing := conv("c0404", "491599")
			missing.Version = 2
			require.ErrorIs(t, s.AppendMessageAndSave(ctx, msg("m0004", "c0404", base), missing), actors.ErrNotFound)
		}},
		{name: "content and raw round-trip as JSON", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			tests := []struct {
				name    string
				content string
				raw     string
			}{
				{name: "nested objects, unicode and escapes",
					content: `{"body":"Grüße 👋 \"quoted\" \\ <b>&amp;</b>","preview_url":false,"nested":{"a":[1,2.5,null,true],"empty":{}}}`,
					raw:     `{"from":"491511","id":"wamid.x","timestamp":"1741944413","type":"text","text":{"body":"Grüße"},"unknown_field":{"kept":[{"deep":1}]}}`},
				{name: "large numbers and arrays",
					content: `{"latitude":52.520008,"longitude":13.404954,"ids":[9007199254740993,1e21]}`,
					raw:     `[{"a":1},{"b":[]}]`},
				{name: "empty content", content: "", raw: `{"type":"unsupported","errors":[{"code":131051}]}`},
			}
			for i, tt := range tests {
				m := msg(fmt.Sprintf("m%04d", i), "c0001", base.Add(time.Duration(i)*time.Second))
				m.Content, m.Raw = nil, nil
				if tt.content != "" {
					m.Content = json.RawMessage(tt.content)
				}
				m.Raw = json.RawMessage(tt.raw)
				require.NoError(t, s.AppendMessage(ctx, m), tt.name)
				assertMessage(t, m, mustMessage(t, ctx, s, m.WaMessageID), tt.name)
			}
		}},
		{name: "error round-trips", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := msg("m0001", "c0001", base)
			m.Direction = actors.DirectionOutbound
			m.Status = actors.StatusFailed
			m.Error = &actors.WhatsAppError{Code: 131047, Title: "Re-engagement message", Message: "More than 24 hours",
				Details: "Message failed to send because more than 24 hours have passed", Href: "https://developers.facebook.com/docs"}
			require.NoError(t, s.AppendMessage(ctx, m))
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))

			ok := msg("m0002", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, ok))
			assert.Nil(t, mustMessage(t, ctx, s, "wamid.m0002").Error, "no error comes back as nil")
		}},
		{name: "duplicate id is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := msg("m0001", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, m))
			dup := msg("m0001", "c0001", base.Add(time.Second))
			dup.WaMessageID = "wamid.other"
			require.ErrorIs(t, s.AppendMessage(ctx, dup), actors.ErrDuplicate)
			_, err := s.MessageByWaID(ctx, "wamid.other")
			assert.ErrorIs(t, err, actors.ErrNotFound)
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))
		}},
		{name: "duplicate wamid is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := msg("m0001", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, m))
			dup := msg("m0002", "c0002", base.Add(time.Second))
			dup.WaMessageID = "wamid.m0001"
			require.ErrorIs(t, s.AppendMessage(ctx, dup), actors.ErrDuplicate)
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))
			assert.Empty(t, allMessages(t, ctx, s, "c0002"))
		}},
		{name: "several outbound messages without wamid are fine", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			for i := range 3 {
				require.NoError(t, s.AppendMessage(ctx, outbound(fmt.Sprintf("m%04d", i), "c0001", base.Add(time.Duration(i)*time.Second))))
			}
			assert.Equal(t, []string{"m0002", "m0001", "m0000"}, msgIDs(allMessages(t, ctx, s, "c0001")))
			_, err := s.MessageByWaID(ctx, "")
			assert.ErrorIs(t, err, actors.ErrNotFound, "the empty wamid names no message")
		}},
		{name: "status moves only forward", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := outbound("m0001", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, m))
			sec := time.Second
			steps := []struct {
				name        string
				status      string
				wamid       string
				at          time.Time
				wantChanged bool
				wantStatus  string
				wantWamid   string
				wantUpdated time.Time
			}{
				{name: "queued to sent sets the wamid", status: actors.StatusSent, wamid: "wamid.out1", at: base.Add(1 * sec),
					wantChanged: true, wantStatus: actors.StatusSent, wantWamid: "wamid.out1", wantUpdated: base.Add(1 * sec)},
				{name: "sent again changes nothing", status: actors.StatusSent, at: base.Add(2 * sec),
					wantChanged: false, wantStatus: actors.StatusSent, wantWamid: "wamid.out1", wantUpdated: base.Add(1 * sec)},
				{name: "back to queued changes nothing", status: actors.StatusQueued, at: base.Add(2 * sec),
					wantChanged: false, wantStatus: actors.StatusSent, wantWamid: "wamid.out1", wantUpdated: base.Add(1 * sec)},
				{name: "unknown status changes nothing", status: "deleted", at: base.Add(2 * sec),
					wantChanged: false, wantStatus: actors.StatusSent, wantWamid: "wamid.out1", wantUpdated: base.Add(1 * sec)},
				{name: "sent to delivered, empty wamid keeps the stored one", status: actors.StatusDelivered, at: base.Add(3 * sec),
					wantChanged: true, wantStatus: actors.StatusDelivered, wantWamid: "wamid.out1", wantUpdated: base.Add(3 * sec)},
				{name: "delivered to read", status: actors.StatusRead, at: base.Add(4 * sec),
					wantChanged: true, wantStatus: actors.StatusRead, wantWamid: "wamid.out1", wantUpdated: base.Add(4 * sec)},
				{name: "read to delivered changes nothing", status: actors.StatusDelivered, at: base.Add(5 * sec),
					wantChanged: false, wantStatus: actors.StatusRead, wantWamid: "wamid.out1", wantUpdated: base.Add(4 * sec)},
			}
			for _, st := range steps {
				changed, err := s.UpdateMessageStatus(ctx, "m0001", st.status, st.wamid, nil, st.at)
				require.NoError(t, err, st.name)
				assert.Equal(t, st.wantChanged, changed, st.name)
				got := mustMessage(t, ctx, s, st.wantWamid)
				want := m
				want.Status, want.WaMessageID, want.UpdatedAt = st.wantStatus, st.wantWamid, st.wantUpdated
				assertMessage(t, want, got, st.name)
			}
		}},
		{name: "status may skip steps", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.AppendMessage(ctx, outbound("m0001", "c0001", base)))
			changed, err := s.UpdateMessageStatus(ctx, "m0001", actors.StatusRead, "wamid.out1", nil, base.Add(time.Second))
			require.NoError(t, err)
			assert.True(t, changed)
			assert.Equal(t, actors.StatusRead, mustMessage(t, ctx, s, "wamid.out1").Status)
		}},
		{name: "failed is final and keeps its error", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := outbound("m0001", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, m))
			_, err := s.UpdateMessageStatus(ctx, "m0001", actors.StatusSent, "wamid.out1", nil, base.Add(time.Second))
			require.NoError(t, err)
			werr := &actors.WhatsAppError{Code: 131026, Title: "Message undeliverable", Details: "receiver incapable"}
			changed, err := s.UpdateMessageStatus(ctx, "m0001", actors.StatusFailed, "", werr, base.Add(2*time.Second))
			require.NoError(t, err)
			require.True(t, changed)

			want := m
			want.Status, want.WaMessageID, want.Error, want.UpdatedAt = actors.StatusFailed, "wamid.out1", werr, base.Add(2*time.Second)
			assertMessage(t, want, mustMessage(t, ctx, s, "wamid.out1"))

			for _, status := range []string{actors.StatusQueued, actors.StatusSent, actors.StatusDelivered, actors.StatusRead, actors.StatusFailed} {
				changed, err := s.UpdateMessageStatus(ctx, "m0001", status, "wamid.later", &actors.WhatsAppError{Code: 1}, base.Add(time.Hour))
				require.NoError(t, err, status)
				assert.False(t, changed, "failed is final: %s must not apply", status)
			}
			assertMessage(t, want, mustMessage(t, ctx, s, "wamid.out1"))
			_, err = s.MessageByWaID(ctx, "wamid.later")
			assert.ErrorIs(t, err, actors.ErrNotFound, "a rejected update must not set the wamid")
		}},
		{name: "queued straight to failed without wamid", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.AppendMessage(ctx, outbound("m0001", "c0001", base)))
			werr := &actors.WhatsAppError{Code: 131047, Title: "Re-engagement message"}
			changed, err := s.UpdateMessageStatus(ctx, "m0001", actors.StatusFailed, "", werr, base.Add(time.Second))
			require.NoError(t, err)
			require.True(t, changed)
			ms := allMessages(t, ctx, s, "c0001")
			require.Len(t, ms, 1)
			assert.Equal(t, actors.StatusFailed, ms[0].Status)
			assert.Equal(t, werr, ms[0].Error)
			assert.Empty(t, ms[0].WaMessageID)
			assert.Equal(t, base.Add(time.Second), ms[0].UpdatedAt)
		}},
		{name: "update of unknown message is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			_, err := s.UpdateMessageStatus(ctx, "m404", actors.StatusSent, "wamid.x", nil, base)
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
	})
}

func runMessagePages(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	s := open(t)
	ctx := t.Context()
	sec := time.Second
	// Newest first: m0007, m0006 (same instant), m0005, m0004, m0003 (same
	// instant), m0002, m0001. m0008 and m0009 belong to other conversations.
	createdAt := map[string]time.Time{
		"m0001": base, "m0002": base.Add(sec),
		"m0003": base.Add(2 * sec), "m0004": base.Add(2 * sec), "m0005": base.Add(2 * sec),
		"m0006": base.Add(3 * sec), "m0007": base.Add(3 * sec),
	}
	seed := map[string]actors.Message{}
	for _, id := range []string{"m0004", "m0007", "m0001", "m0005", "m0003", "m0006", "m0002"} {
		m := msg(id, "c0001", createdAt[id])
		if id == "m0006" {
			m = outbound(id, "c0001", createdAt[id])
		}
		seed[id] = m
		require.NoError(t, s.AppendMessage(ctx, m))
	}
	require.NoError(t, s.AppendMessage(ctx, msg("m0008", "c0002", base.Add(10*sec))))
	require.NoError(t, s.AppendMessage(ctx, msg("m0009", "c00011", base.Add(sec))))

	all := []string{"m0007", "m0006", "m0005", "m0004", "m0003", "m0002", "m0001"}

	t.Run("pages of every size walk the conversation newest first", func(t *testing.T) {
		for limit := 1; limit <= 8; limit++ {
			t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
				var got []string
				cursor := ""
				for page := 0; ; page++ {
					require.Less(t, page, 10, "paging does not end")
					ms, next, err := s.ListMessages(ctx, "c0001", cursor, limit)
					require.NoError(t, err)
					require.LessOrEqual(t, len(ms), limit)
					got = append(got, msgIDs(ms)...)
					if next == "" {
						break
					}
					require.Len(t, ms, limit, "a page with a next cursor is full")
					cursor = next
				}
				assert.Equal(t, all, got)
			})
		}
	})

	t.Run("cursor is empty exactly at the end", func(t *testing.T) {
		tests := []struct {
			name     string
			limit    int
			pages    [][]string
			lastNext string
		}{
			{name: "last page full", limit: 7, pages: [][]string{all}},
			{name: "pages split inside a tie", limit: 4, pages: [][]string{all[:4], all[4:]}},
			{name: "exact pages", limit: 1, pages: [][]string{{"m0007"}, {"m0006"}, {"m0005"}, {"m0004"}, {"m0003"}, {"m0002"}, {"m0001"}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cursor := ""
				for i, want := range tt.pages {
					ms, next, err := s.ListMessages(ctx, "c0001", cursor, tt.limit)
					require.NoError(t, err)
					assert.Equal(t, want, msgIDs(ms), "page %d", i)
					if i == len(tt.pages)-1 {
						assert.Empty(t, next, "the last page has no next cursor")
					} else {
						require.NotEmpty(t, next, "page %d has a next cursor", i)
					}
					cursor = next
				}
			})
		}
	})

	t.Run("messages carry every field", func(t *testing.T) {
		ms, _, err := s.ListMessages(ctx, "c0001", "", 10)
		require.NoError(t, err)
		require.Len(t, ms, 7)
		for _, m := range ms {
			assertMessage(t, seed[m.ID], m, m.ID)
		}
	})

	t.Run("only that conversation", func(t *testing.T) {
		ms, next, err := s.ListMessages(ctx, "c0002", "", 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"m0008"}, msgIDs(ms))
		assert.Empty(t, next)

		ms, next, err = s.ListMessages(ctx, "c404", "", 10)
		require.NoError(t, err)
		assert.Empty(t, ms)
		assert.Empty(t, next)
	})
}

// ------------------------------------------------------ pending statuses

func status(wamid, st string, at time.Time) actors.StatusUpdate {
	return actors.StatusUpdate{
		PhoneNumberID:         "pn1",
		WaMessageID:           wamid,
		RecipientID:           "491511",
		Status:                st,
		Timestamp:             at,
		BizOpaqueCallbackData: "tracker-" + st,
		Raw:                   json.RawMessage(`{"id":"` + wamid + `","status":"` + st + `","recipient_id":"491511"}`),
	}
}

// assertStatuses compares status lists; Raw as JSON, nil and empty Errors
// equivalent.
func assertStatuses(t *testing.T, want, got []actors.StatusUpdate) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		assertJSON(t, w.Raw, g.Raw, "Raw")
		w.Raw, g.Raw = nil, nil
		if len(w.Errors) == 0 {
			w.Errors = nil
		}
		if len(g.Errors) == 0 {
			g.Errors = nil
		}
		assert.Equal(t, w, g, "status %d", i)
	}
}

func runPendingStatuses(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	sec := time.Second
	runCases(t, open, []convCase{
		{name: "take returns oldest first, then nothing", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			sent := status("wamid.a", actors.StatusSent, base)
			delivered := status("wamid.a", actors.StatusDelivered, base.Add(sec))
			read := status("wamid.a", actors.StatusRead, base.Add(2*sec))
			// Added out of order, as webhooks may deliver them.
			for _, st := range []actors.StatusUpdate{read, sent, delivered} {
				require.NoError(t, s.AddPendingStatus(ctx, st))
			}
			got, err := s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			assertStatuses(t, []actors.StatusUpdate{sent, delivered, read}, got)

			got, err = s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			assert.Empty(t, got, "a second take finds nothing")
		}},
		{name: "same wamid and status is kept once", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			first := status("wamid.a", actors.StatusDelivered, base)
			require.NoError(t, s.AddPendingStatus(ctx, first))
			again := first
			again.Timestamp = base.Add(sec)
			require.NoError(t, s.AddPendingStatus(ctx, first))
			require.NoError(t, s.AddPendingStatus(ctx, again))
			got, err := s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, actors.StatusDelivered, got[0].Status)
		}},
		{name: "other wamids are untouched", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			a := status("wamid.a", actors.StatusSent, base)
			b1 := status("wamid.b", actors.StatusSent, base.Add(sec))
			b2 := status("wamid.b", actors.StatusRead, base.Add(2*sec))
			for _, st := range []actors.StatusUpdate{b1, a, b2} {
				require.NoError(t, s.AddPendingStatus(ctx, st))
			}
			got, err := s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			assertStatuses(t, []actors.StatusUpdate{a}, got)

			got, err = s.TakePendingStatuses(ctx, "wamid.b")
			require.NoError(t, err)
			assertStatuses(t, []actors.StatusUpdate{b1, b2}, got)

			got, err = s.TakePendingStatuses(ctx, "wamid.unknown")
			require.NoError(t, err)
			assert.Empty(t, got)
		}},
		{name: "every field round-trips", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			failed := status("wamid.a", actors.StatusFailed, time.Date(2025, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("X", 3600)))
			failed.Errors = []actors.WhatsAppError{
				{Code: 131026, Title: "Message undeliverable", Message: "Message undeliverable", Details: "Receiver incapable", Href: "https://example.com/e"},
				{Code: 131000, Title: "Something went wrong"},
			}
			failed.Raw = json.RawMessage(`{"id":"wamid.a","status":"failed","errors":[{"code":131026,"error_data":{"details":"x"}}],"pricing":{"billable":false}}`)
			require.NoError(t, s.AddPendingStatus(ctx, failed))
			got, err := s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			want := failed
			want.Timestamp = failed.Timestamp.UTC().Truncate(time.Millisecond)
			assertStatuses(t, []actors.StatusUpdate{want}, got)
		}},
	})
}

// ----------------------------------------------------------------- inbox

func inboxEntry(i int, at time.Time) actors.InboxEntry {
	body := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"%d"}]}`, i))
	return actors.InboxEntry{ID: fmt.Sprintf("i%04d", i), Body: body, ReceivedAt: at}
}

func inboxIDs(es []actors.InboxEntry) []string {
	return idsOf(es, func(x actors.InboxEntry) string { return x.ID })
}

func runInbox(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	sec := time.Second
	runCases(t, open, []convCase{
		{name: "append a batch, pending oldest first by id with limit", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			// Ids decide the order, not ReceivedAt nor batch order.
			batch := []actors.InboxEntry{inboxEntry(2, base), inboxEntry(3, base.Add(-sec)), inboxEntry(1, base.Add(sec))}
			require.NoError(t, s.AppendInbox(ctx, batch))
			require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{inboxEntry(4, base)}))

			got, err := s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0001", "i0002", "i0003", "i0004"}, inboxIDs(got))
			byID := map[string]actors.InboxEntry{}
			for _, e := range append(batch, inboxEntry(4, base)) {
				byID[e.ID] = e
			}
			for _, e := range got {
				assert.Equal(t, byID[e.ID], e)
			}

			got, err = s.PendingInbox(ctx, 2)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0001", "i0002"}, inboxIDs(got))
		}},
		{name: "body bytes are exact", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			bodies := [][]byte{
				[]byte(`{"a" : 1,  "b":"Grüße 👋\u00e9"}` + "\n"),
				{0x00, 0xff, 0xfe, '{', 0x80, '}', 0x00},
				[]byte(`  {"entry":[]}  `),
			}
			entries := make([]actors.InboxEntry, len(bodies))
			for i, b := range bodies {
				entries[i] = actors.InboxEntry{ID: fmt.Sprintf("i%04d", i), Body: b, ReceivedAt: base}
			}
			require.NoError(t, s.AppendInbox(ctx, entries))
			got, err := s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			require.Len(t, got, len(bodies))
			for i, e := range got {
				assert.Equal(t, bodies[i], e.Body, "body %d", i)
			}
		}},
		{name: "empty batch is a no-op", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.AppendInbox(ctx, nil))
			got, err := s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			assert.Empty(t, got)
		}},
		{name: "done entries leave pending; marking twice or unknown ids is harmless", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{inboxEntry(1, base), inboxEntry(2, base), inboxEntry(3, base)}))
			require.NoError(t, s.MarkInboxDone(ctx, []string{"i0001", "i0003"}))
			got, err := s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0002"}, inboxIDs(got))

			require.NoError(t, s.MarkInboxDone(ctx, []string{"i0001", "i0404"}))
			require.NoError(t, s.MarkInboxDone(ctx, nil))
			got, err = s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"i0002"}, inboxIDs(got))

			require.NoError(t, s.MarkInboxDone(ctx, []string{"i0002"}))
			got, err = s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			assert.Empty(t, got)
		}},
		{name: "record attempt increments attempts of that entry only", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{inboxEntry(1, base), inboxEntry(2, base)}))
			require.NoError(t, s.RecordInboxAttempt(ctx, "i0001"))
			require.NoError(t, s.RecordInboxAttempt(ctx, "i0001"))
			require.NoError(t, s.RecordInboxAttempt(ctx, "i0002"))
			require.NoError(t, s.RecordInboxAttempt(ctx, "i0001"))
			got, err := s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			require.Len(t, got, 2)
			assert.Equal(t, 3, got[0].Attempts)
			assert.Equal(t, 1, got[1].Attempts)
		}},
		{name: "record attempt of unknown entry is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			assert.ErrorIs(t, s.RecordInboxAttempt(ctx, "i0404"), actors.ErrNotFound)
		}},
	})
}

// --------------------------------------------------------- notifications

func note(i int, userID string, at time.Time) actors.Notification {
	return actors.Notification{
		ID:             fmt.Sprintf("n%04d", i),
		UserID:         userID,
		Kind:           actors.NotifyCustomerReplied,
		Title:          fmt.Sprintf("Title %d", i),
		Body:           fmt.Sprintf("Body %d", i),
		ConversationID: fmt.Sprintf("c%04d", i),
		CreatedAt:      at,
	}
}

func noteIDs(ns []actors.Notification) []string {
	return idsOf(ns, func(x actors.Notification) string { return x.ID })
}

// noteSeed: u1 has n0001..n0005 (n0003 and n0004 at the same instant),
// u2 has n0006 and n0007.
func noteSeed() []actors.Notification {
	m := time.Minute
	return []actors.Notification{
		note(1, "u1", base.Add(1*m)),
		note(2, "u1", base.Add(2*m)),
		note(3, "u1", base.Add(3*m)),
		note(4, "u1", base.Add(3*m)),
		note(5, "u1", base.Add(5*m)),
		note(6, "u2", base.Add(4*m)),
		note(7, "u2", base.Add(6*m)),
	}
}

func seedNotes(t *testing.T, ctx context.Context, s actors.ConversationsStore) []actors.Notification {
	t.Helper()
	seed := noteSeed()
	require.NoError(t, s.AddNotifications(ctx, []actors.Notification{seed[3], seed[6], seed[0], seed[4]}))
	require.NoError(t, s.AddNotifications(ctx, []actors.Notification{seed[2], seed[5], seed[1]}))
	return seed
}

func listNotes(t *testing.T, ctx context.Context, s actors.ConversationsStore, userID string, unreadOnly bool, page, limit int) ([]string, int) {
	t.Helper()
	ns, total, err := s.ListNotifications(ctx, userID, unreadOnly, page, limit)
	require.NoError(t, err)
	return noteIDs(ns), total
}

func runNotifications(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	runCases(t, open, []convCase{
		{name: "list per user newest first with total", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seedNotes(t, ctx, s)
			tests := []struct {
				name      string
				userID    string
				page      int
				limit     int
				wantIDs   []string
				wantTotal int
			}{
				{name: "all of u1, ties by id descending", userID: "u1", page: 1, limit: 10, wantIDs: []string{"n0005", "n0004", "n0003", "n0002", "n0001"}, wantTotal: 5},
				{name: "first page", userID: "u1", page: 1, limit: 2, wantIDs: []string{"n0005", "n0004"}, wantTotal: 5},
				{name: "second page", userID: "u1", page: 2, limit: 2, wantIDs: []string{"n0003", "n0002"}, wantTotal: 5},
				{name: "last page", userID: "u1", page: 3, limit: 2, wantIDs: []string{"n0001"}, wantTotal: 5},
				{name: "past the end", userID: "u1", page: 4, limit: 2, wantIDs: []string{}, wantTotal: 5},
				{name: "other user", userID: "u2", page: 1, limit: 10, wantIDs: []string{"n0007", "n0006"}, wantTotal: 2},
				{name: "unknown user", userID: "u404", page: 1, limit: 10, wantIDs: []string{}, wantTotal: 0},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ids, total := listNotes(t, ctx, s, tt.userID, false, tt.page, tt.limit)
					assert.Equal(t, tt.wantIDs, ids)
					assert.Equal(t, tt.wantTotal, total)
				})
			}
		}},
		{name: "notifications carry every field, unread has zero ReadAt", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seed := seedNotes(t, ctx, s)
			ns, _, err := s.ListNotifications(ctx, "u2", false, 1, 10)
			require.NoError(t, err)
			require.Len(t, ns, 2)
			assert.Equal(t, seed[6], ns[0])
			assert.Equal(t, seed[5], ns[1])
			assert.True(t, ns[0].ReadAt.IsZero())
		}},
		{name: "mark selected read, then list unread only", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seed := seedNotes(t, ctx, s)
			at := time.Date(2025, 3, 14, 12, 0, 0, 123_456_789, time.FixedZone("X", -3600))
			n, err := s.MarkNotificationsRead(ctx, "u1", []string{"n0002", "n0004", "n0404"}, at)
			require.NoError(t, err)
			assert.Equal(t, 2, n)

			ids, total := listNotes(t, ctx, s, "u1", true, 1, 10)
			assert.Equal(t, []string{"n0005", "n0003", "n0001"}, ids)
			assert.Equal(t, 3, total)
			ids, total = listNotes(t, ctx, s, "u1", true, 2, 2)
			assert.Equal(t, []string{"n0001"}, ids)
			assert.Equal(t, 3, total)
			ids, total = listNotes(t, ctx, s, "u1", false, 1, 10)
			assert.Equal(t, []string{"n0005", "n0004", "n0003", "n0002", "n0001"}, ids)
			assert.Equal(t, 5, total)

			ns, _, err := s.ListNotifications(ctx, "u1", false, 1, 10)
			require.NoError(t, err)
			want := seed[3]
			want.ReadAt = at.UTC().Truncate(time.Millisecond)
			assert.Equal(t, want, ns[1], "ReadAt round-trips")

			// Marking again changes nothing and keeps the first ReadAt.
			n, err = s.MarkNotificationsRead(ctx, "u1", []string{"n0004"}, at.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, 0, n)
			ns, _, err = s.ListNotifications(ctx, "u1", false, 1, 10)
			require.NoError(t, err)
			assert.Equal(t, want, ns[1])
		}},
		{name: "another user's ids are never touched", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seedNotes(t, ctx, s)
			n, err := s.MarkNotificationsRead(ctx, "u1", []string{"n0006", "n0007"}, base.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, 0, n)
			ids, total := listNotes(t, ctx, s, "u2", true, 1, 10)
			assert.Equal(t, []string{"n0007", "n0006"}, ids)
			assert.Equal(t, 2, total)
		}},
		{name: "empty ids marks all of the user's", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			seedNotes(t, ctx, s)
			n, err := s.MarkNotificationsRead(ctx, "u1", []string{"n0001"}, base.Add(time.Hour))
			require.NoError(t, err)
			require.Equal(t, 1, n)

			n, err = s.MarkNotificationsRead(ctx, "u1", nil, base.Add(2*time.Hour))
			require.NoError(t, err)
			assert.Equal(t, 4, n, "only the unread ones change")

			ids, total := listNotes(t, ctx, s, "u1", true, 1, 10)
			assert.Empty(t, ids)
			assert.Equal(t, 0, total)
			ids, _ = listNotes(t, ctx, s, "u2", true, 1, 10)
			assert.Equal(t, []string{"n0007", "n0006"}, ids, "other users keep their unread notifications")

			ns, _, err := s.ListNotifications(ctx, "u1", false, 1, 10)
			require.NoError(t, err)
			for _, nt := range ns {
				wantAt := base.Add(2 * time.Hour)
				if nt.ID == "n0001" {
					wantAt = base.Add(time.Hour)
				}
				assert.Equal(t, wantAt, nt.ReadAt, nt.ID)
			}

			n, err = s.MarkNotificationsRead(ctx, "u1", []string{}, base.Add(3*time.Hour))
			require.NoError(t, err)
			assert.Equal(t, 0, n)
		}},
		{name: "empty batch is a no-op", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.AddNotifications(ctx, nil))
			ids, total := listNotes(t, ctx, s, "u1", false, 1, 10)
			assert.Empty(t, ids)
			assert.Equal(t, 0, total)
		}},
	})
}
