package conversation

import (
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

// Result answers every command.
type Result struct {
	// Conversation is the state after the command (zero when none).
	Conversation actors.Conversation
	// Duplicate reports an inbound message or status already applied.
	Duplicate bool
	Err       error
}

// Errors a command can answer with.
var (
	// ErrClosed: the conversation is closed and takes no changes.
	ErrClosed = errors.New("conversation closed")
	// ErrNoConversation: no such conversation for this key.
	ErrNoConversation = errors.New("no such conversation")
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
