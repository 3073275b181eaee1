package actors

import (
	"encoding/json"
	"time"
)

// InboundMessage is one customer message taken from a WhatsApp Cloud API
// webhook (entry[].changes[].value.messages[]), with the routing fields the
// conversation actors need pulled out and everything else kept raw.
type InboundMessage struct {
	// PhoneNumberID is the business number that received the message
	// (value.metadata.phone_number_id); with WaID it names the conversation.
	PhoneNumberID string
	DisplayPhone  string
	// WaID is the customer's WhatsApp id (messages[].from, digits without +).
	WaID string
	// ProfileName is contacts[].profile.name for this WaID, when sent.
	ProfileName string
	// UserID and ParentUserID are the business-scoped user ids Meta sends
	// in contacts[] (and from/from_user_id fields) on newer payloads.
	UserID       string
	ParentUserID string
	WaMessageID  string
	// Type is Meta's type as sent: text, image, video, audio, document,
	// sticker, location, contacts, interactive, button, reaction, order,
	// system, unsupported, revoke, edit, or any newer value.
	Type      string
	Timestamp time.Time
	// Text is a short human-readable rendering for agents and
	// notifications: the text body, a caption, a button title, an emoji.
	Text string
	// Content is the object under the type's key (for "text",
	// {"body":"..."}); nil when the message carries none.
	Content json.RawMessage
	Context *MessageContext
	// Referral is the click-to-WhatsApp ad referral object, when present.
	Referral json.RawMessage
	// Errors are messages[].errors (for example 131051 on unsupported).
	Errors []WhatsAppError
	// Raw is the whole message object exactly as received.
	Raw json.RawMessage
}

// MessageContext is a message's context: the message it replies to, and
// forwarding flags.
type MessageContext struct {
	From                string `json:"from,omitempty"`
	ID                  string `json:"id,omitempty"`
	Forwarded           bool   `json:"forwarded,omitempty"`
	FrequentlyForwarded bool   `json:"frequentlyForwarded,omitempty"`
}

// WhatsAppError is one entry of an errors[] array in a webhook or an API
// answer.
type WhatsAppError struct {
	Code    int    `json:"code"`
	Title   string `json:"title,omitempty"`
	Message string `json:"message,omitempty"`
	Details string `json:"details,omitempty"`
	Href    string `json:"href,omitempty"`
	// Kind is the engine's failure kind for the code (FailureUndeliverable,
	// FailureTemplate, ...; see ErrorRule), set on outbound messages.
	Kind string `json:"kind,omitempty"`
	// Reason says, in words an agent can act on, why the message failed.
	Reason string `json:"reason,omitempty"`
}

// Outbound message statuses, in the order they may advance.
const (
	StatusQueued    = "queued"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// StatusRank orders statuses so they only move forward: queued < sent <
// delivered < read, and failed is final. Unknown statuses rank 0.
func StatusRank(status string) int {
	switch status {
	case StatusQueued:
		return 1
	case StatusSent:
		return 2
	case StatusDelivered:
		return 3
	case StatusRead:
		return 4
	case StatusFailed:
		return 5
	}
	return 0
}

// StatusUpdate is one delivery status from a webhook
// (entry[].changes[].value.statuses[]).
type StatusUpdate struct {
	PhoneNumberID string
	WaMessageID   string
	// RecipientID is the customer's wa_id.
	RecipientID string
	// Status is sent, delivered, read or failed (newer values kept as sent).
	Status    string
	Timestamp time.Time
	Errors    []WhatsAppError
	// BizOpaqueCallbackData is the tracker the business attached at send.
	BizOpaqueCallbackData string
	// Pricing is the status's pricing object, when it carries one.
	Pricing *Pricing
	Raw     json.RawMessage
}

// WebhookError is a value-level errors[] entry, tied to the business number
// whose change carried it.
type WebhookError struct {
	PhoneNumberID string
	WhatsAppError
}

// WebhookBatch is everything one webhook body carried, in body order.
type WebhookBatch struct {
	Messages []InboundMessage
	Statuses []StatusUpdate
	Errors   []WebhookError
	// Other holds changes whose field is not "messages" (account updates,
	// template status, ...), kept raw: never dropped.
	Other []json.RawMessage
	// Templates are the template webhooks among Other, decoded.
	Templates []TemplateEvent
}
