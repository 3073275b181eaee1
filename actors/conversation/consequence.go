package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Pauser holds back sends after Meta's errors: the send side's pauses
// (the sender's shaper), which the conversations reach for failures Meta
// reports late, in a failed status.
type Pauser interface {
	// PauseRecipient holds back sends to waID from phoneNumberID for about
	// pause (the send side may have its own setting).
	PauseRecipient(ctx context.Context, phoneNumberID, waID string, pause time.Duration, werr actors.WhatsAppError)
	// PauseNumber holds back every send from phoneNumberID for about pause
	// and alerts the operators.
	PauseNumber(ctx context.Context, phoneNumberID string, pause time.Duration, werr actors.WhatsAppError)
}

// TemplateRegistry is told when Meta reports a template unusable as sent
// (132000, 132001, 132005, 132007, 132012, 132015, 132016).
type TemplateRegistry interface {
	TemplateFailed(ctx context.Context, phoneNumberID, name, language string, werr actors.WhatsAppError) error
}

// PricingRecorder records what Meta charges for an outbound message.
type PricingRecorder interface {
	SetMessagePricing(ctx context.Context, id, phoneNumberID string, p actors.Pricing) error
}

// failedMessage applies what follows from a failed outbound message m,
// whose error is werr (already explained: Kind and Reason set), the same
// whether Meta answered the send with the error or reported it later in a
// failed status (late): the agent is told why in words they can act on;
// 131047 expires the conversation (templates only from now on); a
// template error tells the template registry. A late failure also applies
// the pause its code asks for (the sender applied it already for an
// answered one, and requeued the message rather than failing it). It
// returns an error only when the expiry could not be saved.
func (a *Actor) failedMessage(ctx context.Context, m actors.Message, werr *actors.WhatsAppError, late bool, c *actors.Conversation) error {
	if c.AssigneeID != "" {
		body := "A message could not be delivered."
		if werr != nil {
			reason := werr.Reason
			if reason == "" {
				reason = werr.Title
			}
			body = fmt.Sprintf("A message could not be delivered (WhatsApp code %d): %s", werr.Code, reason)
		}
		a.notify(ctx, c.AssigneeID, actors.NotifyMessageFailed, "Message failed", body, c)
	}
	if werr == nil {
		return nil
	}
	key := a.key()
	if werr.Kind == actors.FailureTemplate && a.env.Templates != nil {
		if m.Content == nil {
			// The message as the actor holds it, without its content:
			// the template's name is in the store.
			if full, err := a.env.Store.Message(ctx, m.ID); err == nil {
				m = full
			} else {
				a.log().Warn("read a failed message's template", zap.String("message_id", m.ID), zap.Error(err))
			}
		}
		name, lang := templateOf(m)
		if err := a.env.Templates.TemplateFailed(ctx, key.PhoneNumberID, name, lang, *werr); err != nil {
			a.log().Warn("tell the template registry a template failed", zap.String("conversation_id", m.ConversationID),
				zap.Int("code", werr.Code), zap.Error(err))
		}
	}
	if late && a.env.Pauser != nil {
		if rule, ok := actors.WhatsAppErrorRule(werr.Code); ok {
			switch {
			case rule.Action == actors.ErrorPauseNumber:
				a.env.Pauser.PauseNumber(ctx, key.PhoneNumberID, rule.Delay, *werr)
			case rule.RecipientOnly:
				a.env.Pauser.PauseRecipient(ctx, key.PhoneNumberID, key.WaID, rule.Delay, *werr)
			}
		}
	}
	if werr.Kind == actors.FailureWindowClosed {
		return a.expireWindow(ctx, m.ConversationID)
	}
	return nil
}

// expireWindow marks the open conversation expired after Meta said its
// window is closed (131047): from now on only templates reach the customer.
func (a *Actor) expireWindow(ctx context.Context, conversationID string) error {
	if a.conv == nil || a.conv.ID != conversationID || (a.conv.State() != actors.StateNew && a.conv.State() != actors.StateActive) {
		return nil
	}
	next := a.current()
	next.State, next.NextTimerAt, next.UpdatedAt = actors.StateExpired, time.Time{}, a.now()
	if err := a.save(ctx, &next); err != nil {
		return err
	}
	if a.env.Publisher != nil {
		a.publish(actors.EventConversationUpdated, &next, "", next.View())
	}
	a.armTimer()
	return nil
}

// templateOf reads the template's name and language code from a template
// message's content ({"name":..,"language":{"code":..}}); empty when m is
// not one.
func templateOf(m actors.Message) (name, language string) {
	var t struct {
		Name     string          `json:"name"`
		Language json.RawMessage `json:"language"`
	}
	if json.Unmarshal(m.Content, &t) != nil {
		return "", ""
	}
	var code struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(t.Language, &code) == nil && code.Code != "" {
		return t.Name, code.Code
	}
	_ = json.Unmarshal(t.Language, &language)
	return t.Name, language
}
