package conversation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// send persists an outbound message as queued and puts it on the outbound
// queue; free-form messages only inside the service window.
func (a *Actor) send(m Send) Result {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.ensureLoaded(ctx); err != nil {
		return Result{Err: err}
	}
	now := a.now()
	if existing, err := a.deps.Store.Message(ctx, m.MessageID); err == nil {
		return Result{Conversation: a.current(), Message: existing, Duplicate: true}
	}
	if a.conv == nil {
		if !m.Template {
			return Result{Err: ErrOutsideWindow}
		}
		key := a.key()
		c := actors.Conversation{ID: actors.NewID(), CustomerID: m.CustomerID, PhoneNumberID: key.PhoneNumberID, WaID: key.WaID,
			State: actors.StateNew, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := a.deps.Store.CreateConversation(ctx, c); err != nil {
			return Result{Err: fmt.Errorf("create conversation for %s: %w", key.Name(), err)}
		}
		a.hold(&c)
		a.requestAgent(a.conv)
	}
	if !m.Template && !a.windowOpen(now) {
		return Result{Conversation: *a.conv, Err: ErrOutsideWindow}
	}
	msg := actors.Message{ID: m.MessageID, ConversationID: a.conv.ID, Direction: actors.DirectionOutbound, Type: m.Type, Text: m.Text,
		Content: m.Content, Status: actors.StatusQueued, Seq: a.conv.Seq, Raw: m.Body, CreatedAt: now, UpdatedAt: now}
	next := *a.conv
	next.LastOutboundAt, next.UpdatedAt = now, now
	if err := a.saveWith(ctx, &next, &msg); err != nil {
		return Result{Err: err}
	}
	c := *a.conv
	if a.deps.Outbox == nil {
		return a.failQueued(ctx, msg, c, errors.New("no outbound queue"))
	}
	job := actors.OutboundJob{MessageID: msg.ID, ConversationID: c.ID, PhoneNumberID: c.PhoneNumberID, To: c.WaID, Priority: m.Priority,
		Body: m.Body, Attempt: 1, EnqueuedAt: now}
	if err := a.deps.Outbox.Publish(ctx, job); err != nil {
		return a.failQueued(ctx, msg, c, err)
	}
	if a.deps.Publisher != nil {
		a.publish(actors.EventMessageCreated, &c, "", msg.View())
	}
	return Result{Conversation: c, Message: msg}
}

// failQueued records a message the queue did not take as failed, so it is
// never sent behind the caller's back, and answers ErrQueueUnavailable.
func (a *Actor) failQueued(ctx context.Context, msg actors.Message, c actors.Conversation, cause error) Result {
	werr := &actors.WhatsAppError{Code: 0, Title: "queue unavailable", Message: "the message was not queued; send it again"}
	if _, err := a.deps.Store.UpdateMessageStatus(ctx, msg.ID, actors.StatusFailed, "", werr, a.now()); err != nil {
		a.log().Error("record unqueued message as failed", zap.String("conversation_id", c.ID), zap.Error(err))
	}
	a.log().Warn("outbound queue refused a message", zap.String("conversation_id", c.ID), zap.Error(cause))
	return Result{Conversation: c, Err: fmt.Errorf("publish message %s: %w", msg.ID, errors.Join(ErrQueueUnavailable, cause))}
}

// windowOpen reports whether a free-form message may be sent now.
func (a *Actor) windowOpen(now time.Time) bool {
	c := a.conv
	if c == nil || c.LastInboundAt.IsZero() || c.State == actors.StateExpired || c.State == actors.StateClosed {
		return false
	}
	return now.Before(c.LastInboundAt.Add(a.deps.Config.Window))
}

// sendOutcome publishes a send's outcome and applies what follows from it.
func (a *Actor) sendOutcome(o SendOutcome) Result {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.ensureLoaded(ctx); err != nil {
		return Result{Err: err}
	}
	m, err := a.deps.Store.Message(ctx, o.MessageID)
	if err != nil {
		return Result{Err: fmt.Errorf("load sent message %s: %w", o.MessageID, err)}
	}
	c := a.current()
	if c.ID != m.ConversationID {
		c = actors.Conversation{ID: m.ConversationID}
	}
	if a.deps.Publisher != nil {
		a.publish(actors.EventMessageStatus, &c, "", statusView{MessageID: m.ID, ConversationID: m.ConversationID, WaMessageID: m.WaMessageID,
			Status: m.Status, Error: m.Error, At: m.UpdatedAt})
	}
	if o.WaMessageID != "" {
		pending, err := a.deps.Store.TakePendingStatuses(ctx, o.WaMessageID)
		if err != nil {
			a.log().Warn("take pending statuses", zap.String("wa_message_id", o.WaMessageID), zap.Error(err))
		}
		for _, u := range pending {
			m.WaMessageID = o.WaMessageID
			a.applyStatus(ctx, m, u)
		}
	}
	if o.Status == actors.StatusFailed && c.AssigneeID != "" {
		body := "A message could not be delivered."
		if o.Error != nil {
			body = fmt.Sprintf("A message could not be delivered: %s (%d).", o.Error.Title, o.Error.Code)
		}
		a.notify(ctx, c.AssigneeID, actors.NotifyMessageFailed, "Message failed", body, &c)
	}
	if o.WindowClosed && a.conv != nil && a.conv.ID == m.ConversationID && (a.conv.State == actors.StateNew || a.conv.State == actors.StateActive) {
		next := *a.conv
		next.State, next.NextTimerAt, next.UpdatedAt = actors.StateExpired, time.Time{}, a.now()
		if err := a.save(ctx, &next); err != nil {
			return Result{Err: err}
		}
		if a.deps.Publisher != nil {
			a.publish(actors.EventConversationUpdated, a.conv, "", a.conv.View())
		}
		a.armTimer()
	}
	return Result{Conversation: a.current(), Message: m}
}
