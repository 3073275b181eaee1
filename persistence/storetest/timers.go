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
