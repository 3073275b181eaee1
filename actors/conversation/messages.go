package conversation

import (
	"encoding/json"
	"time"

	"github.com/wacc/engine/actors"
)

// Command is a message a conversation actor answers with a Result. The set
// is closed (the marker method is unexported): Inbound, StatusChanged,
// StatusesChanged, Tick, Close, Assign, MarkRead, Send and SendOutcome. Every command is plain
// data: named fields of strings, numbers, times, bytes (json.RawMessage) and
// the value types of package actors, with no interface values, errors,
// functions or pointers to shared state, so it can be given a wire format
// and cross to another node as it is.
type Command interface {
	command()
}

// Inbound applies a customer message.
type Inbound struct {
	Msg actors.InboundMessage
	// Redelivery is set by the inbox for a webhook it hands over again (a
	// retry, or one taken over from another node): if the message is
	// stored already, its message.created is published again, since the
	// attempt that stored it may have died before announcing it. A
	// separate delivery of the same wamid by Meta is not one: it is
	// dropped as a duplicate and announced once.
	Redelivery bool
}

// StatusChanged applies a delivery status of an outbound message.
type StatusChanged struct {
	Update actors.StatusUpdate
}

// StatusesChanged applies delivery statuses of outbound messages, in order,
// as many StatusChanged would, with one store write for all of them (the
// inbox hands over the statuses it has for one conversation together). It
// is answered once all are applied; on a failure, some may be, and
// applying them again is harmless (statuses only move forward).
type StatusesChanged struct {
	Updates []actors.StatusUpdate
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
	// AgentID is set when the sender is an agent, who may write only to the
	// conversations assigned to them: the send is refused with
	// actors.ErrNotFound when the open conversation is assigned to someone
	// else or no one, and a template that opens a conversation makes the
	// agent its assignee (so they can open it). Empty for supervisors and
	// admins, whose templates open conversations for auto-assignment.
	AgentID  string
	Priority uint8
	// MediaID is our medium (an upload) the message carries; Body names it
	// by this id, which the sender replaces with WhatsApp's. Empty for a
	// message without one, or with a link.
	MediaID string
	// Deadline, when set, is when the caller stops waiting for the answer
	// (wall clock): a Send reached after it is refused untouched (nothing
	// stored or queued), and one under way is bounded by it, so the caller
	// never hears "no answer" about a message that is then sent.
	Deadline time.Time
}

// SendOutcome reports what WhatsApp answered to a send. The sender has
// already persisted the message's status; the conversation publishes it,
// applies statuses that arrived before the wamid was known, and closes the
// window when WhatsApp says it is closed.
type SendOutcome struct {
	MessageID   string
	WaMessageID string
	Status      string
	// Error is Meta's error when the send failed (nil otherwise); a value
	// the sender built for this outcome alone.
	Error *actors.WhatsAppError
	// WindowClosed is set for 131047 (more than 24 hours since the
	// customer last wrote).
	WindowClosed bool
}

func (Inbound) command()         {}
func (StatusChanged) command()   {}
func (StatusesChanged) command() {}
func (Tick) command()            {}
func (Close) command()           {}
func (Assign) command()          {}
func (MarkRead) command()        {}
func (Send) command()            {}
func (SendOutcome) command()     {}

// Result answers every command. Like the commands it is plain data: a
// failure travels as a Failure (a code and a message), not as an error
// value, so a Result crosses a wire as it is. Callers get it through Ask
// (or Await), which turns the Failure back into an error.
type Result struct {
	// Conversation is the state after the command (zero when none).
	Conversation actors.Conversation
	// Message is the message a Send queued (or, for a Duplicate, the
	// stored one); for a SendOutcome, the message as the actor knows it:
	// without its content when it answered from the messages it holds.
	Message actors.Message
	// Duplicate reports an inbound message or status already applied.
	Duplicate bool
	// Failure is why the command failed; nil when it succeeded.
	Failure *Failure
}

// inboundAnswer is how an actor answers an Inbound: its Result without the
// Message, which an Inbound never sets, so the answer carries half the
// bytes. Await turns it back into the Result.
type inboundAnswer struct {
	Conversation actors.Conversation
	Duplicate    bool
	Failure      *Failure
}

// Hydrate hands an actor spawned from HydratedProps the open conversation of
// its key, as read from the store by its parent's caller (rehydration after
// a restart). It must be the actor's first message and is not answered. The
// actor holds it and arms its timers as if it had read it itself; should it
// be stale, the first write conflicts and the actor retires, as any stale
// activation does. It is not a Command: only the local parent sends it, so
// it never leaves the node.
type Hydrate struct {
	Conversation actors.Conversation
}

// Redirect is what a retiring actor hands back to its parent: a command
// sent without waiting for an answer (Directory.Send) that reached it
// after it retired, for the key's next actor; nobody else would retry it.
// Like Hydrate it stays between an actor and its local parent.
type Redirect struct {
	Key Key
	Cmd Command
}

// Idle is what a conversation actor tells its parent when it has been idle
// for the idle timeout, or when it retires (another activation holds newer
// state; see Actor.Receive); the parent stops it. Like Hydrate it stays
// between an actor and its local parent.
type Idle struct {
	Key Key
	// ID is the idle actor's process id, so a late Idle from a previous
	// activation of the same key is ignored.
	ID string
}
