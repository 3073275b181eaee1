package sqlitestore

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// TestSendClaimQueryPlans: the claim, its release and a re-drive find the
// message by its key; the start-up settle walks the queued outbound
// messages only.
func TestSendClaimQueryPlans(t *testing.T) {
	s := openTemp(t)
	for _, tt := range []struct {
		name, query string
		args        []any
		want        string
	}{
		{"claim", qClaimSend, []any{"o", 1, 2, "m1"}, "sqlite_autoindex_messages_1 (id=?)"},
		{"why not claimed", qSendClaimState, []any{"m1"}, "sqlite_autoindex_messages_1 (id=?)"},
		{"release", qReleaseSend, []any{"m1", "o"}, "sqlite_autoindex_messages_1 (id=?)"},
		{"requeue failed", qRequeueFailed, []any{1, "m1"}, "sqlite_autoindex_messages_1 (id=?)"},
		{"settle", qSettleSendClaims, nil, "messages_queued_outbound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := s.QueryPlan(t.Context(), tt.query, tt.args...)
			require.NoError(t, err)
			assert.Contains(t, plan, tt.want, "plan:\n%s", plan)
			for _, line := range strings.Split(plan, "\n") {
				assert.False(t, strings.HasPrefix(line, "SCAN messages") && !strings.Contains(line, "messages_queued_outbound"), "full scan:\n%s", plan)
			}
		})
	}
}

// sendClaimColumns reads message id's claim columns as stored.
func sendClaimColumns(t *testing.T, s *Store, id string) (owner sql.NullString, claimedAt, leaseUntil sql.NullInt64) {
	t.Helper()
	require.NoError(t, s.r.QueryRowContext(t.Context(), `SELECT send_owner, send_claimed_at, send_lease_until FROM messages WHERE id = ?`, id).
		Scan(&owner, &claimedAt, &leaseUntil))
	return owner, claimedAt, leaseUntil
}

// TestStatusWriteEndsSendClaim: the send's outcome, written by
// UpdateMessageStatus, clears the claim's columns in the same UPDATE; a
// re-drive clears a claim a failed message still carried.
func TestStatusWriteEndsSendClaim(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, id := range []string{"sent", "failed"} {
		require.NoError(t, s.AppendMessage(ctx, actors.Message{ID: id, ConversationID: "c1", Direction: actors.DirectionOutbound, Type: "text",
			Status: actors.StatusQueued, CreatedAt: now, UpdatedAt: now}))
		c, err := s.ClaimSend(ctx, id, "owner-1", now, now.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, actors.SendClaimed, c.State)
		owner, claimedAt, lease := sendClaimColumns(t, s, id)
		require.Equal(t, "owner-1", owner.String)
		require.Equal(t, millis(now), claimedAt.Int64)
		require.Equal(t, millis(now.Add(time.Minute)), lease.Int64)
	}

	changed, err := s.UpdateMessageStatus(ctx, "sent", actors.StatusSent, "wamid.sent", nil, now)
	require.NoError(t, err)
	require.True(t, changed)
	owner, claimedAt, lease := sendClaimColumns(t, s, "sent")
	assert.False(t, owner.Valid || claimedAt.Valid || lease.Valid, "the outcome ended the claim")

	// A failed message that still carries a claim (as one failed before
	// this migration could): the re-drive clears it.
	_, err = s.w.ExecContext(ctx, `UPDATE messages SET status = 'failed' WHERE id = 'failed'`)
	require.NoError(t, err)
	owner, _, _ = sendClaimColumns(t, s, "failed")
	require.True(t, owner.Valid)
	ok, err := s.RequeueFailed(ctx, "failed", now)
	require.NoError(t, err)
	require.True(t, ok)
	owner, claimedAt, lease = sendClaimColumns(t, s, "failed")
	assert.False(t, owner.Valid || claimedAt.Valid || lease.Valid, "the re-drive ended the claim")
	c, err := s.ClaimSend(ctx, "failed", "owner-2", now.Add(time.Second), now.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, actors.SendClaimed, c.State, "claimed afresh, not taken over")
}

// TestSendClaimMigrationCarriesOldClaims opens a database made by the
// migrations before 0014 whose idempotency_keys hold send claims
// ("whatsapp.send:<message id>") of an earlier version: 0014 moves each to
// its queued message, so a send in flight when that version stopped is
// still not made twice, and drops them; other keys stay.
func TestSendClaimMigrationCarriesOldClaims(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engine.db")
	db := migratedBefore(t, path, "0014")
	var err error
	now := time.Now().UTC()
	claimedAt := now.Add(-time.Hour)
	for _, m := range []struct{ id, status string }{{"live", "queued"}, {"lapsed", "queued"}, {"sent", "sent"}, {"free", "queued"}} {
		_, err = db.ExecContext(ctx, `INSERT INTO messages (id, conversation_id, direction, type, text, status, seq, created_at, updated_at)
			VALUES (?, 'c1', 'outbound', 'text', '', ?, 1, 1, 1)`, m.id, m.status)
		require.NoError(t, err)
	}
	for _, k := range []struct {
		key, owner string
		lease      time.Time
	}{
		{"whatsapp.send:live", "sender:old", now.Add(time.Hour)},
		{"whatsapp.send:lapsed", "", time.UnixMilli(0)},
		{"whatsapp.send:sent", "sender:old", now.Add(time.Hour)},
		{"u1:POST:/api/whatsapp/messages:k1", "request", now.Add(time.Hour)},
	} {
		_, err = db.ExecContext(ctx, `INSERT INTO idempotency_keys (key, request_hash, status, body, created_at, expires_at, owner, lease_until)
			VALUES (?, 'h', 0, NULL, ?, ?, ?, ?)`, k.key, millis(claimedAt), millis(now.Add(24*time.Hour)), k.owner, millis(k.lease))
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s := openAt(t, path)
	claim := func(id string) actors.SendClaim {
		c, err := s.ClaimSend(ctx, id, "sender:new", now, now.Add(time.Minute))
		require.NoError(t, err)
		return c
	}
	assert.Equal(t, actors.SendInFlight, claim("live").State, "the old claim's lease still runs")
	c := claim("lapsed")
	assert.Equal(t, actors.SendOutcomeUnknown, c.State)
	assert.Equal(t, claimedAt.UnixMilli(), c.ClaimedAt.UnixMilli())
	assert.Equal(t, actors.SendNotQueued, claim("sent").State)
	assert.Equal(t, actors.SendClaimed, claim("free").State)
	for _, key := range []string{"whatsapp.send:live", "whatsapp.send:lapsed", "whatsapp.send:sent"} {
		_, err := s.IdempotencyRecord(ctx, key)
		assert.ErrorIs(t, err, actors.ErrNotFound, key)
	}
	_, err = s.IdempotencyRecord(ctx, "u1:POST:/api/whatsapp/messages:k1")
	assert.NoError(t, err, "an Idempotency-Key claim stays")
}
