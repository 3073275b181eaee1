package conversation

import (
	"encoding/json"
	"errors"

	"github.com/wacc/engine/actors"
)

// Commands a conversation actor accepts. Each is answered with Result.

// Inbound applies a customer message.
type Inbound struct {
	Msg actors.InboundMessage
}

// StatusChanged applies a delivery status of an outbound message.
type StatusChanged struct {
	Update actors.StatusUpdate
}

// Tick asks the actor to fire whatever timers are due.
type Tick struct{}

// Close closes the conversation (by an agent or supervisor).
type Close struct {
	ConversationID string
	ByUserID       string
}

// Assign sets the conversation's assignee. Auto assignments (from the
// assigner) apply only while the conversation is open and unassigned.
type Assign struct {
	ConversationID string
	AgentID        string
	ByUserID       string
	Auto           bool
}

// MarkRead clears the unread count.
type MarkRead struct {
	ConversationID string
	ByUserID       string
}

// Send queues an outbound message. Free-form messages need an open
// service window; templates may start a conversation.
type Send struct {
	// MessageID is chosen by the caller; sending the same id twice queues
	// the message once.
	MessageID string
	Type      string
	Text      string
	// Content is the message's typed object as clients see it.
	Content json.RawMessage
	// Body is the Cloud API request body, ready to POST.
	Body     json.RawMessage
	Template bool
	// CustomerID is the conversation's customer when a template opens one.
	CustomerID string
	ByUserID   string
	Priority   uint8
}

// SendOutcome reports what WhatsApp answered to a send. The sender has
// already persisted the message's status; the conversation publishes it,
// applies statuses that arrived before the wamid was known, and closes the
// window when WhatsApp says it is closed.
type SendOutcome struct {
	MessageID   string
	WaMessageID string
	Status      string
	Error       *actors.WhatsAppError
	// WindowClosed is set for 131047 (more than 24 hours since the
	// customer last wrote).
	WindowClosed bool
}

// Result answers every command.
type Result struct {
	// Conversation is the state after the command (zero when none).
	Conversation actors.Conversation
	// Message is the message a Send queued.
	Message actors.Message
	// Duplicate reports an inbound message or status already applied.
	Duplicate bool
	Err       error
}

// Errors a command can answer with.
var (
	// ErrClosed: the conversation is closed and takes no changes. Close,
	// Assign and MarkRead answer it whenever their ConversationID is not the
	// key's open conversation: callers route a command by a conversation
	// they found in the store, so an id that is not the open one names a
	// conversation closed since. An unknown id never reaches the actor; the
	// store's lookup answers actors.ErrNotFound.
	ErrClosed = errors.New("conversation closed")
	// ErrOutsideWindow: a free-form send after the service window.
	ErrOutsideWindow = errors.New("outside the customer-service window")
	// ErrQueueUnavailable: the outbound queue did not take the message;
	// it is recorded as failed and not sent.
	ErrQueueUnavailable = errors.New("outbound queue unavailable")
	// ErrStale: another activation changed the conversation; this one
	// stopped. The caller may retry; the next message re-activates it.
	ErrStale = errors.New("conversation changed by another activation")
)

// Idle is what a conversation actor tells its parent when it has been idle
// for the idle timeout; the parent stops it.
type Idle struct {
	Key Key
	// ID is the idle actor's process id, so a late Idle from a previous
	// activation of the same key is ignored.
	ID string
}
