package conversation

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// commandOn readies a command on conversation id: the actor is loaded, and
// id is its open conversation (ErrClosed otherwise: closed since, or
// another one).
func (a *Actor) commandOn(ctx context.Context, id string) error {
	if err := a.ensureLoaded(ctx); err != nil {
		return err
	}
	if a.conv == nil || a.conv.ID != id {
		return ErrClosed
	}
	return nil
}

func (a *Actor) close(m Close) Result {
	ctx := a.io()
	defer ctx.finish()
	if err := a.commandOn(ctx, m.ConversationID); err != nil {
		return Failed(err)
	}
	now := a.now()
	next := a.current()
	next.State, next.ClosedAt, next.UpdatedAt, next.NextTimerAt = actors.StateClosed, now, now, time.Time{}
	if err := a.save(ctx, &next); err != nil {
		return Failed(err)
	}
	if a.env.Publisher != nil {
		a.publish(actors.EventConversationUpdated, &next, "", next.View())
	}
	a.armTimer()
	a.log().Info("conversation closed", zap.String("conversation_id", next.ID), zap.String("agent_id", m.ByUserID))
	return Result{Conversation: next}
}

func (a *Actor) assign(m Assign) Result {
	ctx := a.io()
	defer ctx.finish()
	if err := a.commandOn(ctx, m.ConversationID); err != nil {
		return Failed(err)
	}
	if m.Auto && (a.conv.AssigneeID != "" || (a.conv.State() != actors.StateNew && a.conv.State() != actors.StateActive)) {
		return Result{Conversation: a.current(), Duplicate: true}
	}
	if a.conv.AssigneeID == m.AgentID {
		return Result{Conversation: a.current(), Duplicate: true}
	}
	prevAssignee := a.conv.AssigneeID
	next := a.current()
	next.AssigneeID, next.UpdatedAt = m.AgentID, a.now()
	if err := a.save(ctx, &next); err != nil {
		return Failed(err)
	}
	c := &next
	if a.env.Publisher != nil {
		a.publish(actors.EventConversationAssigned, c, prevAssignee, a.assignedView(ctx, c))
	}
	if c.AssigneeID != "" {
		a.notify(ctx, c.AssigneeID, actors.NotifyAssigned, "Conversation assigned", "A conversation with +"+c.WaID+" was assigned to you.", c)
	} else {
		// Unassigned by hand: back to auto-assignment.
		a.requestAgent(c)
	}
	return Result{Conversation: *c}
}

func (a *Actor) markRead(m MarkRead) Result {
	ctx := a.io()
	defer ctx.finish()
	if err := a.commandOn(ctx, m.ConversationID); err != nil {
		return Failed(err)
	}
	if a.conv.unreadZero() {
		return Result{Conversation: a.current(), Duplicate: true}
	}
	next := a.current()
	next.Unread, next.UpdatedAt = 0, a.now()
	if err := a.save(ctx, &next); err != nil {
		return Failed(err)
	}
	c := &next
	if a.env.Publisher != nil {
		a.publish(actors.EventConversationUpdated, c, "", c.View())
	}
	return Result{Conversation: *c}
}

// assignedView is the conversation.assigned event's data: the conversation
// and its latest message, when it can be read (the event goes out without
// it otherwise: the assignee can still list the messages).
func (a *Actor) assignedView(ctx context.Context, c *actors.Conversation) actors.AssignedView {
	v := actors.AssignedView{ConversationView: c.View()}
	if a.env.Messages == nil {
		return v
	}
	ms, _, err := a.env.Messages.ListMessages(ctx, c.ID, "", 1)
	if err != nil {
		a.log().Warn("read the latest message for the assignment", zap.String("conversation_id", c.ID), zap.Error(err))
		return v
	}
	if len(ms) == 1 {
		mv := ms[0].View()
		v.LastMessage = &mv
	}
	return v
}
