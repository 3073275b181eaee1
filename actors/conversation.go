package actors

import (
	"context"
	"encoding/json"
	"time"
)

// Conversation states.
const (
	StateNew     = "new"
	StateActive  = "active"
	StateExpired = "expired"
	StateClosed  = "closed"
)

// Conversation is one (business number, customer) thread. Its actor is the
// only writer; every save is conditional on Version (optimistic concurrency),
// so a stale activation can never overwrite newer state. At most one
// conversation per (PhoneNumberID, WaID) is not closed.
type Conversation struct {
	ID            string
	CustomerID    string
	PhoneNumberID string
	WaID          string
	State         string
	AssigneeID    string
	// LastInboundAt is when the customer last wrote; the service window
	// ends WHATSAPP_SERVICE_WINDOW after it.
	LastInboundAt  time.Time
	LastOutboundAt time.Time
	// ExpiresAt is when the service window ends (zero before any inbound).
	ExpiresAt time.Time
	// NextTimerAt is the earliest pending timer (window warning or expiry)
	// of an open conversation, zero when none; the expiry sweeper finds
	// conversations by it whether or not their actor is in memory.
	NextTimerAt time.Time
	// WarnedAt is when the window-expiring warning was sent for the
	// current window (zero: not yet).
	WarnedAt time.Time
	Unread   int
	// Seq counts the messages applied to this conversation; a message
	// carries the Seq it was applied at, so a replay can tell whether the
	// conversation already reflects it.
	Seq     int64
	Version int64
	// Epoch, when not zero, fences a write of the conversation
	// (CreateConversation, SaveConversation, AppendMessageAndSave): it
	// applies only while Epoch is the current epoch of the conversation's
	// (PhoneNumberID, WaID) in the EpochStore, else it is ErrFenced and
	// changes nothing. Zero writes unfenced. Reads return zero.
	Epoch     int64
	CreatedAt time.Time
	UpdatedAt time.Time
	ClosedAt  time.Time
}

// Open reports whether the conversation can still take messages.
func (c Conversation) Open() bool { return c.State != StateClosed }

// ConversationFilter selects a page of conversations, most recently updated
// first (UpdatedAt descending, then ID descending). Empty fields do not
// filter. Page starts at 1.
type ConversationFilter struct {
	States     []string
	AssigneeID string
	// Unassigned selects conversations with no assignee (AssigneeID must
	// then be empty).
	Unassigned bool
	CustomerID string
	// PhoneNumberID selects the conversations of one business number.
	PhoneNumberID string
	Page          int
	Limit         int
}

// ConversationStore keeps conversations.
type ConversationStore interface {
	// CreateConversation inserts c (Version 1). ErrDuplicate when the id
	// is taken or another conversation of the same (PhoneNumberID, WaID) is
	// not closed.
	CreateConversation(ctx context.Context, c Conversation) error
	// Conversation returns the conversation or ErrNotFound.
	Conversation(ctx context.Context, id string) (Conversation, error)
	// OpenConversation returns the (PhoneNumberID, WaID) conversation that
	// is not closed, or ErrNotFound.
	OpenConversation(ctx context.Context, phoneNumberID, waID string) (Conversation, error)
	// SaveConversation stores c if the stored Version equals c.Version-1,
	// else returns ErrConflict and changes nothing (ErrNotFound when
	// absent).
	SaveConversation(ctx context.Context, c Conversation) error
	// ListConversations returns one page and the total.
	ListConversations(ctx context.Context, f ConversationFilter) ([]Conversation, int, error)
	// DueConversations returns up to limit open conversations whose
	// NextTimerAt is set and not after at, earliest first.
	DueConversations(ctx context.Context, at time.Time, limit int) ([]Conversation, error)
	// NextTimer returns the earliest NextTimerAt of open conversations;
	// ok is false when none is set.
	NextTimer(ctx context.Context) (at time.Time, ok bool, err error)
	// CountOpenByAssignee counts conversations in state new or active per
	// assignee (unassigned ones under "").
	CountOpenByAssignee(ctx context.Context) (map[string]int, error)
	// OpenConversationsSince returns up to limit conversations in state new
	// or active whose UpdatedAt is at or after since, most recently updated
	// first (UpdatedAt descending, then ID descending), by keyset: the first
	// page passes afterID "" (afterUpdatedAt is then ignored), each next page
	// the UpdatedAt and ID of the last conversation of the page before.
	// Rehydration after a restart reads the conversations to bring back
	// into memory with it.
	OpenConversationsSince(ctx context.Context, since, afterUpdatedAt time.Time, afterID string, limit int) ([]Conversation, error)
}

// Message directions.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)

// Message is one message of a conversation, inbound or outbound.
// WaMessageID is unique when set, which makes webhook redelivery harmless.
type Message struct {
	ID             string
	ConversationID string
	Direction      string
	Type           string
	// Text is the human-readable rendering; Content the typed object.
	Text    string
	Content json.RawMessage
	Status  string
	// WaMessageID is WhatsApp's id (wamid); empty for an outbound message
	// not yet accepted by WhatsApp.
	WaMessageID string
	// Seq is the conversation Seq this message was applied at.
	Seq   int64
	Error *WhatsAppError
	// Pricing is what Meta charges for an outbound message, from its
	// status webhooks; nil until one carried it.
	Pricing *Pricing
	// Media is the medium the message carries (ours, as stored); nil for
	// messages without one.
	Media *MessageMedia
	// Raw is the inbound message object as received (unknown fields kept).
	Raw       json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

// StatusChange is one delivery status to apply to a stored message (see
// MessageStore.UpdateMessageStatuses).
type StatusChange struct {
	// MessageID is the message's id.
	MessageID string
	// Status is the status it moves to, only forward (StatusRank).
	Status string
	// Error is the status's error; nil clears it.
	Error *WhatsAppError
	// At is when the status happened: the message's UpdatedAt.
	At time.Time
}

// MessageStore keeps messages and statuses that arrived before their
// message.
type MessageStore interface {
	// AppendMessage inserts m; ErrDuplicate when its id or WaMessageID is
	// already stored.
	AppendMessage(ctx context.Context, m Message) error
	// AppendMessageAndSave inserts m and saves c (as SaveConversation) in
	// one write: a message and the conversation state it moves to. A store
	// with transactions (SQLite) does both or neither; one without (Mongo)
	// inserts m first and keeps it if the save then fails, which callers
	// must handle as they handle a crash between two writes. ErrDuplicate
	// for m's id or WaMessageID; otherwise SaveConversation's errors.
	AppendMessageAndSave(ctx context.Context, m Message, c Conversation) error
	// MessageByWaID returns the message with that wamid, or ErrNotFound.
	MessageByWaID(ctx context.Context, waMessageID string) (Message, error)
	// UpdateMessageStatus moves the message with that id to status (and
	// error, and WaMessageID when not empty), only forward: it applies only
	// if StatusRank(status) is greater than the stored status's rank.
	// It reports whether it changed anything. ErrNotFound when absent.
	UpdateMessageStatus(ctx context.Context, id, status, waMessageID string, werr *WhatsAppError, at time.Time) (bool, error)
	// UpdateMessageStatuses applies changes in order, each as
	// UpdateMessageStatus would (forward only, without a wamid), in one
	// write: one transaction on a store that has them (SQLite), where all
	// apply or none does. It reports, for each change, whether it changed
	// its message. ErrNotFound, naming the id, when a message is absent; a
	// store without transactions (Mongo) may then have applied the changes
	// before it, which is harmless, statuses moving only forward.
	UpdateMessageStatuses(ctx context.Context, changes []StatusChange) ([]bool, error)
	// ListMessages returns up to limit messages of a conversation, newest
	// first, older than the cursor (empty: from the newest), and the cursor
	// of the next page ("" when there is none).
	ListMessages(ctx context.Context, conversationID, before string, limit int) ([]Message, string, error)
	// AddPendingStatus keeps a status whose message is not known yet.
	// Keeping the same (wamid, status) twice stores it once.
	AddPendingStatus(ctx context.Context, s StatusUpdate) error
	// TakePendingStatuses returns and deletes the pending statuses of a
	// wamid, oldest first.
	TakePendingStatuses(ctx context.Context, waMessageID string) ([]StatusUpdate, error)
}

// InboxEntry is one accepted webhook body, kept until every message and
// status in it has been applied.
type InboxEntry struct {
	ID         string
	Body       []byte
	ReceivedAt time.Time
	Attempts   int
	// Owner is the node that holds the entry's lease ("" when unclaimed)
	// and LeaseUntil when the lease runs out; until then no other node is
	// handed the entry (see InboxStore.ClaimInbox). AppendInbox stores
	// them as given, so a node that dispatches what it accepted from
	// memory holds it from the start.
	Owner      string
	LeaseUntil time.Time
	// Batch is Body as parsed when the webhook was accepted, handed to the
	// dispatcher in memory with the entry so that Body is not parsed
	// again. Stores neither keep nor return it: an entry read back from a
	// store has a nil Batch and is parsed from Body.
	Batch *WebhookBatch
}

// InboxStore is the durable inbox of webhook bodies, shared by every node
// of a cluster: a node takes the entries it applies under a lease, so each
// entry is worked on by one node at a time and a dead node's entries are
// taken over once its leases run out.
type InboxStore interface {
	// AppendInbox stores a batch of entries (with their Owner and
	// LeaseUntil) in one durable write.
	AppendInbox(ctx context.Context, entries []InboxEntry) error
	// PendingInbox returns up to limit entries not yet done, oldest
	// first (by ID, which sorts by arrival), whoever holds them.
	PendingInbox(ctx context.Context, limit int) ([]InboxEntry, error)
	// ClaimInbox leases to owner, until until, up to limit entries not
	// yet done that are unclaimed, held by owner already, or whose lease
	// ran out before now, and returns them oldest first with the new
	// lease. Of concurrent claims of one entry exactly one gets it.
	ClaimInbox(ctx context.Context, owner string, now, until time.Time, limit int) ([]InboxEntry, error)
	// RenewInbox moves to until the lease of every entry owner holds whose
	// lease has not run out at now, and returns how many it renewed. An
	// entry whose lease ran out stays claimable by any node.
	RenewInbox(ctx context.Context, owner string, now, until time.Time) (int, error)
	// MarkInboxDone removes (or marks done) the entries.
	MarkInboxDone(ctx context.Context, ids []string) error
	// RecordInboxAttempt increments an entry's Attempts.
	RecordInboxAttempt(ctx context.Context, id string) error
}

// Notification is a note for one user: assigned, customer replied, window
// expiring, message failed.
type Notification struct {
	ID             string
	UserID         string
	Kind           string
	Title          string
	Body           string
	ConversationID string
	CreatedAt      time.Time
	// ReadAt is zero while unread.
	ReadAt time.Time
}

// NotificationStore keeps notifications.
type NotificationStore interface {
	// AddNotifications stores a batch.
	AddNotifications(ctx context.Context, ns []Notification) error
	// ListNotifications returns one page of a user's notifications,
	// newest first, and the total; unreadOnly filters read ones out.
	ListNotifications(ctx context.Context, userID string, unreadOnly bool, page, limit int) ([]Notification, int, error)
	// MarkNotificationsRead marks the user's listed notifications (all of
	// the user's when ids is empty) read at at, and returns how many
	// changed. Other users' notifications are never touched.
	MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error)
}

// Fence names the activation a write is made for: a conversation key and
// the epoch that activation acquired for it.
type Fence struct {
	PhoneNumberID string
	WaID          string
	Epoch         int64
}

// EpochStore hands out the epochs that fence the activations of a
// conversation key (PhoneNumberID, WaID), so that of two activations of one
// key (two nodes, or a node that froze and resumed) only the newest writes.
// Writes of a conversation carry the epoch in Conversation.Epoch; the
// status writes below carry it in a Fence. A fenced write made with an
// epoch that is not the key's current one is ErrFenced and changes nothing
// (each store documents how atomic the check is).
type EpochStore interface {
	// AcquireEpoch increments the key's epoch (1 for a key never seen) and
	// returns it. From then on, writes fenced with an older epoch are
	// refused.
	AcquireEpoch(ctx context.Context, phoneNumberID, waID string) (int64, error)
	// UpdateMessageStatusFenced is MessageStore.UpdateMessageStatus,
	// applied only while f.Epoch is the key's current epoch.
	UpdateMessageStatusFenced(ctx context.Context, f Fence, id, status, waMessageID string, werr *WhatsAppError, at time.Time) (bool, error)
	// UpdateMessageStatusesFenced is MessageStore.UpdateMessageStatuses,
	// applied only while f.Epoch is the key's current epoch.
	UpdateMessageStatusesFenced(ctx context.Context, f Fence, changes []StatusChange) ([]bool, error)
}

// ConversationsStore is what the conversation engine keeps durably. SQLite
// and MongoDB implement it and pass the same contract suite
// (storetest.RunConversations).
type ConversationsStore interface {
	ConversationStore
	MessageStore
	InboxStore
	NotificationStore
}
