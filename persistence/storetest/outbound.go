package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// OutboundTestStore is what RunOutbound exercises.
type OutboundTestStore interface {
	actors.MessageStore
	actors.OutboundStore
}

// RunOutbound is the contract suite of actors.OutboundStore.
func RunOutbound(t *testing.T, open func(t *testing.T) OutboundTestStore) {
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	msg := func(id, dir, status string, at time.Time) actors.Message {
		return actors.Message{ID: id, ConversationID: "c1", Direction: dir, Type: "text", Text: id, Content: []byte(`{"body":"x"}`),
			Status: status, Raw: []byte(`{"messaging_product":"whatsapp","to":"1"}`), CreatedAt: at, UpdatedAt: at}
	}
	cases := []struct {
		name  string
		check func(t *testing.T, ctx context.Context, s OutboundTestStore)
	}{
		{name: "message by id", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			m := msg("m1", actors.DirectionOutbound, actors.StatusQueued, base)
			require.NoError(t, s.AppendMessage(ctx, m))
			got, err := s.Message(ctx, "m1")
			require.NoError(t, err)
			require.Equal(t, m.Status, got.Status)
			require.JSONEq(t, string(m.Raw), string(got.Raw))
			_, err = s.Message(ctx, "nope")
			require.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "queued outbound oldest first", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			for i := 0; i < 5; i++ {
				require.NoError(t, s.AppendMessage(ctx, msg(fmt.Sprintf("q%d", i), actors.DirectionOutbound, actors.StatusQueued, base.Add(time.Duration(5-i)*time.Second))))
			}
			require.NoError(t, s.AppendMessage(ctx, msg("in", actors.DirectionInbound, actors.StatusQueued, base)))
			require.NoError(t, s.AppendMessage(ctx, msg("sent", actors.DirectionOutbound, actors.StatusSent, base)))
			changed, err := s.UpdateMessageStatus(ctx, "q2", actors.StatusSent, "wamid.q2", nil, base)
			require.NoError(t, err)
			require.True(t, changed)
			got, err := s.QueuedOutbound(ctx, 3)
			require.NoError(t, err)
			require.Len(t, got, 3)
			require.Equal(t, []string{"q4", "q3", "q1"}, []string{got[0].ID, got[1].ID, got[2].ID})
			all, err := s.QueuedOutbound(ctx, 100)
			require.NoError(t, err)
			require.Len(t, all, 4)
		}},
		{name: "requeue failed", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			require.NoError(t, s.AppendMessage(ctx, msg("f1", actors.DirectionOutbound, actors.StatusQueued, base)))
			ok, err := s.RequeueFailed(ctx, "f1", base)
			require.NoError(t, err)
			require.False(t, ok, "only failed messages")
			_, err = s.UpdateMessageStatus(ctx, "f1", actors.StatusFailed, "", &actors.WhatsAppError{Code: 1, Title: "x"}, base)
			require.NoError(t, err)
			ok, err = s.RequeueFailed(ctx, "f1", base.Add(time.Second))
			require.NoError(t, err)
			require.True(t, ok)
			m, err := s.Message(ctx, "f1")
			require.NoError(t, err)
			require.Equal(t, actors.StatusQueued, m.Status)
			require.Nil(t, m.Error)
			changed, err := s.UpdateMessageStatus(ctx, "f1", actors.StatusSent, "wamid.f1", nil, base.Add(2*time.Second))
			require.NoError(t, err)
			require.True(t, changed, "a requeued message moves forward again")
			ok, err = s.RequeueFailed(ctx, "missing", base)
			require.NoError(t, err)
			require.False(t, ok)
		}},
		{name: "idempotency lifecycle", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			rec := actors.IdempotencyRecord{Key: "u1:POST:/x:k1", RequestHash: "h1", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
			require.NoError(t, s.ClaimIdempotency(ctx, rec))
			require.ErrorIs(t, s.ClaimIdempotency(ctx, rec), actors.ErrDuplicate)
			got, err := s.IdempotencyRecord(ctx, rec.Key)
			require.NoError(t, err)
			require.Equal(t, 0, got.Status)
			require.Equal(t, "h1", got.RequestHash)
			require.NoError(t, s.CompleteIdempotency(ctx, rec.Key, 202, []byte(`{"ok":true}`)))
			got, err = s.IdempotencyRecord(ctx, rec.Key)
			require.NoError(t, err)
			require.Equal(t, 202, got.Status)
			require.Equal(t, `{"ok":true}`, string(got.Body))
			require.True(t, got.ExpiresAt.Equal(base.Add(time.Hour)))
			// A completed record is not released.
			require.NoError(t, s.ReleaseIdempotency(ctx, rec.Key))
			_, err = s.IdempotencyRecord(ctx, rec.Key)
			require.NoError(t, err)
			_, err = s.IdempotencyRecord(ctx, "missing")
			require.ErrorIs(t, err, actors.ErrNotFound)
			require.ErrorIs(t, s.CompleteIdempotency(ctx, "missing", 200, nil), actors.ErrNotFound)
		}},
		{name: "release and expiry", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			a := actors.IdempotencyRecord{Key: "a", RequestHash: "h", CreatedAt: base, ExpiresAt: base.Add(time.Minute)}
			b := actors.IdempotencyRecord{Key: "b", RequestHash: "h", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
			require.NoError(t, s.ClaimIdempotency(ctx, a))
			require.NoError(t, s.ClaimIdempotency(ctx, b))
			require.NoError(t, s.ReleaseIdempotency(ctx, "a"))
			require.NoError(t, s.ClaimIdempotency(ctx, a), "a released key can be claimed again")
			n, err := s.DeleteExpiredIdempotency(ctx, base.Add(30*time.Minute))
			require.NoError(t, err)
			require.Equal(t, 1, n)
			_, err = s.IdempotencyRecord(ctx, "a")
			require.ErrorIs(t, err, actors.ErrNotFound)
			_, err = s.IdempotencyRecord(ctx, "b")
			require.NoError(t, err)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, t.Context(), open(t))
		})
	}
}
