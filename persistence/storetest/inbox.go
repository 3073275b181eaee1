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
		{name: "the parsed batch is not kept: read back, the body alone", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			e := inboxEntry(1, base)
			e.Batch = &actors.WebhookBatch{Messages: []actors.InboundMessage{{WaMessageID: "wamid.kept"}}}
			require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{e}))
			got, err := s.PendingInbox(ctx, 10)
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Nil(t, got[0].Batch)
			assert.Equal(t, e.Body, got[0].Body)
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
	t.Run("leases", func(t *testing.T) { runInboxLeases(t, open) })
}

// --------------------------------------------------------- notifications
