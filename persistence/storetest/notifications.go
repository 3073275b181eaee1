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
