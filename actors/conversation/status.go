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
		if u.Status == actors.StatusFailed && m.Direction == actors.DirectionOutbound {
			// The same table as for an error answered to the send: the
			// failure's kind and the reason an agent can act on.
			e = e.Explained()
		}
		werr = &e
	}
	at := u.Timestamp
	if at.IsZero() {
		at = a.now()
	}
	if u.Pricing != nil && a.env.Pricing != nil && m.Direction == actors.DirectionOutbound && (m.Pricing == nil || *m.Pricing != *u.Pricing) {
		if err := a.env.Pricing.SetMessagePricing(ctx, m.ID, u.PhoneNumberID, *u.Pricing); err != nil {
			return Failed(fmt.Errorf("record pricing of message %s: %w", m.ID, err))
		}
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
	if u.Status == actors.StatusFailed {
		if err := a.failedMessage(ctx, m, werr, true, &c); err != nil {
			return Failed(err)
		}
	}
	return Result{Conversation: a.current()}
}
