package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// runSendClaims is the contract of the send claims of actors.OutboundStore
// (ClaimSend, ReleaseSend, SettleSendClaims), part of RunOutbound.
func runSendClaims(t *testing.T, open func(t *testing.T) OutboundTestStore) {
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	queued := func(t *testing.T, ctx context.Context, s OutboundTestStore, id string) {
		t.Helper()
		require.NoError(t, s.AppendMessage(ctx, actors.Message{ID: id, ConversationID: "c1", Direction: actors.DirectionOutbound, Type: "text",
			Text: id, Status: actors.StatusQueued, CreatedAt: base, UpdatedAt: base}))
	}
	claim := func(t *testing.T, ctx context.Context, s OutboundTestStore, id, owner string, now time.Time) actors.SendClaim {
		t.Helper()
		c, err := s.ClaimSend(ctx, id, owner, now, now.Add(time.Minute))
		require.NoError(t, err)
		return c
	}
	cases := []struct {
		name  string
		check func(t *testing.T, ctx context.Context, s OutboundTestStore)
	}{
		{name: "send claim lifecycle", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			queued(t, ctx, s, "m1")
			c := claim(t, ctx, s, "m1", "a", base)
			require.Equal(t, actors.SendClaimed, c.State)
			require.True(t, c.ClaimedAt.Equal(base), "claimed at %v", c.ClaimedAt)
			require.Equal(t, actors.SendInFlight, claim(t, ctx, s, "m1", "b", base.Add(59*time.Second)).State, "held while its lease runs")
			require.NoError(t, s.ReleaseSend(ctx, "m1", "b"), "not b's claim: a no-op")
			require.Equal(t, actors.SendInFlight, claim(t, ctx, s, "m1", "b", base.Add(time.Second)).State, "still a's")
			require.NoError(t, s.ReleaseSend(ctx, "m1", "a"))
			c = claim(t, ctx, s, "m1", "b", base.Add(2*time.Second))
			require.Equal(t, actors.SendClaimed, c.State, "released: claimed afresh, not taken over")
			require.True(t, c.ClaimedAt.Equal(base.Add(2*time.Second)))
			m, err := s.Message(ctx, "m1")
			require.NoError(t, err)
			require.Equal(t, actors.StatusQueued, m.Status, "a claim does not move the message")

			changed, err := s.UpdateMessageStatus(ctx, "m1", actors.StatusSent, "wamid.m1", nil, base.Add(3*time.Second))
			require.NoError(t, err)
			require.True(t, changed, "the outcome is written under a claim")
			require.Equal(t, actors.SendNotQueued, claim(t, ctx, s, "m1", "c", base.Add(time.Hour)).State, "sent: a redelivery sends nothing")
			m, err = s.Message(ctx, "m1")
			require.NoError(t, err)
			require.Equal(t, actors.StatusSent, m.Status)
			require.Equal(t, "wamid.m1", m.WaMessageID)

			_, err = s.ClaimSend(ctx, "missing", "a", base, base.Add(time.Minute))
			require.ErrorIs(t, err, actors.ErrNotFound)
			require.NoError(t, s.ReleaseSend(ctx, "missing", "a"))
		}},
		{name: "send claim taken over after its lease", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			queued(t, ctx, s, "m1")
			require.Equal(t, actors.SendClaimed, claim(t, ctx, s, "m1", "dead-process", base).State)
			require.Equal(t, actors.SendInFlight, claim(t, ctx, s, "m1", "b", base.Add(30*time.Second)).State)
			c := claim(t, ctx, s, "m1", "b", base.Add(2*time.Minute))
			require.Equal(t, actors.SendOutcomeUnknown, c.State, "the lease ran out: its holder died mid-call")
			require.True(t, c.ClaimedAt.Equal(base), "the dead holder's claim time, got %v", c.ClaimedAt)
			require.Equal(t, actors.SendInFlight, claim(t, ctx, s, "m1", "c", base.Add(2*time.Minute+time.Second)).State,
				"the take-over holds the claim under a new lease")
			require.NoError(t, s.ReleaseSend(ctx, "m1", "dead-process"), "a lost claim's release is a no-op")
			require.Equal(t, actors.SendInFlight, claim(t, ctx, s, "m1", "c", base.Add(2*time.Minute+2*time.Second)).State)
			c = claim(t, ctx, s, "m1", "c", base.Add(4*time.Minute))
			require.Equal(t, actors.SendOutcomeUnknown, c.State, "a second take-over")
			require.True(t, c.ClaimedAt.Equal(base), "keeps the first claim's time, got %v", c.ClaimedAt)

			// The unknown outcome is recorded as failed; a re-drive queues
			// the message again and its send is claimed afresh.
			_, err := s.UpdateMessageStatus(ctx, "m1", actors.StatusFailed, "", &actors.WhatsAppError{Title: "send outcome unknown"}, base.Add(4*time.Minute))
			require.NoError(t, err)
			require.Equal(t, actors.SendNotQueued, claim(t, ctx, s, "m1", "d", base.Add(5*time.Minute)).State)
			ok, err := s.RequeueFailed(ctx, "m1", base.Add(6*time.Minute))
			require.NoError(t, err)
			require.True(t, ok)
			c = claim(t, ctx, s, "m1", "e", base.Add(6*time.Minute+time.Second))
			require.Equal(t, actors.SendClaimed, c.State, "a re-drive sends again")
			require.True(t, c.ClaimedAt.Equal(base.Add(6*time.Minute+time.Second)))
		}},
		{name: "send claims settled at start", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			for _, id := range []string{"open-1", "open-2", "done", "free"} {
				queued(t, ctx, s, id)
			}
			for _, id := range []string{"open-1", "open-2", "done"} {
				_, err := s.ClaimSend(ctx, id, "dead", base, base.Add(time.Hour))
				require.NoError(t, err)
			}
			_, err := s.UpdateMessageStatus(ctx, "done", actors.StatusSent, "wamid.done", nil, base)
			require.NoError(t, err)
			n, err := s.SettleSendClaims(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, n, "the claims of queued messages")
			c := claim(t, ctx, s, "open-1", "new", base.Add(time.Second))
			require.Equal(t, actors.SendOutcomeUnknown, c.State, "taken over at once, lease or not")
			require.True(t, c.ClaimedAt.Equal(base))
			require.Equal(t, actors.SendNotQueued, claim(t, ctx, s, "done", "new", base.Add(time.Second)).State)
			require.Equal(t, actors.SendClaimed, claim(t, ctx, s, "free", "new", base.Add(time.Second)).State)
			n, err = s.SettleSendClaims(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, n, "open-1 and free under their new leases; open-2 was settled already")
			// A restart within the dead holder's millisecond: the time
			// cannot tell the take-over, the claim on the message does.
			c = claim(t, ctx, s, "open-2", "new", base)
			require.Equal(t, actors.SendOutcomeUnknown, c.State, "taken over in the claim's own millisecond")
			require.True(t, c.ClaimedAt.Equal(base))
		}},
		{name: "concurrent send claims have one winner", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			queued(t, ctx, s, "fresh")
			queued(t, ctx, s, "lapsed")
			_, err := s.ClaimSend(ctx, "lapsed", "dead", base, base.Add(time.Minute))
			require.NoError(t, err)
			for _, tc := range []struct {
				id   string
				want actors.SendClaimState
			}{{"fresh", actors.SendClaimed}, {"lapsed", actors.SendOutcomeUnknown}} {
				const n = 8
				got := make(chan actors.SendClaimState, n)
				for i := 0; i < n; i++ {
					go func(i int) {
						c, err := s.ClaimSend(ctx, tc.id, fmt.Sprintf("repeat-%d", i), base.Add(2*time.Minute), base.Add(3*time.Minute))
						if err != nil {
							t.Errorf("claim %s: %v", tc.id, err)
						}
						got <- c.State
					}(i)
				}
				won := 0
				for i := 0; i < n; i++ {
					switch st := <-got; st {
					case tc.want:
						won++
					case actors.SendInFlight:
					default:
						t.Errorf("%s: state %d", tc.id, st)
					}
				}
				require.Equal(t, 1, won, tc.id)
			}
		}},
		{name: "a send claim never moves a status back", check: func(t *testing.T, ctx context.Context, s OutboundTestStore) {
			const n = 6
			for i := 0; i < n; i++ {
				queued(t, ctx, s, fmt.Sprintf("r%d", i))
			}
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				id := fmt.Sprintf("r%d", i)
				wg.Add(2)
				go func() {
					defer wg.Done()
					if _, err := s.ClaimSend(ctx, id, "a", base, base.Add(time.Minute)); err != nil {
						t.Errorf("claim %s: %v", id, err)
					}
				}()
				go func() {
					defer wg.Done()
					if _, err := s.UpdateMessageStatus(ctx, id, actors.StatusSent, "wamid."+id, nil, base); err != nil {
						t.Errorf("update %s: %v", id, err)
					}
				}()
			}
			wg.Wait()
			for i := 0; i < n; i++ {
				id := fmt.Sprintf("r%d", i)
				m, err := s.Message(ctx, id)
				require.NoError(t, err)
				require.Equal(t, actors.StatusSent, m.Status, id)
				require.Equal(t, "wamid."+id, m.WaMessageID, id)
				require.Equal(t, actors.SendNotQueued, claim(t, ctx, s, id, "b", base.Add(time.Hour)).State, id)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, t.Context(), open(t))
		})
	}
}
