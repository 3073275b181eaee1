package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// sentOut is outbound message id of conversation c0001, stored as sent
// with wamid "wamid."+id at base.
func sentOut(t *testing.T, ctx context.Context, s actors.ConversationsStore, id string) actors.Message {
	t.Helper()
	m := outbound(id, "c0001", base)
	require.NoError(t, s.AppendMessage(ctx, m))
	changed, err := s.UpdateMessageStatus(ctx, id, actors.StatusSent, "wamid."+id, nil, base)
	require.NoError(t, err)
	require.True(t, changed)
	m.Status, m.WaMessageID = actors.StatusSent, "wamid."+id
	return m
}

func runStatusBatches(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	sec := time.Second
	runCases(t, open, []convCase{
		{name: "each change applies in order, forward only, and reports whether it moved its message", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			a, b, c := sentOut(t, ctx, s, "m0001"), sentOut(t, ctx, s, "m0002"), sentOut(t, ctx, s, "m0003")
			werr := &actors.WhatsAppError{Code: 131026, Title: "Message undeliverable", Details: "receiver incapable"}
			changes := []struct {
				change      actors.StatusChange
				wantChanged bool
			}{
				{actors.StatusChange{MessageID: a.ID, Status: actors.StatusDelivered, At: base.Add(1 * sec)}, true},
				{actors.StatusChange{MessageID: b.ID, Status: actors.StatusRead, At: base.Add(2 * sec)}, true},
				{actors.StatusChange{MessageID: a.ID, Status: actors.StatusRead, At: base.Add(3 * sec)}, true},
				// Out of order: delivered after read changes nothing.
				{actors.StatusChange{MessageID: b.ID, Status: actors.StatusDelivered, At: base.Add(4 * sec)}, false},
				// The same status again changes nothing.
				{actors.StatusChange{MessageID: a.ID, Status: actors.StatusRead, At: base.Add(5 * sec)}, false},
				{actors.StatusChange{MessageID: c.ID, Status: actors.StatusFailed, Error: werr, At: base.Add(6 * sec)}, true},
				// Failed is final, even within one batch.
				{actors.StatusChange{MessageID: c.ID, Status: actors.StatusRead, At: base.Add(7 * sec)}, false},
			}
			batch := make([]actors.StatusChange, len(changes))
			want := make([]bool, len(changes))
			for i, ch := range changes {
				batch[i], want[i] = ch.change, ch.wantChanged
			}
			changed, err := s.UpdateMessageStatuses(ctx, batch)
			require.NoError(t, err)
			assert.Equal(t, want, changed)

			a.Status, a.UpdatedAt = actors.StatusRead, base.Add(3*sec)
			b.Status, b.UpdatedAt = actors.StatusRead, base.Add(2*sec)
			c.Status, c.Error, c.UpdatedAt = actors.StatusFailed, werr, base.Add(6*sec)
			for _, m := range []actors.Message{a, b, c} {
				assertMessage(t, m, mustMessage(t, ctx, s, m.WaMessageID), m.ID)
			}

			// Delivered again, as webhooks are: nothing changes.
			changed, err = s.UpdateMessageStatuses(ctx, batch)
			require.NoError(t, err)
			assert.Equal(t, make([]bool, len(batch)), changed, "a batch applied again changes nothing")
			for _, m := range []actors.Message{a, b, c} {
				assertMessage(t, m, mustMessage(t, ctx, s, m.WaMessageID), m.ID)
			}
		}},
		{name: "an absent message is ErrNotFound and what follows it is not applied", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			a := sentOut(t, ctx, s, "m0001")
			_, err := s.UpdateMessageStatuses(ctx, []actors.StatusChange{
				{MessageID: "m404", Status: actors.StatusDelivered, At: base.Add(sec)},
				{MessageID: a.ID, Status: actors.StatusDelivered, At: base.Add(sec)},
			})
			require.ErrorIs(t, err, actors.ErrNotFound)
			assertMessage(t, a, mustMessage(t, ctx, s, a.WaMessageID))
		}},
		{name: "no changes is no write", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			changed, err := s.UpdateMessageStatuses(ctx, nil)
			require.NoError(t, err)
			assert.Empty(t, changed)
		}},
	})
}
