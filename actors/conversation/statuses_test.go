package conversation_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// update is Meta's status webhook for wamid.
func (h *harness) update(wamid, status string) actors.StatusUpdate {
	return actors.StatusUpdate{PhoneNumberID: key.PhoneNumberID, RecipientID: key.WaID, WaMessageID: wamid, Status: status, Timestamp: h.clock.Now()}
}

// failedUpdate is Meta's failed status for wamid with error code.
func (h *harness) failedUpdate(wamid string, code int) actors.StatusUpdate {
	u := h.update(wamid, actors.StatusFailed)
	u.Errors = []actors.WhatsAppError{{Code: code, Title: "Message undeliverable"}}
	return u
}

// statusEvents are the message.status events published, as
// "message id:status".
func (h *harness) statusEvents() []string {
	var out []string
	for _, ev := range h.events.ofType(actors.EventMessageStatus) {
		var v struct{ MessageID, Status string }
		b, err := json.Marshal(ev.Data)
		require.NoError(h.t, err)
		require.NoError(h.t, json.Unmarshal(b, &v))
		out = append(out, v.MessageID+":"+v.Status)
	}
	return out
}

// Statuses that arrive together for one conversation are applied with one
// store write, in order and forward only, publishing one message.status
// event per status that moved its message, as applying them one at a time
// would.
func TestStatusesInOneBatchAreOneWrite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// batch are the statuses of one StatusesChanged ("failed" fails
		// with 131026), as (message, status).
		batch [][2]string
		// restart restarts the engine on the same store before the batch
		// (nothing held any more: each message is read once).
		restart bool
		// wantEvents are the message.status events of the batch.
		wantEvents []string
		// wantStatus is each message's stored status after it.
		wantStatus map[string]string
		// wantWrites is the status writes the batch made.
		wantWrites int32
		// wantDuplicate: nothing moved.
		wantDuplicate bool
	}{
		{name: "several statuses of one message",
			batch:      [][2]string{{"out-1", "delivered"}, {"out-1", "read"}},
			wantEvents: []string{"out-1:delivered", "out-1:read"},
			wantStatus: map[string]string{"out-1": "read", "out-2": "sent"}, wantWrites: 1},
		{name: "statuses across messages",
			batch:      [][2]string{{"out-1", "delivered"}, {"out-2", "delivered"}, {"out-1", "read"}, {"out-2", "read"}},
			wantEvents: []string{"out-1:delivered", "out-2:delivered", "out-1:read", "out-2:read"},
			wantStatus: map[string]string{"out-1": "read", "out-2": "read"}, wantWrites: 1},
		{name: "out of order: read then delivered moves once",
			batch:      [][2]string{{"out-1", "read"}, {"out-1", "delivered"}},
			wantEvents: []string{"out-1:read"},
			wantStatus: map[string]string{"out-1": "read", "out-2": "sent"}, wantWrites: 1},
		{name: "duplicates in the batch move once",
			batch:      [][2]string{{"out-1", "delivered"}, {"out-1", "delivered"}, {"out-1", "sent"}},
			wantEvents: []string{"out-1:delivered"},
			wantStatus: map[string]string{"out-1": "delivered", "out-2": "sent"}, wantWrites: 1},
		{name: "only statuses the store has: no write",
			batch:         [][2]string{{"out-1", "sent"}, {"out-2", "sent"}},
			wantStatus:    map[string]string{"out-1": "sent", "out-2": "sent"},
			wantDuplicate: true},
		{name: "a failed one among them is final and has its consequences",
			batch:      [][2]string{{"out-1", "delivered"}, {"out-2", "failed"}, {"out-2", "read"}, {"out-1", "read"}},
			wantEvents: []string{"out-1:delivered", "out-2:failed", "out-1:read"},
			wantStatus: map[string]string{"out-1": "read", "out-2": "failed"}, wantWrites: 1},
		{name: "after a restart the messages are read, then the batch is one write",
			restart:    true,
			batch:      [][2]string{{"out-1", "delivered"}, {"out-2", "read"}, {"out-1", "read"}, {"out-2", "delivered"}},
			wantEvents: []string{"out-1:delivered", "out-2:read", "out-1:read"},
			wantStatus: map[string]string{"out-1": "read", "out-2": "read"}, wantWrites: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first := newHarness(t, testConfig)
			first.must(first.inbound("wamid.1", "hello"))
			first.must(conversation.Assign{ConversationID: first.must(conversation.Tick{}).Conversation.ID, AgentID: "agent-1", ByUserID: "sup"})
			// The first engine sends both; the sender stores their outcomes.
			for _, id := range []string{"out-1", "out-2"} {
				first.must(text(id, "hi"))
				first.sent(id, "wamid."+id)
			}
			// The engine as the batch finds it, on the same store, its
			// status writes counted: holding both messages (as after
			// their outcomes), or, restarted, holding nothing.
			cs := &countingStore{}
			h := newHarnessOn(t, testConfig, first.store, cs.wrap)
			if !tc.restart {
				for _, id := range []string{"out-1", "out-2"} {
					h.must(conversation.SendOutcome{MessageID: id, WaMessageID: "wamid." + id, Status: actors.StatusSent})
				}
			}
			before := len(h.statusEvents())
			cs.reset()
			var ups []actors.StatusUpdate
			for _, b := range tc.batch {
				if b[1] == actors.StatusFailed {
					ups = append(ups, h.failedUpdate("wamid."+b[0], 131026))
				} else {
					ups = append(ups, h.update("wamid."+b[0], b[1]))
				}
			}
			res := h.must(conversation.StatusesChanged{Updates: ups})
			assert.Equal(t, tc.wantDuplicate, res.Duplicate)
			if got := h.statusEvents()[before:]; len(got) > 0 || len(tc.wantEvents) > 0 {
				assert.Equal(t, tc.wantEvents, got)
			}
			for id, want := range tc.wantStatus {
				assert.Equal(t, want, h.store.message(id).Status, id)
			}
			assert.Equal(t, tc.wantWrites, cs.statusWrites.Load(), "status writes")
			if tc.restart {
				assert.EqualValues(t, 2, cs.byWaID.Load(), "each message read once")
			} else {
				assert.Zero(t, cs.byWaID.Load(), "held messages are not read")
			}
			if m := h.store.message("out-2"); m.Status == actors.StatusFailed {
				require.NotNil(t, m.Error)
				assert.Equal(t, 131026, m.Error.Code)
				assert.NotEmpty(t, m.Error.Kind, "explained as an answered send's error is")
				assert.Len(t, h.events.ofType(actors.EventNotification), 1, "the assignee is told")
			}

			// The same batch delivered again, as WhatsApp and the inbox
			// may: nothing moves, nothing is published, nothing written.
			cs.reset()
			n := len(h.statusEvents())
			again := h.must(conversation.StatusesChanged{Updates: ups})
			assert.True(t, again.Duplicate || len(tc.wantEvents) == 0)
			assert.Len(t, h.statusEvents(), n, "nothing published again")
			for id, want := range tc.wantStatus {
				assert.Equal(t, want, h.store.message(id).Status, id)
			}
		})
	}
}

// A status for a wamid not stored yet is kept among the others, and applied
// when the send's outcome names it; the rest of the batch applies at once.
func TestBatchKeepsUnknownStatusesPending(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "hello"))
	h.must(text("out-1", "hi"))
	h.sent("out-1", "wamid.out-1")
	h.must(text("out-2", "hi"))
	res := h.must(conversation.StatusesChanged{Updates: []actors.StatusUpdate{
		h.update("wamid.out-2", actors.StatusDelivered), h.update("wamid.out-1", actors.StatusRead),
	}})
	assert.False(t, res.Duplicate)
	assert.Equal(t, actors.StatusRead, h.store.message("out-1").Status)
	assert.Equal(t, actors.StatusQueued, h.store.message("out-2").Status)
	require.Len(t, h.store.pendingOf("wamid.out-2"), 1)

	h.sent("out-2", "wamid.out-2")
	assert.Equal(t, actors.StatusDelivered, h.store.message("out-2").Status, "the kept status applied on the outcome")
	assert.Empty(t, h.store.pendingOf("wamid.out-2"))
}
