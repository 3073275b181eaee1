package conversation

import (
	"fmt"
	"time"

	"go.uber.org/zap"

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

// status applies one delivery status (see statuses).
func (a *Actor) status(u actors.StatusUpdate) Result {
	return a.statuses([]actors.StatusUpdate{u})
}

// holdRead holds m, as read from the store, when it is an outbound message
// of the open conversation, and returns where (valid until the next one
// is held); nil otherwise. A message held already takes what the store
// knows beyond it (its wamid, a status further on, its pricing).
func (a *Actor) holdRead(m *actors.Message) *sentMessage {
	if a.conv == nil || m.ConversationID != a.conv.ID || m.Direction != actors.DirectionOutbound || rankOf(m.Status) == 0 {
		return nil
	}
	s := a.conv.recent.byID(m.ID)
	if s == nil {
		return a.holdSent(sentOf(m, false))
	}
	if m.WaMessageID != "" {
		s.wamid = m.WaMessageID
	}
	s.set(m.Status, m.Error, m.UpdatedAt)
	if m.Pricing != nil {
		s.pricing = m.Pricing
	}
	return s
}

// sendOutcome publishes a send's outcome and applies what follows from it.
// The sender stored the outcome (status, wamid, error) before telling the
// actor, so a message the actor holds takes it from the command; one it
// does not hold (sent before a restart, or long ago) is read. Pending
// statuses are looked for only where some may be (see recent.mayPend).
func (a *Actor) sendOutcome(o SendOutcome) Result {
	ctx := a.io()
	defer ctx.finish()
	if err := a.ensureLoaded(ctx); err != nil {
		return Failed(err)
	}
	var m actors.Message
	s := a.heldMessages().byID(o.MessageID)
	if s != nil && s.rank == failedRank && rankOf(o.Status) < failedRank {
		// Sent again after it failed: re-driven, so what is held is
		// behind the store (see recent); read it.
		s = nil
	}
	if s != nil {
		if o.WaMessageID != "" {
			s.wamid = o.WaMessageID
		}
		s.advance(o.Status, o.Error, a.now())
		m = s.message(a.conv.ID)
	} else {
		var err error
		if m, err = a.env.Store.Message(ctx, o.MessageID); err != nil {
			return Failed(fmt.Errorf("load sent message %s: %w", o.MessageID, err))
		}
		s = a.holdRead(&m)
	}
	c := a.current()
	if c.ID != m.ConversationID {
		c = actors.Conversation{ID: m.ConversationID}
	}
	if a.env.Publisher != nil {
		a.publish(actors.EventMessageStatus, &c, "", statusView{MessageID: m.ID, ConversationID: m.ConversationID, WaMessageID: m.WaMessageID,
			Status: m.Status, Error: m.Error, At: m.UpdatedAt})
	}
	if o.WaMessageID != "" && a.heldMessages().mayPend(s, o.WaMessageID) {
		pending, err := a.env.Store.TakePendingStatuses(ctx, o.WaMessageID)
		if err != nil {
			a.log().Warn("take pending statuses", zap.String("wa_message_id", o.WaMessageID), zap.Error(err))
		} else {
			a.heldMessages().tookPending(o.WaMessageID)
		}
		if len(pending) > 0 {
			m.WaMessageID = o.WaMessageID
			ts := make([]statusTarget, len(pending))
			for i := range pending {
				ts[i] = statusTarget{u: &pending[i], m: m, held: s != nil}
			}
			a.applyStatuses(ctx, ts)
		}
	}
	if o.Status == actors.StatusFailed {
		werr := o.Error
		if o.WindowClosed && (werr == nil || werr.Kind != actors.FailureWindowClosed) {
			e := actors.WhatsAppError{Code: 131047}.Explained()
			if werr != nil {
				e.Code, e.Title, e.Message = werr.Code, werr.Title, werr.Message
			}
			werr = &e
		}
		if err := a.failedMessage(ctx, m, werr, false, &c); err != nil {
			return Failed(err)
		}
	}
	return Result{Conversation: a.current(), Message: m}
}
