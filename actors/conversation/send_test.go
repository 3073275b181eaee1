package conversation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

func TestFreeFormSendInsideTheWindowIsQueued(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	c := h.must(h.inbound("wamid.1", "hello")).Conversation
	h.clock.Advance(time.Minute)
	res := h.must(text("out-1", "how can I help?"))
	assert.Equal(t, actors.StatusQueued, res.Message.Status)
	assert.Equal(t, c.ID, res.Message.ConversationID)
	assert.Equal(t, start.Add(time.Minute), h.store.conversation(c.ID).LastOutboundAt)
	assert.Equal(t, actors.StatusQueued, h.store.message("out-1").Status)
	jobs := h.outbox.published()
	require.Len(t, jobs, 1)
	assert.Equal(t, actors.OutboundJob{MessageID: "out-1", ConversationID: c.ID, PhoneNumberID: key.PhoneNumberID, To: key.WaID,
		Priority: actors.PriorityReply, Body: text("out-1", "how can I help?").Body, Attempt: 1, EnqueuedAt: start.Add(time.Minute)}, jobs[0])
	require.Len(t, h.events.ofType(actors.EventMessageCreated), 2, "the inbound and the outbound message")

	// The same message id again queues nothing more.
	again := h.must(text("out-1", "how can I help?"))
	assert.True(t, again.Duplicate)
	assert.Len(t, h.outbox.published(), 1)
}

func TestFreeFormSendOutsideTheWindowIsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// drive prepares the conversation; the send follows.
		drive func(h *harness)
	}{
		{name: "the customer never wrote", drive: func(*harness) {}},
		{name: "the window has passed", drive: func(h *harness) {
			h.must(h.inbound("wamid.1", "hello"))
			h.clock.Advance(testConfig.Window)
		}},
		{name: "the conversation expired", drive: func(h *harness) {
			h.must(h.inbound("wamid.1", "hello"))
			h.clock.Advance(testConfig.Window + time.Second)
			h.must(conversation.Tick{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, testConfig)
			tt.drive(h)
			_, err := h.ask(text("out-1", "too late"))
			require.ErrorIs(t, err, conversation.ErrOutsideWindow)
			assert.Empty(t, h.outbox.published(), "nothing queued")
			_, lerr := h.store.Message(t.Context(), "out-1")
			assert.ErrorIs(t, lerr, actors.ErrNotFound, "nothing stored")
		})
	}
}

func TestTemplateOpensAConversation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// agentID is the sender when an agent; "" for a supervisor or admin.
		agentID string
		// wantAssignee is who holds the new conversation.
		wantAssignee string
		// wantRequested: the conversation asks the assigner for an agent.
		wantRequested bool
	}{
		{name: "by a supervisor: left to the assigner", agentID: "", wantAssignee: "", wantRequested: true},
		{name: "by an agent: assigned to the agent", agentID: "ag-1", wantAssignee: "ag-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, testConfig)
			res := h.must(template("tpl-1", "cust-1", tt.agentID))
			c := res.Conversation
			assert.Equal(t, actors.StateNew, c.State)
			assert.Equal(t, "cust-1", c.CustomerID)
			assert.Equal(t, tt.wantAssignee, c.AssigneeID)
			assert.Equal(t, c, h.store.conversation(c.ID))
			assert.True(t, c.LastInboundAt.IsZero(), "the customer has not written")
			require.Len(t, h.outbox.published(), 1)
			assert.Equal(t, actors.PriorityBulk, h.outbox.published()[0].Priority)
			assert.Equal(t, tt.wantRequested, len(h.events.ofType(actors.EventAgentRequested)) == 1)
			assigned := h.events.ofType(actors.EventConversationAssigned)
			if tt.wantAssignee != "" {
				require.Len(t, assigned, 1, "the agent's socket and the assigner learn it")
				assert.Equal(t, tt.wantAssignee, assigned[0].AssigneeID)
			} else {
				assert.Empty(t, assigned)
			}

			// A second template goes to the same conversation.
			next := h.must(template("tpl-2", "cust-1", tt.agentID))
			assert.Equal(t, c.ID, next.Conversation.ID)
		})
	}
}

func TestAgentSendsOnlyToTheirConversation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	c := h.must(h.inbound("wamid.1", "hello")).Conversation
	h.must(conversation.Assign{ConversationID: c.ID, AgentID: "ag-1", ByUserID: "sup-1"})

	reply := text("out-1", "hi")
	reply.AgentID = "ag-2"
	_, err := h.ask(reply)
	require.ErrorIs(t, err, actors.ErrNotFound, "another agent's conversation is not theirs to see")
	_, err = h.ask(template("tpl-1", c.CustomerID, "ag-2"))
	require.ErrorIs(t, err, actors.ErrNotFound)
	assert.Empty(t, h.outbox.published())

	reply.AgentID = "ag-1"
	h.must(reply)
	assert.Len(t, h.outbox.published(), 1)
}

func TestQueueRefusalMarksTheMessageFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "hello"))
	h.outbox.refuse(fmt.Errorf("outbound queue full: %w", actors.ErrUnavailable))
	res, err := h.ask(text("out-1", "hi"))
	require.ErrorIs(t, err, conversation.ErrQueueUnavailable)
	require.ErrorIs(t, err, actors.ErrUnavailable)
	assert.NotEmpty(t, res.Conversation.ID, "answered with the conversation")
	m := h.store.message("out-1")
	assert.Equal(t, actors.StatusFailed, m.Status, "never sent behind the caller's back")
	require.NotNil(t, m.Error)
}

// deadlineOutbox is a queue that holds every publish until its context
// ends, as RabbitMQ's Publish does while the broker is away.
type deadlineOutbox struct{}

func (deadlineOutbox) Publish(ctx context.Context, _ actors.OutboundJob) error {
	<-ctx.Done()
	return fmt.Errorf("wait for rabbitmq connection: %w: %w", actors.ErrUnavailable, ctx.Err())
}

// ctxStore refuses status writes under an ended context, as a real
// store's driver does.
type ctxStore struct{ conversation.Store }

func (s ctxStore) UpdateMessageStatus(ctx context.Context, id, status, wamid string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return s.Store.UpdateMessageStatus(ctx, id, status, wamid, werr, at)
}

func (s ctxStore) UpdateMessageStatuses(ctx context.Context, changes []actors.StatusChange) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Store.UpdateMessageStatuses(ctx, changes)
}

// A publish that waited out the actor's deadline still leaves its message
// failed, not queued (a queued one would be published again later and
// sent after the caller was told 503).
func TestQueueTimeoutMarksTheMessageFailed(t *testing.T) {
	t.Parallel()
	cfg := testConfig
	cfg.IOTimeout = 50 * time.Millisecond
	h := newHarness(t, cfg, func(d *conversation.Deps) { d.Outbox, d.Store = deadlineOutbox{}, ctxStore{d.Store} })
	h.must(h.inbound("wamid.1", "hello"))
	_, err := h.ask(text("out-1", "hi"))
	require.ErrorIs(t, err, conversation.ErrQueueUnavailable)
	assert.Equal(t, actors.StatusFailed, h.store.message("out-1").Status)
}

// A publish whose outcome is unknown may have queued the job: the send is
// accepted and the message stays queued (the Outbox publishes it again),
// never reported failed while it may still go out.
func TestUnknownPublishOutcomeAcceptsTheSend(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "hello"))
	h.outbox.refuse(fmt.Errorf("publish message out-1: confirm lost: %w", actors.ErrPublishUnknown))
	res, err := h.ask(text("out-1", "hi"))
	require.NoError(t, err)
	assert.Equal(t, "out-1", res.Message.ID)
	assert.Equal(t, actors.StatusQueued, h.store.message("out-1").Status)
}

// A Send reached after its caller stopped waiting changes nothing: the
// caller answered 503, so the message must never be queued.
func TestSendAfterItsDeadlineChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "hello"))
	late := text("out-1", "hi")
	late.Deadline = time.Now().Add(-time.Millisecond)
	_, err := h.ask(late)
	require.ErrorIs(t, err, actors.ErrUnavailable)
	assert.Empty(t, h.outbox.published())
	_, err = h.store.Message(context.Background(), "out-1")
	require.ErrorIs(t, err, actors.ErrNotFound, "nothing stored")

	// A publish under way is bounded by the deadline.
	h2 := newHarness(t, testConfig, func(d *conversation.Deps) { d.Outbox = deadlineOutbox{} })
	h2.must(h2.inbound("wamid.1", "hello"))
	bounded := text("out-2", "hi")
	bounded.Deadline = time.Now().Add(100 * time.Millisecond)
	start := time.Now()
	_, err = h2.ask(bounded)
	require.ErrorIs(t, err, conversation.ErrQueueUnavailable)
	assert.Less(t, time.Since(start), 2*time.Second, "the publish gave up at the deadline, not at the I/O timeout")
	assert.Equal(t, actors.StatusFailed, h2.store.message("out-2").Status)
}

func TestSendOutcome(t *testing.T) {
	t.Parallel()
	windowClosed := &actors.WhatsAppError{Code: 131047, Title: "131047 re-engagement window closed"}
	tests := []struct {
		name    string
		outcome func(msgID string) conversation.SendOutcome
		// stored is the status the sender persisted before telling the
		// conversation.
		stored    string
		wantState string
		// wantNotified are the assignee's notifications after the outcome.
		wantNotified []string
	}{
		{name: "sent", stored: actors.StatusSent, wantState: actors.StateActive, wantNotified: []string{actors.NotifyAssigned},
			outcome: func(id string) conversation.SendOutcome {
				return conversation.SendOutcome{MessageID: id, WaMessageID: "wamid.out", Status: actors.StatusSent}
			}},
		{name: "failed with a closed window expires the conversation", stored: actors.StatusFailed, wantState: actors.StateExpired,
			wantNotified: []string{actors.NotifyAssigned, actors.NotifyMessageFailed},
			outcome: func(id string) conversation.SendOutcome {
				return conversation.SendOutcome{MessageID: id, Status: actors.StatusFailed, Error: windowClosed, WindowClosed: true}
			}},
		{name: "failed otherwise leaves the window alone", stored: actors.StatusFailed, wantState: actors.StateActive,
			wantNotified: []string{actors.NotifyAssigned, actors.NotifyMessageFailed},
			outcome: func(id string) conversation.SendOutcome {
				return conversation.SendOutcome{MessageID: id, Status: actors.StatusFailed, Error: &actors.WhatsAppError{Code: 131026}}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, testConfig)
			c := h.must(h.inbound("wamid.1", "hello")).Conversation
			h.must(conversation.Assign{ConversationID: c.ID, AgentID: "ag-1", ByUserID: "sup-1"})
			h.must(text("out-1", "hi"))
			h.must(h.inbound("wamid.2", "thanks"))
			require.Equal(t, actors.StateActive, h.store.conversation(c.ID).State)

			o := tt.outcome("out-1")
			_, err := h.store.UpdateMessageStatus(t.Context(), "out-1", tt.stored, o.WaMessageID, o.Error, h.clock.Now())
			require.NoError(t, err)
			res := h.must(o)
			assert.Equal(t, "out-1", res.Message.ID)
			got := h.store.conversation(c.ID)
			assert.Equal(t, tt.wantState, got.State)
			if tt.wantState == actors.StateExpired {
				assert.True(t, got.NextTimerAt.IsZero())
			}
			statuses := h.events.ofType(actors.EventMessageStatus)
			require.Len(t, statuses, 1, "the outcome is published")
			assert.Equal(t, []string{actors.NotifyAssigned, actors.NotifyCustomerReplied}, h.store.notificationsOf("ag-1")[:2])
			assert.Equal(t, tt.wantNotified[1:], h.store.notificationsOf("ag-1")[2:])
		})
	}
}

func TestStatusesOnlyMoveForward(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "hello"))
	h.must(text("out-1", "hi"))
	_, err := h.store.UpdateMessageStatus(t.Context(), "out-1", actors.StatusSent, "wamid.out", nil, h.clock.Now())
	require.NoError(t, err)
	tests := []struct {
		status        string
		wantStatus    string
		wantDuplicate bool
	}{
		{status: actors.StatusRead, wantStatus: actors.StatusRead},
		{status: actors.StatusDelivered, wantStatus: actors.StatusRead, wantDuplicate: true},
		{status: actors.StatusSent, wantStatus: actors.StatusRead, wantDuplicate: true},
		{status: actors.StatusFailed, wantStatus: actors.StatusFailed},
		{status: actors.StatusRead, wantStatus: actors.StatusFailed, wantDuplicate: true},
	}
	for i, tt := range tests {
		res := h.must(conversation.StatusChanged{Update: actors.StatusUpdate{PhoneNumberID: key.PhoneNumberID, RecipientID: key.WaID,
			WaMessageID: "wamid.out", Status: tt.status, Timestamp: h.clock.Now()}})
		assert.Equal(t, tt.wantDuplicate, res.Duplicate, "status %d (%s)", i, tt.status)
		assert.Equal(t, tt.wantStatus, h.store.message("out-1").Status, "after status %d (%s)", i, tt.status)
	}
	assert.Len(t, h.events.ofType(actors.EventMessageStatus), 2, "only the changes are published")
}

func TestEarlyStatusIsAppliedWhenTheWamidAppears(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig)
	h.must(h.inbound("wamid.1", "hello"))
	h.must(text("out-1", "hi"))

	// Meta's delivered arrives before the sender recorded the wamid.
	h.must(conversation.StatusChanged{Update: actors.StatusUpdate{PhoneNumberID: key.PhoneNumberID, RecipientID: key.WaID,
		WaMessageID: "wamid.early", Status: actors.StatusDelivered, Timestamp: h.clock.Now()}})
	require.Len(t, h.store.pendingOf("wamid.early"), 1, "kept for later")
	assert.Equal(t, actors.StatusQueued, h.store.message("out-1").Status)

	_, err := h.store.UpdateMessageStatus(t.Context(), "out-1", actors.StatusSent, "wamid.early", nil, h.clock.Now())
	require.NoError(t, err)
	h.must(conversation.SendOutcome{MessageID: "out-1", WaMessageID: "wamid.early", Status: actors.StatusSent})
	assert.Equal(t, actors.StatusDelivered, h.store.message("out-1").Status)
	assert.Empty(t, h.store.pendingOf("wamid.early"), "applied and removed")
}

func TestSendWithoutAnOutboxIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testConfig, func(d *conversation.Deps) { d.Outbox = nil })
	h.must(h.inbound("wamid.1", "hello"))
	_, err := h.ask(text("out-1", "hi"))
	require.ErrorIs(t, err, conversation.ErrQueueUnavailable)
	assert.Equal(t, actors.StatusFailed, h.store.message("out-1").Status)
}
