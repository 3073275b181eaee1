package conversation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

// statusView is the data of a message.status event.
type statusView struct {
	MessageID      string                `json:"messageId"`
	ConversationID string                `json:"conversationId"`
	WaMessageID    string                `json:"waMessageId"`
	Status         string                `json:"status"`
	Error          *actors.WhatsAppError `json:"error,omitempty"`
	At             time.Time             `json:"at"`
}

// status applies a delivery status, forward only; a status for an unknown
// wamid is kept until the message appears.
func (a *Actor) status(u actors.StatusUpdate) Result {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.ensureLoaded(ctx); err != nil {
		return Failed(err)
	}
	m, err := a.env.Store.MessageByWaID(ctx, u.WaMessageID)
	if errors.Is(err, actors.ErrNotFound) {
		if err := a.env.Store.AddPendingStatus(ctx, u); err != nil {
			return Failed(fmt.Errorf("keep pending status %s/%s: %w", u.WaMessageID, u.Status, err))
		}
		return Result{Conversation: a.current()}
	}
	if err != nil {
		return Failed(fmt.Errorf("look up wamid %s: %w", u.WaMessageID, err))
	}
	return a.applyStatus(ctx, m, u)
}

func (a *Actor) applyStatus(ctx context.Context, m actors.Message, u actors.StatusUpdate) Result {
	var werr *actors.WhatsAppError
	if len(u.Errors) > 0 {
		e := u.Errors[0]
		werr = &e
	}
	at := u.Timestamp
	if at.IsZero() {
		at = a.now()
	}
	changed, err := a.env.Store.UpdateMessageStatus(ctx, m.ID, u.Status, "", werr, at)
	if err != nil {
		return Failed(fmt.Errorf("update status of message %s: %w", m.ID, err))
	}
	if !changed {
		return Result{Conversation: a.current(), Duplicate: true}
	}
	c := a.current()
	if c.ID != m.ConversationID {
		c = actors.Conversation{ID: m.ConversationID}
	}
	if a.env.Publisher != nil {
		a.publish(actors.EventMessageStatus, &c, "", statusView{MessageID: m.ID, ConversationID: m.ConversationID, WaMessageID: u.WaMessageID,
			Status: u.Status, Error: werr, At: at.UTC()})
	}
	if u.Status == actors.StatusFailed && c.AssigneeID != "" {
		body := "A message could not be delivered."
		if werr != nil {
			body = fmt.Sprintf("A message could not be delivered: %s (%d).", werr.Title, werr.Code)
		}
		a.notify(ctx, c.AssigneeID, actors.NotifyMessageFailed, "Message failed", body, &c)
	}
	return Result{Conversation: a.current()}
}
