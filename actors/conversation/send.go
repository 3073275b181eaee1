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
	if !m.Deadline.IsZero() && !time.Now().Before(m.Deadline) {
		return Failed(fmt.Errorf("send message %s: reached after its caller stopped waiting (%s): %w", m.MessageID,
			m.Deadline.Format(time.RFC3339Nano), actors.ErrUnavailable))
	}
	ctx := a.io()
	defer ctx.finish()
	if !m.Deadline.IsZero() {
		ctx.endBy(m.Deadline)
	}
	if err := a.ensureLoaded(ctx); err != nil {
		return Failed(err)
	}
	now := a.now()
	if a.conv != nil {
		if s := a.conv.recent.byID(m.MessageID); s != nil {
			// A send of a message the actor holds, again: answered with the
			// stored message (its content is not held).
			if r, ok := a.storedBefore(ctx, m.MessageID); ok {
				return r
			}
			return Result{Conversation: a.current(), Message: s.message(a.conv.ID), Duplicate: true}
		}
	}
	if a.refusesOrOpens(&m, now) {
		// What follows refuses the send, opens a conversation or links a
		// medium: a message stored before (a send again) is looked for
		// first, so it is answered Duplicate and changes nothing. A send
		// into the open conversation is stored without a read: a duplicate
		// id fails the insert (below).
		if r, ok := a.storedBefore(ctx, m.MessageID); ok {
			return r
		}
	}
	if a.conv == nil {
		if !m.Template {
			return Failed(ErrOutsideWindow)
		}
		if err := a.openBySend(ctx, &m, now); err != nil {
			return Failed(err)
		}
	} else if m.AgentID != "" && a.conv.AssigneeID != m.AgentID {
		// An agent writes only to their own conversations; the gateway
		// checked it, but the conversation may have changed hands since.
		return Failed(fmt.Errorf("send to conversation %s: not assigned to agent %s: %w", a.conv.ID, m.AgentID, actors.ErrNotFound))
	}
	if !m.Template && !a.windowOpen(now) {
		return Result{Conversation: a.current(), Failure: failureOf(ErrOutsideWindow)}
	}
	msg := actors.Message{ID: m.MessageID, ConversationID: a.conv.ID, Direction: actors.DirectionOutbound, Type: m.Type, Text: m.Text,
		Content: m.Content, Status: actors.StatusQueued, Seq: a.conv.Seq, Raw: m.Body, CreatedAt: now, UpdatedAt: now}
	var upload *actors.OutboundJob
	if m.MediaID != "" {
		if a.env.MediaSends == nil {
			return Failed(fmt.Errorf("send message %s with medium %s: no media store: %w", m.MessageID, m.MediaID, actors.ErrUnavailable))
		}
		mm, job, err := a.env.MediaSends.Prepare(ctx, m.MediaID, a.key().PhoneNumberID, msg)
		if err != nil {
			return Failed(fmt.Errorf("send message %s with medium %s: %w", m.MessageID, m.MediaID, err))
		}
		msg.Media, upload = mm, job
	}
	next := a.current()
	next.LastOutboundAt, next.UpdatedAt = now, now
	if err := a.saveWith(ctx, &next, &msg); err != nil {
		if errors.Is(err, actors.ErrDuplicate) {
			if r, ok := a.storedBefore(ctx, m.MessageID); ok {
				return r
			}
		}
		return Failed(err)
	}
	a.holdSent(sentOf(&msg, true))
	c := a.current()
	if a.env.Outbox == nil {
		return a.failQueued(ctx, msg, c, errors.New("no outbound queue"))
	}
	if upload != nil {
		// The upload goes first on the same queue; the send waits for it
		// (the sender holds a send whose medium is not uploaded yet).
		upload.ConversationID, upload.To, upload.Priority, upload.EnqueuedAt = c.ID, c.WaID, m.Priority, now
		if err := a.env.Outbox.Publish(ctx, *upload); err != nil && !a.mayBeQueued(msg, c, err) {
			return a.failQueued(ctx, msg, c, err)
		}
	}
	job := actors.OutboundJob{MessageID: msg.ID, ConversationID: c.ID, PhoneNumberID: c.PhoneNumberID, To: c.WaID, Priority: m.Priority,
		Body: m.Body, MediaID: m.MediaID, Attempt: 1, EnqueuedAt: now}
	if err := a.env.Outbox.Publish(ctx, job); err != nil && !a.mayBeQueued(msg, c, err) {
		return a.failQueued(ctx, msg, c, err)
	}
	if a.env.Publisher != nil {
		a.publish(actors.EventMessageCreated, &c, "", msg.View())
	}
	return Result{Conversation: c, Message: msg}
}

// refusesOrOpens reports whether send m, now, is refused (no open
// conversation for a free-form message, another agent's conversation, the
// window closed), opens a conversation or names a medium to link: the
// sends that must know first whether the message was stored before.
func (a *Actor) refusesOrOpens(m *Send, now time.Time) bool {
	return a.conv == nil || m.MediaID != "" || (m.AgentID != "" && a.conv.AssigneeID != m.AgentID) || (!m.Template && !a.windowOpen(now))
}

// storedBefore answers a send of message id stored before (a send again):
// Duplicate, with the stored message. ok is false when it is not stored
// (or cannot be read: the send goes on, and the insert tells).
func (a *Actor) storedBefore(ctx context.Context, id string) (Result, bool) {
	existing, err := a.env.Store.Message(ctx, id)
	if err != nil {
		return Result{}, false
	}
	return Result{Conversation: a.current(), Message: existing, Duplicate: true}, true
}

// heldMessages is what the actor holds of its open conversation's
// outbound messages; nil (which holds none) when it holds none.
func (a *Actor) heldMessages() *recent {
	if a.conv == nil {
		return nil
	}
	return a.conv.recent
}

// holdSent holds s, an outbound message of the open conversation just
// stored or read, and returns where (valid until the next one is held).
func (a *Actor) holdSent(s sentMessage) *sentMessage {
	if a.conv.recent == nil {
		a.conv.recent = new(recent)
	}
	return a.conv.recent.add(s)
}

// openBySend opens the conversation a template starts. An agent's template
// makes the agent its assignee (they could not open it otherwise);
// anyone else's leaves it to the assigner.
func (a *Actor) openBySend(ctx context.Context, m *Send, now time.Time) error {
	key := a.key()
	c := actors.Conversation{ID: actors.NewID(), CustomerID: m.CustomerID, PhoneNumberID: key.PhoneNumberID, WaID: key.WaID,
		State: actors.StateNew, AssigneeID: m.AgentID, Version: 1, Epoch: a.epoch, CreatedAt: now, UpdatedAt: now}
	if err := a.env.Store.CreateConversation(ctx, c); err != nil {
		a.fenced(err)
		return fmt.Errorf("create conversation for %s: %w", key.Name(), err)
	}
	a.hold(&c)
	a.log().Info("conversation opened by a template", zap.String("conversation_id", c.ID), zap.String("agent_id", m.AgentID))
	if c.AssigneeID == "" {
		a.requestAgent(&c)
		return nil
	}
	if a.env.Publisher != nil {
		a.publish(actors.EventConversationAssigned, &c, "", a.assignedView(ctx, &c))
	}
	return nil
}

// mayBeQueued reports whether a failed publish may have queued its job
// after all (actors.ErrPublishUnknown): the broker may deliver it, so the
// message stays queued and the send is accepted, never reported failed
// while it may still go out. The Outbox publishes such a job again until
// the queue confirms one (cmd's relay), and the sender sends a message
// only while it is queued, so it goes out once.
func (a *Actor) mayBeQueued(msg actors.Message, c actors.Conversation, err error) bool {
	if !errors.Is(err, actors.ErrPublishUnknown) {
		return false
	}
	a.log().Warn("outbound queue did not confirm a message; kept queued", zap.String("conversation_id", c.ID),
		zap.String("message_id", msg.ID), zap.Error(err))
	return true
}

// failQueued records a message the queue surely did not take as failed, so it is
// never sent behind the caller's back, and answers ErrQueueUnavailable.
// The publish that failed has usually spent the request's context (it
// waited for the broker until the deadline), so the write gets a fresh
// one: a message left queued would be published again later and sent
// after the caller was told to send it again.
func (a *Actor) failQueued(_ context.Context, msg actors.Message, c actors.Conversation, cause error) Result {
	ctx := a.io()
	defer ctx.finish()
	werr := &actors.WhatsAppError{Code: 0, Title: "queue unavailable", Message: "the message was not queued; send it again"}
	at := a.now()
	// Unfenced: this activation stored msg queued a moment ago and the
	// queue surely did not take it; failing it undoes that write, and must
	// happen even if a newer activation took the key since, or the message
	// could be sent later behind the caller's back.
	if _, err := a.env.Store.UpdateMessageStatus(ctx, msg.ID, actors.StatusFailed, "", werr, at); err != nil {
		a.log().Error("record unqueued message as failed", zap.String("conversation_id", c.ID), zap.Error(err))
	} else if s := a.heldMessages().byID(msg.ID); s != nil {
		s.advance(actors.StatusFailed, werr, at)
	}
	a.log().Warn("outbound queue refused a message", zap.String("conversation_id", c.ID), zap.Error(cause))
	return Result{Conversation: c, Failure: failureOf(fmt.Errorf("publish message %s: %w", msg.ID, errors.Join(ErrQueueUnavailable, cause)))}
}

// windowOpen reports whether a free-form message may be sent now.
func (a *Actor) windowOpen(now time.Time) bool {
	if a.conv == nil {
		return false
	}
	c := a.current()
	if c.LastInboundAt.IsZero() || c.State == actors.StateExpired || c.State == actors.StateClosed {
		return false
	}
	return now.Before(c.LastInboundAt.Add(a.env.Config.Window))
}
