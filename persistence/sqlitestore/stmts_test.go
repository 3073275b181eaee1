package sqlitestore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// TestPreparedStatementsAfterClose checks that the statements prepared at
// Open are closed with the store: a call after Close is an error, never a
// panic or a write.
func TestPreparedStatementsAfterClose(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, s.AppendInbox(ctx, []actors.InboxEntry{{ID: "i1", Body: []byte("{}"), ReceivedAt: at}}))
	got, err := s.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)

	require.NoError(t, s.Close())

	_, err = s.PendingInbox(ctx, 10)
	require.Error(t, err)
	require.Error(t, s.RecordInboxAttempt(ctx, "i1"))
	require.Error(t, s.MarkInboxDone(ctx, []string{"i1"}))
	require.Error(t, s.AppendInbox(ctx, []actors.InboxEntry{{ID: "i2", Body: []byte("{}"), ReceivedAt: at}}))
	_, err = s.MessageByWaID(ctx, "wamid.1")
	require.Error(t, err)
	require.NotErrorIs(t, err, actors.ErrNotFound)
	require.Error(t, s.AppendMessage(ctx, actors.Message{ID: "m1", ConversationID: "c1", CreatedAt: at, UpdatedAt: at}))
}
