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
	// claim is a claim of key made at now, for an hour, leased for lease.
	claim := func(key, hash, owner string, now time.Time, lease time.Duration) actors.IdempotencyRecord {
		return actors.IdempotencyRecord{Key: key, RequestHash: hash, Owner: owner, CreatedAt: now, ExpiresAt: now.Add(time.Hour), LeaseUntil: now.Add(lease)}
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
			rec := claim("u1:POST:/x:k1", "h1", "owner-1", base, time.Minute)
			got, err := s.ClaimIdempotency(ctx, rec)
			require.NoError(t, err)
			require.True(t, got.CreatedAt.Equal(base))
			_, err = s.ClaimIdempotency(ctx, claim(rec.Key, "h1", "owner-2", base.Add(time.Second), time.Minute))
			require.ErrorIs(t, err, actors.ErrDuplicate, "held while its lease runs")
			got, err = s.IdempotencyRecord(ctx, rec.Key)
			require.NoError(t, err)
			require.Equal(t, 0, got.Status)
			require.Equal(t, "h1", got.RequestHash)
			require.Equal(t, "owner-1", got.Owner)
			require.True(t, got.LeaseUntil.Equal(base.Add(time.Minute)))
			require.ErrorIs(t, s.CompleteIdempotency(ctx, rec.Key, "owner-2", 202, []byte(`{}`)), actors.ErrNotFound, "only the owner answers")
			require.NoError(t, s.CompleteIdempotency(ctx, rec.Key, "owner-1", 202, []byte(`{"ok":true}`)))
			got, err = s.IdempotencyRecord(ctx, rec.Key)
			require.NoError(t, err)
			require.Equal(t, 202, got.Status)
			require.Equal(t, `{"ok":true}`, string(got.Body))
			require.True(t, got.ExpiresAt.Equal(base.Add(time.Hour)))
			// An answered record is neither released nor taken over, even
			// long after its lease.
			require.NoError(t, s.ReleaseIdempotency(ctx, rec.Key, "owner-1"))
			_, err = s.ClaimIdempotency(ctx, claim(rec.Key, "h1", "owner-3", base.Add(30*time.Minute), time.Minute))
			require.ErrorIs(t, err, actors.ErrDuplicate)
			got, err = s.IdempotencyRecord(ctx, rec.Key)
			require.NoError(t, err)
			require.Equal(t, 202, got.Status)
			_, err = s.IdempotencyRecord(ctx, "missing")
			require.ErrorIs(t, err, actors.ErrNotFound)
			require.ErrorIs(t, s.CompleteIdempotency(ctx, "missing", "owner-1", 200, nil), actors.ErrNotFound)
		}},
		{name: "idempotency take-over after the lease", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			first := claim("k", "h", "dead-process", base, time.Minute)
			_, err := s.ClaimIdempotency(ctx, first)
			require.NoError(t, err)
			_, err = s.ClaimIdempotency(ctx, claim("k", "other-body", "owner-2", base.Add(2*time.Minute), time.Minute))
			require.ErrorIs(t, err, actors.ErrDuplicate, "another request body never takes a key over")
			got, err := s.ClaimIdempotency(ctx, claim("k", "h", "owner-2", base.Add(2*time.Minute), time.Minute))
			require.NoError(t, err, "the lease ran out: the repeat takes the claim")
			require.True(t, got.CreatedAt.Equal(base), "a take-over keeps the first claim's time")
			require.True(t, got.ExpiresAt.Equal(base.Add(time.Hour)))
			require.Equal(t, "owner-2", got.Owner)
			require.ErrorIs(t, s.CompleteIdempotency(ctx, "k", "dead-process", 202, nil), actors.ErrNotFound, "the first owner lost it")
			require.NoError(t, s.ReleaseIdempotency(ctx, "k", "dead-process"), "a lost claim's release is a no-op")
			rec, err := s.IdempotencyRecord(ctx, "k")
			require.NoError(t, err)
			require.Equal(t, "owner-2", rec.Owner)
			require.NoError(t, s.CompleteIdempotency(ctx, "k", "owner-2", 202, []byte(`{}`)))
		}},
		{name: "idempotency concurrent take-over has one winner", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			_, err := s.ClaimIdempotency(ctx, claim("k", "h", "dead-process", base, time.Minute))
			require.NoError(t, err)
			const n = 8
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				go func(i int) {
					_, err := s.ClaimIdempotency(ctx, claim("k", "h", fmt.Sprintf("repeat-%d", i), base.Add(2*time.Minute), time.Minute))
					errs <- err
				}(i)
			}
			won := 0
			for i := 0; i < n; i++ {
				if err := <-errs; err == nil {
					won++
				} else {
					require.ErrorIs(t, err, actors.ErrDuplicate)
				}
			}
			require.Equal(t, 1, won)
		}},
		{name: "idempotency settle at start", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			_, err := s.ClaimIdempotency(ctx, claim("open-1", "h", "dead", base, time.Hour))
			require.NoError(t, err)
			_, err = s.ClaimIdempotency(ctx, claim("open-2", "h", "dead", base, time.Hour))
			require.NoError(t, err)
			_, err = s.ClaimIdempotency(ctx, claim("done", "h", "dead", base, time.Hour))
			require.NoError(t, err)
			require.NoError(t, s.CompleteIdempotency(ctx, "done", "dead", 201, []byte(`{}`)))
			n, err := s.SettleIdempotencyClaims(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, n, "the unanswered claims")
			got, err := s.ClaimIdempotency(ctx, claim("open-1", "h", "new", base.Add(time.Second), time.Minute))
			require.NoError(t, err, "taken over at once, lease or not")
			require.True(t, got.CreatedAt.Equal(base))
			_, err = s.ClaimIdempotency(ctx, claim("done", "h", "new", base.Add(time.Second), time.Minute))
			require.ErrorIs(t, err, actors.ErrDuplicate, "an answer is kept")
			_, err = s.ClaimIdempotency(ctx, claim("open-2", "other", "new", base.Add(time.Second), time.Minute))
			require.ErrorIs(t, err, actors.ErrDuplicate, "still bound to its request body")
		}},
		{name: "release and expiry", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			a := claim("a", "h", "o", base, time.Minute)
			a.ExpiresAt = base.Add(time.Minute)
			b := claim("b", "h", "o", base, time.Minute)
			_, err := s.ClaimIdempotency(ctx, a)
			require.NoError(t, err)
			_, err = s.ClaimIdempotency(ctx, b)
			require.NoError(t, err)
			require.NoError(t, s.ReleaseIdempotency(ctx, "a", "someone-else"))
			_, err = s.IdempotencyRecord(ctx, "a")
			require.NoError(t, err, "only the owner releases")
			require.NoError(t, s.ReleaseIdempotency(ctx, "a", "o"))
			_, err = s.IdempotencyRecord(ctx, "a")
			require.ErrorIs(t, err, actors.ErrNotFound)
			_, err = s.ClaimIdempotency(ctx, a)
			require.NoError(t, err, "a released key can be claimed again")
			n, err := s.DeleteExpiredIdempotency(ctx, base.Add(30*time.Minute))
			require.NoError(t, err)
			require.Equal(t, 1, n)
			_, err = s.IdempotencyRecord(ctx, "a")
			require.ErrorIs(t, err, actors.ErrNotFound)
			_, err = s.IdempotencyRecord(ctx, "b")
			require.NoError(t, err)
			// An answered record past its expiry is replaced by a new
			// claim even before the sweeper removes it.
			require.NoError(t, s.CompleteIdempotency(ctx, "b", "o", 200, []byte(`{}`)))
			got, err := s.ClaimIdempotency(ctx, claim("b", "new-body", "o2", base.Add(2*time.Hour), time.Minute))
			require.NoError(t, err)
			require.True(t, got.CreatedAt.Equal(base.Add(2*time.Hour)), "a new request")
			rec, err := s.IdempotencyRecord(ctx, "b")
			require.NoError(t, err)
			require.Equal(t, 0, rec.Status)
			require.Equal(t, "new-body", rec.RequestHash)
			require.Empty(t, rec.Body)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, t.Context(), open(t))
		})
	}
	runSendClaims(t, open)
}
