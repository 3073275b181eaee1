package mongostore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
)

// TestOpenCarriesOldSendClaims opens a database whose idempotency_keys
// hold the send claims ("whatsapp.send:<message id>") of an earlier
// version: Open moves each onto its queued message, so a send in flight
// when that version stopped is still not made twice, and deletes them;
// other keys stay.
func TestOpenCarriesOldSendClaims(t *testing.T) {
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			ctx := t.Context()
			uri, database := freshDatabase(t, handler)
			old, err := Open(ctx, uri, database, 4, zaptest.NewLogger(t))
			require.NoError(t, err)
			now := time.Now().UTC().Truncate(time.Millisecond)
			claimedAt := now.Add(-time.Hour)
			for _, m := range []struct{ id, status string }{{"live", "queued"}, {"lapsed", "queued"}, {"sent", "sent"}, {"free", "queued"}} {
				require.NoError(t, old.AppendMessage(ctx, actors.Message{ID: m.id, ConversationID: "c1", Direction: actors.DirectionOutbound,
					Type: "text", Status: m.status, CreatedAt: now, UpdatedAt: now}))
			}
			for _, d := range []idempotencyDoc{
				{Key: "whatsapp.send:live", Owner: "sender:old", LeaseUntil: now.Add(time.Hour)},
				{Key: "whatsapp.send:lapsed"}, // written before leases: out
				{Key: "whatsapp.send:sent", Owner: "sender:old", LeaseUntil: now.Add(time.Hour)},
				{Key: "u1:POST:/api/whatsapp/messages:k1", Owner: "request", LeaseUntil: now.Add(time.Hour)},
			} {
				d.RequestHash, d.CreatedAt, d.ExpiresAt = "h", claimedAt, now.Add(24*time.Hour)
				_, err := old.idempotency().InsertOne(ctx, d)
				require.NoError(t, err)
			}
			require.NoError(t, old.Close())

			s, err := Open(ctx, uri, database, 4, zaptest.NewLogger(t))
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			claim := func(id string) actors.SendClaim {
				c, err := s.ClaimSend(ctx, id, "sender:new", now, now.Add(time.Minute))
				require.NoError(t, err)
				return c
			}
			assert.Equal(t, actors.SendInFlight, claim("live").State, "the old claim's lease still runs")
			c := claim("lapsed")
			assert.Equal(t, actors.SendOutcomeUnknown, c.State)
			assert.True(t, c.ClaimedAt.Equal(claimedAt), "claimed at %v", c.ClaimedAt)
			assert.Equal(t, actors.SendNotQueued, claim("sent").State)
			assert.Equal(t, actors.SendClaimed, claim("free").State)
			for _, key := range []string{"whatsapp.send:live", "whatsapp.send:lapsed", "whatsapp.send:sent"} {
				_, err := s.IdempotencyRecord(ctx, key)
				assert.ErrorIs(t, err, actors.ErrNotFound, key)
			}
			_, err = s.IdempotencyRecord(ctx, "u1:POST:/api/whatsapp/messages:k1")
			assert.NoError(t, err, "an Idempotency-Key claim stays")
		})
	}
}
