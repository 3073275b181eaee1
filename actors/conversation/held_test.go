package conversation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// countingStore counts the store calls of the actors above it that the
// messages they hold are meant to spare.
type countingStore struct {
	conversation.Store
	reads        atomic.Int32 // Message
	byWaID       atomic.Int32 // MessageByWaID
	takes        atomic.Int32 // TakePendingStatuses
	statusWrites atomic.Int32 // UpdateMessageStatus
	appends      atomic.Int32 // AppendMessageAndSave
}

// wrap puts s between the actors and the harness's store (a Deps change).
func (s *countingStore) wrap(d *conversation.Deps) { s.Store, d.Store = d.Store, s }

// reset zeroes the counts.
func (s *countingStore) reset() {
	for _, c := range []*atomic.Int32{&s.reads, &s.byWaID, &s.takes, &s.statusWrites, &s.appends} {
		c.Store(0)
	}
}

func (s *countingStore) Message(ctx context.Context, id string) (actors.Message, error) {
	s.reads.Add(1)
	return s.Store.Message(ctx, id)
}

func (s *countingStore) MessageByWaID(ctx context.Context, wamid string) (actors.Message, error) {
	s.byWaID.Add(1)
	return s.Store.MessageByWaID(ctx, wamid)
}

func (s *countingStore) TakePendingStatuses(ctx context.Context, wamid string) ([]actors.StatusUpdate, error) {
	s.takes.Add(1)
	return s.Store.TakePendingStatuses(ctx, wamid)
}

func (s *countingStore) UpdateMessageStatus(ctx context.Context, id, status, wamid string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	s.statusWrites.Add(1)
	return s.Store.UpdateMessageStatus(ctx, id, status, wamid, werr, at)
}

func (s *countingStore) UpdateMessageStatuses(ctx context.Context, changes []actors.StatusChange) ([]bool, error) {
	s.statusWrites.Add(1)
	return s.Store.UpdateMessageStatuses(ctx, changes)
}

func (s *countingStore) AppendMessageAndSave(ctx context.Context, m actors.Message, c actors.Conversation) error {
	s.appends.Add(1)
	return s.Store.AppendMessageAndSave(ctx, m, c)
}

// sent does what the sender does once WhatsApp took message id as wamid:
// it stores the status and wamid, then tells the conversation.
func (h *harness) sent(id, wamid string) conversation.Result {
	h.t.Helper()
	_, err := h.store.UpdateMessageStatus(context.Background(), id, actors.StatusSent, wamid, nil, h.clock.Now())
	require.NoError(h.t, err)
	return h.must(conversation.SendOutcome{MessageID: id, WaMessageID: wamid, Status: actors.StatusSent})
}

// statusOf is Meta's status webhook for wamid.
func (h *harness) statusOf(wamid, status string) conversation.Result {
	h.t.Helper()
	return h.must(conversation.StatusChanged{Update: actors.StatusUpdate{PhoneNumberID: key.PhoneNumberID, RecipientID: key.WaID,
		WaMessageID: wamid, Status: status, Timestamp: h.clock.Now()}})
}

// The hot path of a send: the message stored and queued, the sender's
// outcome and Meta's three statuses applied, with nothing read back from
// the store and one write per status that moves the message on.
func TestSendsAndStatusesReadNothingBack(t *testing.T) {
	t.Parallel()
	cs := &countingStore{}
	h := newHarness(t, testConfig, cs.wrap)
	c := h.must(h.inbound("wamid.1", "hello")).Conversation
	cs.reset()
	const n = 5
	for i := range n {
		id, wamid := fmt.Sprintf("out-%d", i), fmt.Sprintf("wamid.out-%d", i)
		require.False(t, h.must(text(id, "hi")).Duplicate)
		out := h.sent(id, wamid)
		assert.Equal(t, actors.StatusSent, out.Message.Status)
		assert.Equal(t, wamid, out.Message.WaMessageID)
		assert.Equal(t, c.ID, out.Message.ConversationID)
		assert.True(t, h.statusOf(wamid, actors.StatusSent).Duplicate, "Meta's sent: the sender stored it already")
		assert.False(t, h.statusOf(wamid, actors.StatusDelivered).Duplicate)
		assert.False(t, h.statusOf(wamid, actors.StatusRead).Duplicate)
		assert.True(t, h.statusOf(wamid, actors.StatusDelivered).Duplicate, "statuses only move forward")
		assert.Equal(t, actors.StatusRead, h.store.message(id).Status)
	}
	assert.Zero(t, cs.reads.Load(), "no message read back by id")
	assert.Zero(t, cs.byWaID.Load(), "no message read back by wamid")
	assert.Zero(t, cs.takes.Load(), "no pending statuses looked for: none was kept")
	assert.EqualValues(t, 2*n, cs.statusWrites.Load(), "one write for delivered and one for read, per message")
	assert.EqualValues(t, n, cs.appends.Load())
	published := h.events.ofType(actors.EventMessageStatus)
	require.Len(t, published, 3*n, "the outcome, delivered and read, per message")
	for i, want := range []string{actors.StatusSent, actors.StatusDelivered, actors.StatusRead} {
		var v struct{ MessageID, WaMessageID, Status string }
		b, err := json.Marshal(published[i].Data)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &v))
		assert.Equal(t, struct{ MessageID, WaMessageID, Status string }{"out-0", "wamid.out-0", want}, v)
	}

	// The same message id again: a duplicate, answered with the stored
	// message (read for its content); nothing stored or queued again.
	again := h.must(text("out-0", "hi"))
	assert.True(t, again.Duplicate)
	assert.Equal(t, "hi", again.Message.Text)
	assert.Equal(t, actors.StatusRead, again.Message.Status)
	assert.EqualValues(t, 1, cs.reads.Load())
	assert.EqualValues(t, n, cs.appends.Load(), "no insert tried")
	assert.Len(t, h.outbox.published(), n)
}

// After a restart the actor holds nothing: what it needs of a message sent
// before is read from the store once, then held; a status kept pending
// before the restart is still applied.
func TestMessagesSentBeforeARestartAreReadOnce(t *testing.T) {
	t.Parallel()
	before := newHarness(t, testConfig)
	before.must(before.inbound("wamid.1", "hello"))
	for _, id := range []string{"out-1", "out-2", "out-3"} {
		before.must(text(id, "hi "+id))
	}
	// Meta's delivered for out-1 arrives before the sender stored its
	// wamid: kept pending. out-2's outcome was stored, never told.
	before.statusOf("wamid.out-1", actors.StatusDelivered)
	require.Len(t, before.store.pendingOf("wamid.out-1"), 1)
	_, err := before.store.UpdateMessageStatus(t.Context(), "out-2", actors.StatusSent, "wamid.out-2", nil, before.clock.Now())
	require.NoError(t, err)

	// The engine restarts on the same store.
	cs := &countingStore{}
	h := newHarnessOn(t, testConfig, before.store, cs.wrap)
	out := h.sent("out-1", "wamid.out-1")
	assert.Equal(t, "out-1", out.Message.ID)
	assert.Equal(t, actors.StatusDelivered, h.store.message("out-1").Status, "the status kept before the restart is applied")
	assert.Empty(t, h.store.pendingOf("wamid.out-1"))
	assert.EqualValues(t, 1, cs.reads.Load(), "the message read, as it is not held")
	assert.EqualValues(t, 1, cs.takes.Load(), "pending statuses looked for: another activation may have kept some")
	assert.False(t, h.statusOf("wamid.out-1", actors.StatusRead).Duplicate)
	assert.Equal(t, actors.StatusRead, h.store.message("out-1").Status)
	assert.Zero(t, cs.byWaID.Load(), "held since its outcome")

	assert.False(t, h.statusOf("wamid.out-2", actors.StatusDelivered).Duplicate)
	assert.False(t, h.statusOf("wamid.out-2", actors.StatusRead).Duplicate)
	assert.Equal(t, actors.StatusRead, h.store.message("out-2").Status)
	assert.EqualValues(t, 1, cs.byWaID.Load(), "read by its wamid once, then held")

	// A send of out-3 again: not held, so the insert is tried and refused,
	// and the stored message answers.
	again := h.must(text("out-3", "hi out-3"))
	assert.True(t, again.Duplicate)
	assert.Equal(t, "hi out-3", again.Message.Text)
	assert.EqualValues(t, 1, cs.appends.Load())
	assert.EqualValues(t, 2, cs.reads.Load())
	assert.Empty(t, h.outbox.published(), "nothing queued again")
	assert.Len(t, h.store.messagesOf(out.Conversation.ID), 4, "nothing stored again")
}

// A send of a message stored before is a duplicate whatever has changed
// since (the window passed, the conversation closed or changed hands),
// held or not (after a restart), and changes nothing.
func TestSendAgainIsADuplicateBeforeAnyRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// change happens between the two sends, on the conversation c.
		change func(h *harness, c actors.Conversation)
	}{
		{name: "the window passed", change: func(h *harness, _ actors.Conversation) { h.clock.Advance(testConfig.Window + time.Minute) }},
		{name: "the conversation closed", change: func(h *harness, c actors.Conversation) {
			h.must(conversation.Close{ConversationID: c.ID, ByUserID: "sup-1"})
		}},
		{name: "the conversation changed hands", change: func(h *harness, c actors.Conversation) {
			h.must(conversation.Assign{ConversationID: c.ID, AgentID: "ag-2", ByUserID: "sup-1"})
		}},
	}
	for _, tt := range tests {
		for _, restart := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, restarted %v", tt.name, restart), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, testConfig)
				c := h.must(h.inbound("wamid.1", "hello")).Conversation
				h.must(conversation.Assign{ConversationID: c.ID, AgentID: "ag-1", ByUserID: "sup-1"})
				send := text("out-1", "hi")
				send.AgentID = "ag-1"
				h.must(send)
				tt.change(h, c)
				if restart {
					now := h.clock.Now()
					h = newHarnessOn(t, testConfig, h.store)
					h.clock.Advance(now.Sub(h.clock.Now()))
				}
				convs := h.store.conversations()
				res := h.must(send)
				assert.True(t, res.Duplicate)
				assert.Equal(t, "out-1", res.Message.ID)
				assert.Equal(t, "hi", res.Message.Text)
				assert.Equal(t, convs, h.store.conversations(), "no conversation opened")
				assert.Len(t, h.store.messagesOf(c.ID), 2, "nothing stored again")
			})
		}
	}
}

// A status or outcome for a message older than the ones held is read from
// the store.
func TestOlderMessagesAreReadFromTheStore(t *testing.T) {
	t.Parallel()
	cs := &countingStore{}
	h := newHarness(t, testConfig, cs.wrap)
	h.must(h.inbound("wamid.1", "hello"))
	for i := range conversation.RecentCap + 1 {
		h.must(text(fmt.Sprintf("out-%d", i), "hi"))
	}
	cs.reset()
	h.sent(fmt.Sprintf("out-%d", conversation.RecentCap), "wamid.newest")
	assert.Zero(t, cs.reads.Load(), "the newest is held")
	h.sent("out-1", "wamid.out-1")
	assert.Zero(t, cs.reads.Load(), "the oldest held")
	h.sent("out-0", "wamid.oldest")
	assert.EqualValues(t, 1, cs.reads.Load(), "the one before is not held any more")
	assert.EqualValues(t, 1, cs.takes.Load())
	assert.False(t, h.statusOf("wamid.oldest", actors.StatusDelivered).Duplicate)
	assert.Equal(t, actors.StatusDelivered, h.store.message("out-0").Status)
	assert.Zero(t, cs.byWaID.Load(), "held again once read")
}

// conversations is how many conversations are stored.
func (s *memStore) conversations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.convs)
}

// requeue puts a failed outbound message back to queued, as a re-drive of
// the dead letters does (actors.OutboundStore.RequeueFailed), behind the
// actors' back.
func (s *memStore) requeue(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs[id]
	if m.Status == actors.StatusFailed {
		m.Status, m.Error = actors.StatusQueued, nil
		s.msgs[id] = m
	}
}

// A failed message re-driven goes back to queued without its actor
// knowing: the actor does not trust the failed status it holds, and the
// message's new send and statuses are applied.
func TestRedrivenMessageIsAppliedAgain(t *testing.T) {
	t.Parallel()
	cs := &countingStore{}
	h := newHarness(t, testConfig, cs.wrap)
	h.must(h.inbound("wamid.1", "hello"))
	h.must(text("out-1", "hi"))
	// Dead-lettered: the sender stores the failure, then tells.
	werr := &actors.WhatsAppError{Title: "dead-lettered after the last attempt"}
	_, err := h.store.UpdateMessageStatus(t.Context(), "out-1", actors.StatusFailed, "", werr, h.clock.Now())
	require.NoError(t, err)
	h.must(conversation.SendOutcome{MessageID: "out-1", Status: actors.StatusFailed, Error: werr})
	require.Equal(t, actors.StatusFailed, h.store.message("out-1").Status)

	h.store.requeue("out-1")
	cs.reset()
	out := h.sent("out-1", "wamid.again")
	assert.Equal(t, actors.StatusSent, out.Message.Status, "the stored status, read")
	assert.EqualValues(t, 1, cs.reads.Load(), "a held failed status is not trusted")
	for _, st := range []string{actors.StatusSent, actors.StatusDelivered, actors.StatusRead} {
		h.statusOf("wamid.again", st)
		assert.Equal(t, st, h.store.message("out-1").Status)
	}
	assert.Zero(t, cs.byWaID.Load(), "held again")
	assert.EqualValues(t, 2, cs.statusWrites.Load(), "delivered and read")

	// A failed status held, then re-driven and sent again: the next
	// status is written, not answered from memory.
	h.statusOf("wamid.again", actors.StatusFailed)
	require.Equal(t, actors.StatusFailed, h.store.message("out-1").Status)
	h.store.requeue("out-1")
	_, err = h.store.UpdateMessageStatus(t.Context(), "out-1", actors.StatusSent, "wamid.again", nil, h.clock.Now())
	require.NoError(t, err)
	assert.False(t, h.statusOf("wamid.again", actors.StatusDelivered).Duplicate)
	assert.Equal(t, actors.StatusDelivered, h.store.message("out-1").Status)
	assert.True(t, h.statusOf("wamid.again", actors.StatusSent).Duplicate)
}
