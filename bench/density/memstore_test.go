package density

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/storetest"
)

// TestMemStoreKeepsTheStoreContract runs the conversation engine's store
// contract suite against the in-memory store, so the actor measured over it
// meets the same answers (versions, ErrConflict, ErrDuplicate on a wamid)
// as over SQLite.
func TestMemStoreKeepsTheStoreContract(t *testing.T) {
	storetest.RunConversations(t, func(*testing.T) actors.ConversationsStore { return newMemStore() })
}

// TestMemStoreAppendMessageAndSaveIsAllOrNothing checks the combined write
// the actor applies an inbound message with: the message and the
// conversation's next version are stored together, or neither is.
func TestMemStoreAppendMessageAndSaveIsAllOrNothing(t *testing.T) {
	at := time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)
	stored := actors.Conversation{ID: "c1", CustomerID: "cu1", PhoneNumberID: "pn1", WaID: "491511", State: actors.StateNew,
		Version: 1, CreatedAt: at, UpdatedAt: at}
	taken := actors.Message{ID: "m0", ConversationID: "c1", Direction: actors.DirectionInbound, Type: "text", Status: "received",
		WaMessageID: "wamid.taken", Seq: 1, CreatedAt: at, UpdatedAt: at}
	msg := func(id, wamid string) actors.Message {
		m := taken
		m.ID, m.WaMessageID, m.Seq = id, wamid, 2
		return m
	}
	next := func(version int64) actors.Conversation {
		c := stored
		c.Version, c.Seq, c.Unread, c.UpdatedAt = version, 2, 1, at.Add(time.Second)
		return c
	}
	tests := []struct {
		name string
		msg  actors.Message
		conv actors.Conversation
		// wantErr is nil when both writes apply.
		wantErr error
	}{
		{name: "both apply", msg: msg("m1", "wamid.new"), conv: next(2)},
		{name: "a taken wamid stores neither", msg: msg("m1", "wamid.taken"), conv: next(2), wantErr: actors.ErrDuplicate},
		{name: "a taken id stores neither", msg: msg("m0", "wamid.new"), conv: next(2), wantErr: actors.ErrDuplicate},
		{name: "a stale version stores neither", msg: msg("m1", "wamid.new"), conv: next(1), wantErr: actors.ErrConflict},
		{name: "an unknown conversation stores neither", msg: msg("m1", "wamid.new"), conv: func() actors.Conversation {
			c := next(2)
			c.ID = "c404"
			return c
		}(), wantErr: actors.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := newMemStore()
			require.NoError(t, s.CreateConversation(ctx, stored))
			require.NoError(t, s.AppendMessage(ctx, taken))

			err := s.AppendMessageAndSave(ctx, tc.msg, tc.conv)
			got, cerr := s.Conversation(ctx, "c1")
			require.NoError(t, cerr)
			_, merr := s.MessageByWaID(ctx, "wamid.new")
			if tc.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.conv, got)
				assert.NoError(t, merr)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			assert.Equal(t, stored, got, "the conversation is unchanged")
			assert.ErrorIs(t, merr, actors.ErrNotFound, "the message is not stored")
			if tc.msg.WaMessageID == "wamid.taken" {
				m, err := s.MessageByWaID(ctx, "wamid.taken")
				require.NoError(t, err)
				assert.Equal(t, "m0", m.ID, "the taken wamid keeps its message")
			}
		})
	}
}
