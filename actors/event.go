package actors

import "time"

// Event types pushed to agents' sockets (the frame's "type").
const (
	EventMessageCreated       = "message.created"
	EventMessageStatus        = "message.status"
	EventConversationUpdated  = "conversation.updated"
	EventConversationAssigned = "conversation.assigned"
	EventNotification         = "notification"
	// EventMessageUpdated carries a message whose medium changed (its
	// bytes arrived, or fetching them failed for good).
	EventMessageUpdated = "message.updated"
)

// SocketEvents are the event types agents' sockets receive as frames.
var SocketEvents = []string{EventMessageCreated, EventMessageStatus, EventConversationUpdated, EventConversationAssigned,
	EventNotification, EventMessageUpdated, EventCallUpdated}

// EventAgentRequested is published by an open conversation that has no
// assignee, to ask the assigner for one. It carries the conversation's key
// (PhoneNumberID, WaID) and no Data, and is never a socket frame.
const EventAgentRequested = "agent.requested"

// Event is something a conversation actor persisted and now tells the
// world. Events are values: never mutated after Publish.
type Event struct {
	Type string
	// ConversationID, State and AssigneeID describe the conversation after
	// the change; they decide who may see the event (the assignee,
	// supervisors and admins) and keep the assigner's counts.
	ConversationID string
	State          string
	AssigneeID     string
	// PhoneNumberID and WaID are the conversation's key (business number
	// and customer), by which it is reached (conversation.Key).
	PhoneNumberID string
	WaID          string
	// PreviousAssigneeID is the assignee before a reassignment, who is
	// told it lost the conversation.
	PreviousAssigneeID string
	// UserID, when set, restricts the event to that user (notifications).
	UserID string
	// Data is the frame's data, ready for JSON.
	Data any
	At   time.Time
	// Cursor is the event's position in the cluster's event stream, set
	// when it was delivered through it (persistence/redisbus) and pushed
	// with its frame so a reconnecting socket can resume after it; empty
	// when the engine runs alone.
	Cursor string
}

// Publisher fans events out; Publish never blocks on a slow receiver.
type Publisher interface {
	Publish(ev Event)
}

// ConversationView is the contract's conversation object.
type ConversationView struct {
	ID            string     `json:"id"`
	CustomerID    string     `json:"customerId"`
	PhoneNumberID string     `json:"phoneNumberId"`
	WaID          string     `json:"waId"`
	State         string     `json:"state"`
	AssigneeID    *string    `json:"assigneeId"`
	LastInboundAt *time.Time `json:"lastInboundAt"`
	ExpiresAt     *time.Time `json:"expiresAt"`
	Unread        int        `json:"unread"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
}

// View renders c as the contract's conversation object.
func (c Conversation) View() ConversationView {
	v := ConversationView{ID: c.ID, CustomerID: c.CustomerID, PhoneNumberID: c.PhoneNumberID, WaID: c.WaID, State: c.State,
		Unread: c.Unread, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	if c.AssigneeID != "" {
		a := c.AssigneeID
		v.AssigneeID = &a
	}
	v.LastInboundAt = timePtr(c.LastInboundAt)
	v.ExpiresAt = timePtr(c.ExpiresAt)
	return v
}

// AssignedView is the data of a conversation.assigned event: the
// conversation object and its latest message (for a new conversation, the
// first the customer wrote), so the assignee's list shows what was written
// without another request.
type AssignedView struct {
	ConversationView
	LastMessage *MessageView `json:"lastMessage,omitempty"`
}

// MessageView is the contract's message object.
type MessageView struct {
	ID             string         `json:"id"`
	ConversationID string         `json:"conversationId"`
	Direction      string         `json:"direction"`
	Type           string         `json:"type"`
	Content        any            `json:"content"`
	Text           string         `json:"text"`
	Status         string         `json:"status"`
	WaMessageID    *string        `json:"waMessageId"`
	Error          *WhatsAppError `json:"error,omitempty"`
	Pricing        *Pricing       `json:"pricing,omitempty"`
	Media          *MessageMedia  `json:"media,omitempty"`
	CreatedAt      time.Time      `json:"createdAt"`
	UpdatedAt      time.Time      `json:"updatedAt"`
}

// View renders m as the contract's message object.
func (m Message) View() MessageView {
	v := MessageView{ID: m.ID, ConversationID: m.ConversationID, Direction: m.Direction, Type: m.Type, Text: m.Text,
		Status: m.Status, Error: m.Error, Pricing: m.Pricing, Media: m.Media, CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC()}
	if len(m.Content) > 0 {
		v.Content = rawJSON(m.Content)
	}
	if m.WaMessageID != "" {
		w := m.WaMessageID
		v.WaMessageID = &w
	}
	return v
}

// NotificationView is a stored notification as clients see it.
type NotificationView struct {
	ID             string     `json:"id"`
	Kind           string     `json:"kind"`
	Title          string     `json:"title"`
	Body           string     `json:"body"`
	ConversationID string     `json:"conversationId,omitempty"`
	CreatedAt      time.Time  `json:"createdAt"`
	ReadAt         *time.Time `json:"readAt"`
}

// View renders n for clients.
func (n Notification) View() NotificationView {
	return NotificationView{ID: n.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, ConversationID: n.ConversationID,
		CreatedAt: n.CreatedAt.UTC(), ReadAt: timePtr(n.ReadAt)}
}

// Notification kinds.
const (
	NotifyAssigned        = "conversation.assigned"
	NotifyCustomerReplied = "customer.replied"
	NotifyWindowExpiring  = "window.expiring"
	NotifyMessageFailed   = "message.failed"
	// NotifyNumberBlocked goes to every admin and supervisor when WhatsApp
	// stops a business number (payment, lock, policy block, token).
	NotifyNumberBlocked = "number.blocked"
)

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
