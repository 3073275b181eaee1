package conversation_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// TestStateMachine walks every transition of a conversation: each case
// starts from a fresh world and drives the actor to the state it names.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// drive takes the conversation to the state under test and returns
		// the id of the conversation that should hold it.
		drive     func(h *harness) string
		wantState string
	}{
		{name: "new on the customer's first message", wantState: actors.StateNew,
			drive: func(h *harness) string {
				return h.must(h.inbound("wamid.1", "hello")).Conversation.ID
			}},
		{name: "new stays new on a second message with nothing sent", wantState: actors.StateNew,
			drive: func(h *harness) string {
				h.must(h.inbound("wamid.1", "hello"))
				return h.must(h.inbound("wamid.2", "anyone?")).Conversation.ID
			}},
		{name: "new to active when the customer replies to something sent", wantState: actors.StateActive,
			drive: func(h *harness) string {
				h.must(h.inbound("wamid.1", "hello"))
				h.must(text("out-1", "how can I help?"))
				return h.must(h.inbound("wamid.2", "my order")).Conversation.ID
			}},
		{name: "active to expired at the window's end", wantState: actors.StateExpired,
			drive: func(h *harness) string {
				h.must(h.inbound("wamid.1", "hello"))
				h.must(text("out-1", "how can I help?"))
				id := h.must(h.inbound("wamid.2", "my order")).Conversation.ID
				h.clock.Advance(testConfig.Window + time.Second)
				h.eventually(func() bool { return h.store.conversation(id).State == actors.StateExpired }, "expired by the actor's timer")
				return id
			}},
		{name: "new to expired at the window's end", wantState: actors.StateExpired,
			drive: func(h *harness) string {
				id := h.must(h.inbound("wamid.1", "hello")).Conversation.ID
				h.clock.Advance(testConfig.Window + time.Second)
				h.eventually(func() bool { return h.store.conversation(id).State == actors.StateExpired }, "expired by the actor's timer")
				return id
			}},
		{name: "expired to active on a new message", wantState: actors.StateActive,
			drive: func(h *harness) string {
				id := h.must(h.inbound("wamid.1", "hello")).Conversation.ID
				h.clock.Advance(testConfig.Window + time.Second)
				h.eventually(func() bool { return h.store.conversation(id).State == actors.StateExpired }, "expired")
				res := h.must(h.inbound("wamid.2", "back again"))
				require.Equal(h.t, id, res.Conversation.ID, "the same conversation")
				return id
			}},
		{name: "closed by conversation.Close", wantState: actors.StateClosed,
			drive: func(h *harness) string {
				id := h.must(h.inbound("wamid.1", "hello")).Conversation.ID
				res := h.must(conversation.Close{ConversationID: id, ByUserID: "sup-1"})
				require.Equal(h.t, actors.StateClosed, res.Conversation.State)
				return id
			}},
		{name: "a message after close opens a new conversation", wantState: actors.StateNew,
			drive: func(h *harness) string {
				first := h.must(h.inbound("wamid.1", "hello")).Conversation.ID
				h.must(conversation.Close{ConversationID: first, ByUserID: "sup-1"})
				next := h.must(h.inbound("wamid.2", "new topic")).Conversation
				require.NotEqual(h.t, first, next.ID)
				require.Equal(h.t, actors.StateClosed, h.store.conversation(first).State, "the closed one stays closed")
				return next.ID
			}},
	}
	// No idle timeout: the actor stays in memory for its timers to fire.
	cfg := testConfig
	cfg.IdleTimeout = 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfg)
			id := tt.drive(h)
			assert.Equal(t, tt.wantState, h.store.conversation(id).State)
		})
	}
}

func TestFirstMessageOpensTheConversation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	res := h.must(h.inbound("wamid.1", "hello"))
	c := res.Conversation
	assert.Equal(t, key.PhoneNumberID, c.PhoneNumberID)
	assert.Equal(t, key.WaID, c.WaID)
	assert.Equal(t, start, c.LastInboundAt)
	assert.Equal(t, start.Add(testConfig.Window), c.ExpiresAt)
	assert.Equal(t, start.Add(testConfig.Window-testConfig.Warning), c.NextTimerAt, "the warning is the next timer")
	assert.Equal(t, 1, c.Unread)
	assert.EqualValues(t, 1, c.Seq)
	assert.Equal(t, c, h.store.conversation(c.ID), "answered what is stored")

	cust, err := h.store.CustomerByPhone(t.Context(), "+"+key.WaID)
	require.NoError(t, err, "the unknown customer is created")
	assert.Equal(t, "Asha", cust.Name)
	assert.Equal(t, cust.ID, c.CustomerID)

	ms := h.store.messagesOf(c.ID)
	require.Len(t, ms, 1)
	assert.Equal(t, "wamid.1", ms[0].WaMessageID)
	assert.Equal(t, actors.DirectionInbound, ms[0].Direction)

	// Published: the message, the conversation, and a request for an agent
	// carrying the key.
	require.Len(t, h.events.ofType(actors.EventMessageCreated), 1)
	require.Len(t, h.events.ofType(actors.EventConversationUpdated), 1)
	req := h.events.ofType(actors.EventAgentRequested)
	require.Len(t, req, 1)
	assert.Equal(t, c.ID, req[0].ConversationID)
	assert.Equal(t, key.PhoneNumberID, req[0].PhoneNumberID)
	assert.Equal(t, key.WaID, req[0].WaID)
	assert.Nil(t, req[0].Data)
}

func TestCommandsOnAConversationNotOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  func(id string) conversation.Command
	}{
		{name: "close", cmd: func(id string) conversation.Command { return conversation.Close{ConversationID: id, ByUserID: "sup-1"} }},
		{name: "assign", cmd: func(id string) conversation.Command {
			return conversation.Assign{ConversationID: id, AgentID: "ag-1", ByUserID: "sup-1"}
		}},
		{name: "mark read", cmd: func(id string) conversation.Command {
			return conversation.MarkRead{ConversationID: id, ByUserID: "ag-1"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, testConfig)
			id := h.must(h.inbound("wamid.1", "hello")).Conversation.ID
			h.must(conversation.Close{ConversationID: id, ByUserID: "sup-1"})
			_, err := h.ask(tt.cmd(id))
			require.ErrorIs(t, err, conversation.ErrClosed)
			_, err = h.ask(tt.cmd("no-such-conversation"))
			require.ErrorIs(t, err, conversation.ErrClosed, "an id that is not the open one names one closed since")
		})
	}
}

func TestAssignNotifiesAndUnassignAsksForAnAgent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	id := h.must(h.inbound("wamid.1", "hello")).Conversation.ID
	require.Len(t, h.events.ofType(actors.EventAgentRequested), 1)

	res := h.must(conversation.Assign{ConversationID: id, AgentID: "ag-1", ByUserID: "sup-1"})
	assert.Equal(t, "ag-1", res.Conversation.AssigneeID)
	assert.Equal(t, []string{actors.NotifyAssigned}, h.store.notificationsOf("ag-1"))
	assigned := h.events.ofType(actors.EventConversationAssigned)
	require.Len(t, assigned, 1)
	assert.Equal(t, "ag-1", assigned[0].AssigneeID)

	// An automatic assignment does not take an assigned conversation.
	res, err := h.ask(conversation.Assign{ConversationID: id, AgentID: "ag-2", Auto: true})
	require.NoError(t, err)
	assert.True(t, res.Duplicate)
	assert.Equal(t, "ag-1", h.store.conversation(id).AssigneeID)

	// Unassigned by hand: back to the assigner.
	res = h.must(conversation.Assign{ConversationID: id, AgentID: "", ByUserID: "sup-1"})
	assert.Empty(t, res.Conversation.AssigneeID)
	assert.Len(t, h.events.ofType(actors.EventAgentRequested), 2)
	assigned = h.events.ofType(actors.EventConversationAssigned)
	require.Len(t, assigned, 2)
	assert.Equal(t, "ag-1", assigned[1].PreviousAssigneeID, "the agent who lost it is told")

	// A reply of the customer notifies the assignee.
	h.must(conversation.Assign{ConversationID: id, AgentID: "ag-3", Auto: true})
	h.must(h.inbound("wamid.2", "still there?"))
	assert.Equal(t, []string{actors.NotifyAssigned, actors.NotifyCustomerReplied}, h.store.notificationsOf("ag-3"))
}

func TestMarkReadClearsUnread(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "one"))
	id := h.must(h.inbound("wamid.2", "two")).Conversation.ID
	require.Equal(t, 2, h.store.conversation(id).Unread)
	res := h.must(conversation.MarkRead{ConversationID: id, ByUserID: "ag-1"})
	assert.Zero(t, res.Conversation.Unread)
	assert.Zero(t, h.store.conversation(id).Unread)
	res = h.must(conversation.MarkRead{ConversationID: id, ByUserID: "ag-1"})
	assert.True(t, res.Duplicate, "nothing to clear")
}

func TestDuplicateWamidIsAppliedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	first := h.must(h.inbound("wamid.1", "hello"))
	again := h.must(h.inbound("wamid.1", "hello"))
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.Conversation.ID, again.Conversation.ID)
	assert.Equal(t, 1, h.store.conversation(first.Conversation.ID).Unread, "counted once")
	assert.Len(t, h.store.messagesOf(first.Conversation.ID), 1)
	// Announced again (the attempt that stored it may have died before its
	// announcement), with the stored message, and nothing else is.
	created := h.events.ofType(actors.EventMessageCreated)
	require.Len(t, created, 2, "message.created again for a redelivery")
	assert.Equal(t, created[0].Data, created[1].Data, "the stored message, as first announced")
	assert.Len(t, h.events.ofType(actors.EventConversationUpdated), 1, "the conversation did not change")

	// A redelivery of a message of a conversation since closed opens
	// nothing.
	h.must(conversation.Close{ConversationID: first.Conversation.ID})
	late := h.must(h.inbound("wamid.1", "hello"))
	assert.True(t, late.Duplicate)
	assert.Empty(t, late.Conversation.ID, "no conversation opened for it")
	_, err := h.store.OpenConversation(t.Context(), key.PhoneNumberID, key.WaID)
	require.ErrorIs(t, err, actors.ErrNotFound)
}

func TestIdleActorAsksItsParentToPassivateIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "hello"))
	at := h.armed()
	require.Equal(t, start.Add(testConfig.IdleTimeout), at, "the idle timeout comes before the warning")

	h.clock.Advance(testConfig.IdleTimeout - time.Millisecond)
	assert.Equal(t, 1, h.clock.Armed(), "the timer has not fired")
	assert.Empty(t, h.probe.idles())

	h.clock.Advance(time.Millisecond)
	h.eventually(func() bool { return len(h.probe.idles()) == 1 }, "the parent is told")
	idle := h.probe.idles()[0]
	assert.Equal(t, key, idle.Key)
	assert.Contains(t, idle.ID, key.Name(), "the idle actor's own id")
	h.eventually(func() bool { return len(h.probe.stopped()) == 1 }, "the parent stopped it")

	// The next message activates it again from the store.
	loads := h.store.loads.Load()
	res := h.must(h.inbound("wamid.2", "back"))
	assert.EqualValues(t, 2, res.Conversation.Seq)
	assert.Equal(t, loads+1, h.store.loads.Load())
}

func TestMessagesKeepAnActorInMemory(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "hello"))
	h.armed()
	h.clock.Advance(testConfig.IdleTimeout - time.Minute)
	h.must(h.inbound("wamid.2", "still here"))
	// The timer fires at the first idle deadline, finds the actor active
	// since, and re-arms for the new deadline.
	h.clock.Advance(time.Minute)
	at := h.armed()
	assert.Equal(t, start.Add(2*testConfig.IdleTimeout-time.Minute), at)
	assert.Empty(t, h.probe.idles())
}

// TestAnswerWaitsForTheEventsToLeaveTheProcess: with Deps.FlushEvents (a
// cluster), a command that published events is answered only once they
// were flushed, so the caller (the inbox, which then deletes the webhook)
// never gets an answer whose events a node death could still lose; a
// command that published nothing does not wait.
func TestAnswerWaitsForTheEventsToLeaveTheProcess(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var flushes atomic.Int64
	h := newHarness(t, testConfig, func(d *conversation.Deps) {
		d.FlushEvents = func(ctx context.Context) error {
			flushes.Add(1)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	reply := h.dir.Request(key, h.inbound("wamid.1", "hello"), 5*time.Second)
	h.eventually(func() bool { return flushes.Load() == 1 }, "flushing")
	require.Len(t, h.events.ofType(actors.EventMessageCreated), 1, "published before the flush")
	answered := make(chan error, 1)
	go func() {
		_, err := conversation.Await(key, reply)
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("answered before its events were flushed: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-answered)

	h.must(conversation.Tick{})
	assert.EqualValues(t, 1, flushes.Load(), "a command that published nothing does not flush")
}
