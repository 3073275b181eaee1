package density

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// memStore is an in-memory conversation store: maps behind one mutex. It
// lets a scenario measure the conversation actor and supervisors.Host
// without I/O, and is bench-only code: nothing is durable and nothing is
// ever removed except what the contract removes (taken pending statuses,
// finished inbox entries).
//
// It keeps the contracts of actors.ConversationsStore that the actor relies
// on, and passes the same contract suite as the SQLite and Mongo stores
// (storetest.RunConversations, see memstore_test.go): CreateConversation
// stores Version 1 and refuses a second open conversation of a (number,
// customer) pair with ErrDuplicate; SaveConversation applies only the next
// version (ErrConflict otherwise, ErrNotFound when absent); AppendMessage
// refuses a taken id or wamid with ErrDuplicate; AppendMessageAndSave does
// both or neither; statuses move only forward. Times come back in UTC truncated to the millisecond, and every
// slice is copied in and out, as a database would.
type memStore struct {
	mu sync.Mutex
	// conversations by id; open maps a (number, customer) pair to the id
	// of its conversation that is not closed.
	conversations map[string]actors.Conversation
	open          map[conversation.Key]string
	// messages by id; byWaID maps a wamid to a message id; byConversation
	// lists each conversation's message ids in insertion order.
	messages       map[string]actors.Message
	byWaID         map[string]string
	byConversation map[string][]string
	// pending statuses by wamid, in the order they were added.
	pending map[string][]actors.StatusUpdate
	// customers by id, and their ids by phone.
	customers       map[string]actors.Customer
	customerByPhone map[string]string
	// notifications by id, and each user's ids.
	notifications map[string]actors.Notification
	userNotes     map[string][]string
	// inbox entries not yet done, by id.
	inbox map[string]actors.InboxEntry
}

var (
	_ conversation.Store        = (*memStore)(nil)
	_ actors.ConversationsStore = (*memStore)(nil)
)

// newMemStore returns an empty store.
func newMemStore() *memStore {
	return &memStore{
		conversations:   map[string]actors.Conversation{},
		open:            map[conversation.Key]string{},
		messages:        map[string]actors.Message{},
		byWaID:          map[string]string{},
		byConversation:  map[string][]string{},
		pending:         map[string][]actors.StatusUpdate{},
		customers:       map[string]actors.Customer{},
		customerByPhone: map[string]string{},
		notifications:   map[string]actors.Notification{},
		userNotes:       map[string][]string{},
		inbox:           map[string]actors.InboxEntry{},
	}
}

// Close does nothing: there is nothing to release.
func (s *memStore) Close() error { return nil }

// dbTime is t as a database keeps it: UTC, millisecond precision, zero kept zero.
func dbTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// clone copies b, keeping nil and empty as nil.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

// pageWindow is the SQLite store's paging: page from 1, limit 20 by
// default and at most 1000.
func pageWindow(page, limit int) (lim, off int) {
	page = max(page, 1)
	if limit < 1 {
		limit = 20
	}
	limit = min(limit, 1000)
	return limit, (page - 1) * limit
}

// page returns the window of items page and limit select.
func page[T any](items []T, p, limit int) []T {
	limit, off := pageWindow(p, limit)
	if off >= len(items) {
		return []T{}
	}
	return items[off:min(off+limit, len(items))]
}

// ---------------------------------------------------------- conversations

// normConversation is c as the store keeps it.
func normConversation(c actors.Conversation) actors.Conversation {
	c.LastInboundAt, c.LastOutboundAt, c.ExpiresAt = dbTime(c.LastInboundAt), dbTime(c.LastOutboundAt), dbTime(c.ExpiresAt)
	c.NextTimerAt, c.WarnedAt, c.ClosedAt = dbTime(c.NextTimerAt), dbTime(c.WarnedAt), dbTime(c.ClosedAt)
	c.CreatedAt, c.UpdatedAt = dbTime(c.CreatedAt), dbTime(c.UpdatedAt)
	return c
}

func keyOf(c actors.Conversation) conversation.Key {
	return conversation.Key{PhoneNumberID: c.PhoneNumberID, WaID: c.WaID}
}

// CreateConversation inserts c with Version 1; ErrDuplicate when the id is
// taken or another conversation of the same pair is not closed.
func (s *memStore) CreateConversation(ctx context.Context, c actors.Conversation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create conversation %s: %w", c.ID, err)
	}
	c = normConversation(c)
	c.Version = 1
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conversations[c.ID]; ok {
		return fmt.Errorf("create conversation %s: id taken: %w", c.ID, actors.ErrDuplicate)
	}
	if c.State != actors.StateClosed {
		if _, ok := s.open[keyOf(c)]; ok {
			return fmt.Errorf("create conversation %s: another one of the pair is open: %w", c.ID, actors.ErrDuplicate)
		}
		s.open[keyOf(c)] = c.ID
	}
	s.conversations[c.ID] = c
	return nil
}

// Conversation returns the conversation or ErrNotFound.
func (s *memStore) Conversation(ctx context.Context, id string) (actors.Conversation, error) {
	if err := ctx.Err(); err != nil {
		return actors.Conversation{}, fmt.Errorf("conversation %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conversations[id]
	if !ok {
		return actors.Conversation{}, fmt.Errorf("conversation %s: %w", id, actors.ErrNotFound)
	}
	return c, nil
}

// OpenConversation returns the pair's conversation that is not closed, or
// ErrNotFound.
func (s *memStore) OpenConversation(ctx context.Context, phoneNumberID, waID string) (actors.Conversation, error) {
	key := conversation.Key{PhoneNumberID: phoneNumberID, WaID: waID}
	if err := ctx.Err(); err != nil {
		return actors.Conversation{}, fmt.Errorf("open conversation of %s: %w", key.Name(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.open[key]
	if !ok {
		return actors.Conversation{}, fmt.Errorf("open conversation of %s: %w", key.Name(), actors.ErrNotFound)
	}
	return s.conversations[id], nil
}

// SaveConversation stores c if the stored version is c.Version-1:
// ErrNotFound when absent, ErrConflict on another version, ErrDuplicate
// when c would be a second open conversation of its pair.
func (s *memStore) SaveConversation(ctx context.Context, c actors.Conversation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save conversation %s: %w", c.ID, err)
	}
	c = normConversation(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkSave(c); err != nil {
		return fmt.Errorf("save conversation %s: %w", c.ID, err)
	}
	s.applySave(c)
	return nil
}

// checkSave says why c cannot be saved, or nil. s.mu must be held.
func (s *memStore) checkSave(c actors.Conversation) error {
	old, ok := s.conversations[c.ID]
	switch {
	case !ok:
		return actors.ErrNotFound
	case old.Version != c.Version-1:
		return fmt.Errorf("version %d is not the next: %w", c.Version, actors.ErrConflict)
	}
	if c.State != actors.StateClosed {
		if id, ok := s.open[keyOf(c)]; ok && id != c.ID {
			return fmt.Errorf("another one of the pair is open: %w", actors.ErrDuplicate)
		}
	}
	return nil
}

// applySave stores c, which checkSave accepted. s.mu must be held.
func (s *memStore) applySave(c actors.Conversation) {
	old := s.conversations[c.ID]
	if id, ok := s.open[keyOf(old)]; ok && id == c.ID {
		delete(s.open, keyOf(old))
	}
	if c.State != actors.StateClosed {
		s.open[keyOf(c)] = c.ID
	}
	s.conversations[c.ID] = c
}

// byUpdatedDesc orders conversations most recently updated first, then by
// id descending.
func byUpdatedDesc(a, b actors.Conversation) int {
	return cmp.Or(b.UpdatedAt.Compare(a.UpdatedAt), strings.Compare(b.ID, a.ID))
}

// ListConversations returns one page of the conversations f selects and
// their total.
func (s *memStore) ListConversations(ctx context.Context, f actors.ConversationFilter) ([]actors.Conversation, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("list conversations: %w", err)
	}
	s.mu.Lock()
	var all []actors.Conversation
	for _, c := range s.conversations {
		switch {
		case len(f.States) > 0 && !slices.Contains(f.States, c.State),
			f.AssigneeID != "" && c.AssigneeID != f.AssigneeID,
			f.Unassigned && c.AssigneeID != "",
			f.CustomerID != "" && c.CustomerID != f.CustomerID,
			f.PhoneNumberID != "" && c.PhoneNumberID != f.PhoneNumberID:
			continue
		}
		all = append(all, c)
	}
	s.mu.Unlock()
	slices.SortFunc(all, byUpdatedDesc)
	return slices.Clone(page(all, f.Page, f.Limit)), len(all), nil
}

// OpenConversationsSince returns up to limit conversations in state new or
// active updated at or after since, most recently updated first (then by
// id descending), after the keyset (afterUpdatedAt, afterID) unless
// afterID is "".
func (s *memStore) OpenConversationsSince(ctx context.Context, since, afterUpdatedAt time.Time, afterID string, limit int) ([]actors.Conversation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open conversations since %s: %w", since.Format(time.RFC3339), err)
	}
	s.mu.Lock()
	var all []actors.Conversation
	for _, c := range s.conversations {
		if (c.State != actors.StateNew && c.State != actors.StateActive) || c.UpdatedAt.Before(since) {
			continue
		}
		if afterID != "" && byUpdatedDesc(c, actors.Conversation{ID: afterID, UpdatedAt: afterUpdatedAt}) <= 0 {
			continue
		}
		all = append(all, c)
	}
	s.mu.Unlock()
	slices.SortFunc(all, byUpdatedDesc)
	return append([]actors.Conversation{}, all[:min(len(all), max(limit, 0))]...), nil
}

// DueConversations returns up to limit open conversations whose timer is
// set and not after at, earliest first (ties by id).
func (s *memStore) DueConversations(ctx context.Context, at time.Time, limit int) ([]actors.Conversation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("due conversations: %w", err)
	}
	s.mu.Lock()
	due := []actors.Conversation{}
	for _, c := range s.conversations {
		if c.State != actors.StateClosed && !c.NextTimerAt.IsZero() && !c.NextTimerAt.After(at) {
			due = append(due, c)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(due, func(a, b actors.Conversation) int {
		return cmp.Or(a.NextTimerAt.Compare(b.NextTimerAt), strings.Compare(a.ID, b.ID))
	})
	return due[:min(len(due), max(limit, 0))], nil
}

// NextTimer returns the earliest timer of the open conversations.
func (s *memStore) NextTimer(ctx context.Context) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, fmt.Errorf("next timer: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, c := range s.conversations {
		if c.State != actors.StateClosed && !c.NextTimerAt.IsZero() && (next.IsZero() || c.NextTimerAt.Before(next)) {
			next = c.NextTimerAt
		}
	}
	return next, !next.IsZero(), nil
}

// CountOpenByAssignee counts conversations in state new or active per
// assignee.
func (s *memStore) CountOpenByAssignee(ctx context.Context) (map[string]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("count open conversations: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	for _, c := range s.conversations {
		if c.State == actors.StateNew || c.State == actors.StateActive {
			n[c.AssigneeID]++
		}
	}
	return n, nil
}

// --------------------------------------------------------------- messages

// copyMessage is m with its own copies of its slices and pointers.
func copyMessage(m actors.Message) actors.Message {
	m.Content, m.Raw = clone(m.Content), clone(m.Raw)
	if m.Error != nil {
		e := *m.Error
		m.Error = &e
	}
	return m
}

// AppendMessage inserts m; ErrDuplicate when its id or wamid is taken.
func (s *memStore) AppendMessage(ctx context.Context, m actors.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append message %s: %w", m.ID, err)
	}
	m = normMessage(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkAppend(m); err != nil {
		return fmt.Errorf("append message %s: %w", m.ID, err)
	}
	s.applyAppend(m)
	return nil
}

// AppendMessageAndSave inserts m and saves c, both or neither:
// AppendMessage's errors, then SaveConversation's.
func (s *memStore) AppendMessageAndSave(ctx context.Context, m actors.Message, c actors.Conversation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append message %s: %w", m.ID, err)
	}
	m, c = normMessage(m), normConversation(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkAppend(m); err != nil {
		return fmt.Errorf("append message %s: %w", m.ID, err)
	}
	if err := s.checkSave(c); err != nil {
		return fmt.Errorf("save conversation %s: %w", c.ID, err)
	}
	s.applyAppend(m)
	s.applySave(c)
	return nil
}

// normMessage is m as the store keeps it, with its own copies.
func normMessage(m actors.Message) actors.Message {
	m = copyMessage(m)
	m.CreatedAt, m.UpdatedAt = dbTime(m.CreatedAt), dbTime(m.UpdatedAt)
	return m
}

// checkAppend says why m cannot be inserted, or nil. s.mu must be held.
func (s *memStore) checkAppend(m actors.Message) error {
	if _, ok := s.messages[m.ID]; ok {
		return fmt.Errorf("id taken: %w", actors.ErrDuplicate)
	}
	if _, ok := s.byWaID[m.WaMessageID]; ok && m.WaMessageID != "" {
		return fmt.Errorf("wamid %s taken: %w", m.WaMessageID, actors.ErrDuplicate)
	}
	return nil
}

// applyAppend inserts m, which checkAppend accepted. s.mu must be held.
func (s *memStore) applyAppend(m actors.Message) {
	if m.WaMessageID != "" {
		s.byWaID[m.WaMessageID] = m.ID
	}
	s.messages[m.ID] = m
	s.byConversation[m.ConversationID] = append(s.byConversation[m.ConversationID], m.ID)
}

// Message returns the message with that id, or ErrNotFound.
func (s *memStore) Message(ctx context.Context, id string) (actors.Message, error) {
	if err := ctx.Err(); err != nil {
		return actors.Message{}, fmt.Errorf("message %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return actors.Message{}, fmt.Errorf("message %s: %w", id, actors.ErrNotFound)
	}
	return copyMessage(m), nil
}

// MessageByWaID returns the message with that wamid, or ErrNotFound
// (always for "").
func (s *memStore) MessageByWaID(ctx context.Context, waMessageID string) (actors.Message, error) {
	if err := ctx.Err(); err != nil {
		return actors.Message{}, fmt.Errorf("message by wamid %s: %w", waMessageID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byWaID[waMessageID]
	if !ok || waMessageID == "" {
		return actors.Message{}, fmt.Errorf("message by wamid %s: %w", waMessageID, actors.ErrNotFound)
	}
	return copyMessage(s.messages[id]), nil
}

// UpdateMessageStatus moves message id forward to status (with werr, and
// waMessageID when not empty) and reports whether it changed anything.
func (s *memStore) UpdateMessageStatus(ctx context.Context, id, status, waMessageID string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("update status of message %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return false, fmt.Errorf("update status of message %s: %w", id, actors.ErrNotFound)
	}
	if actors.StatusRank(m.Status) >= actors.StatusRank(status) {
		return false, nil
	}
	if waMessageID != "" && waMessageID != m.WaMessageID {
		if _, ok := s.byWaID[waMessageID]; ok {
			return false, fmt.Errorf("update status of message %s: wamid %s taken: %w", id, waMessageID, actors.ErrDuplicate)
		}
		delete(s.byWaID, m.WaMessageID)
		s.byWaID[waMessageID] = id
		m.WaMessageID = waMessageID
	}
	m.Status, m.UpdatedAt, m.Error = status, dbTime(at), nil
	if werr != nil {
		e := *werr
		m.Error = &e
	}
	s.messages[id] = m
	return true, nil
}

// errBadCursor: a ListMessages cursor this store did not hand out.
var errBadCursor = fmt.Errorf("message cursor: %w", actors.ErrBadCursor)

// messageCursor is the opaque cursor "<created_at ms>.<id>", base64url, as
// the SQLite store makes it.
func messageCursor(m actors.Message) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(m.CreatedAt.UnixMilli(), 10) + "." + m.ID))
}

func parseMessageCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: %q", errBadCursor, c)
	}
	at, id, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return time.Time{}, "", fmt.Errorf("%w: %q", errBadCursor, c)
	}
	return time.UnixMilli(n).UTC(), id, nil
}

// ListMessages returns up to limit messages of a conversation, newest first
// (then by id descending), older than the cursor before, and the next
// cursor ("" when no older message exists).
func (s *memStore) ListMessages(ctx context.Context, conversationID, before string, limit int) ([]actors.Message, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("list messages of %s: %w", conversationID, err)
	}
	limit, _ = pageWindow(1, limit)
	var at time.Time
	var afterID string
	if before != "" {
		var err error
		if at, afterID, err = parseMessageCursor(before); err != nil {
			return nil, "", fmt.Errorf("list messages of %s: %w", conversationID, err)
		}
	}
	s.mu.Lock()
	var all []actors.Message
	for _, id := range s.byConversation[conversationID] {
		m := s.messages[id]
		if before != "" && (m.CreatedAt.After(at) || m.CreatedAt.Equal(at) && m.ID >= afterID) {
			continue
		}
		all = append(all, copyMessage(m))
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b actors.Message) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	if len(all) <= limit {
		return append([]actors.Message{}, all...), "", nil
	}
	return all[:limit], messageCursor(all[limit-1]), nil
}

// AddPendingStatus keeps a status whose message is not known yet; the
// first of a (wamid, status) pair is kept.
func (s *memStore) AddPendingStatus(ctx context.Context, st actors.StatusUpdate) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("add pending status %s of %s: %w", st.Status, st.WaMessageID, err)
	}
	st.Timestamp, st.Raw, st.Errors = dbTime(st.Timestamp), clone(st.Raw), slices.Clone(st.Errors)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pending[st.WaMessageID] {
		if p.Status == st.Status {
			return nil
		}
	}
	s.pending[st.WaMessageID] = append(s.pending[st.WaMessageID], st)
	return nil
}

// TakePendingStatuses deletes and returns the pending statuses of a wamid,
// oldest first (by Timestamp, then the order they were added).
func (s *memStore) TakePendingStatuses(ctx context.Context, waMessageID string) ([]actors.StatusUpdate, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("take pending statuses of %s: %w", waMessageID, err)
	}
	s.mu.Lock()
	taken := s.pending[waMessageID]
	delete(s.pending, waMessageID)
	s.mu.Unlock()
	slices.SortStableFunc(taken, func(a, b actors.StatusUpdate) int { return a.Timestamp.Compare(b.Timestamp) })
	return taken, nil
}

// -------------------------------------------------------------- customers

// CreateCustomer inserts c; ErrDuplicate when its id or phone is taken.
func (s *memStore) CreateCustomer(ctx context.Context, c actors.Customer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create customer %s: %w", c.ID, err)
	}
	c.Tags, c.Attributes = slices.Clone(c.Tags), maps.Clone(c.Attributes)
	c.CreatedAt, c.UpdatedAt = dbTime(c.CreatedAt), dbTime(c.UpdatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.customers[c.ID]; ok {
		return fmt.Errorf("create customer %s: id taken: %w", c.ID, actors.ErrDuplicate)
	}
	if _, ok := s.customerByPhone[c.Phone]; ok {
		return fmt.Errorf("create customer %s: phone taken: %w", c.ID, actors.ErrDuplicate)
	}
	s.customers[c.ID] = c
	s.customerByPhone[c.Phone] = c.ID
	return nil
}

// CustomerByPhone returns the customer with that E.164 phone, or
// ErrNotFound.
func (s *memStore) CustomerByPhone(ctx context.Context, phone string) (actors.Customer, error) {
	if err := ctx.Err(); err != nil {
		return actors.Customer{}, fmt.Errorf("customer by phone: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.customerByPhone[phone]
	if !ok {
		// The number is personal data; the error names the operation only.
		return actors.Customer{}, fmt.Errorf("customer by phone: %w", actors.ErrNotFound)
	}
	c := s.customers[id]
	c.Tags, c.Attributes = slices.Clone(c.Tags), maps.Clone(c.Attributes)
	return c, nil
}

// ---------------------------------------------------------- notifications

// AddNotifications stores ns; an id stored already is skipped.
func (s *memStore) AddNotifications(ctx context.Context, ns []actors.Notification) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("add %d notifications: %w", len(ns), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range ns {
		if _, ok := s.notifications[n.ID]; ok {
			continue
		}
		n.CreatedAt, n.ReadAt = dbTime(n.CreatedAt), dbTime(n.ReadAt)
		s.notifications[n.ID] = n
		s.userNotes[n.UserID] = append(s.userNotes[n.UserID], n.ID)
	}
	return nil
}

// ListNotifications returns one page of a user's notifications, newest
// first (then by id descending), and their total.
func (s *memStore) ListNotifications(ctx context.Context, userID string, unreadOnly bool, p, limit int) ([]actors.Notification, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("list notifications of %s: %w", userID, err)
	}
	s.mu.Lock()
	var all []actors.Notification
	for _, id := range s.userNotes[userID] {
		if n := s.notifications[id]; !unreadOnly || n.ReadAt.IsZero() {
			all = append(all, n)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b actors.Notification) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	return slices.Clone(page(all, p, limit)), len(all), nil
}

// MarkNotificationsRead marks the user's unread notifications among ids
// (all of them when ids is empty) read at at and returns how many changed.
func (s *memStore) MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("mark notifications of %s read: %w", userID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := 0
	for _, id := range s.userNotes[userID] {
		n := s.notifications[id]
		if !n.ReadAt.IsZero() || len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		n.ReadAt = dbTime(at)
		s.notifications[id] = n
		changed++
	}
	return changed, nil
}

// ------------------------------------------------------------------ inbox

// AppendInbox stores a batch of entries.
func (s *memStore) AppendInbox(ctx context.Context, entries []actors.InboxEntry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append %d inbox entries: %w", len(entries), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		if _, ok := s.inbox[e.ID]; ok {
			return fmt.Errorf("append inbox entry %s: %w", e.ID, actors.ErrDuplicate)
		}
	}
	for _, e := range entries {
		e.Body, e.ReceivedAt = slices.Clone(e.Body), dbTime(e.ReceivedAt)
		s.inbox[e.ID] = e
	}
	return nil
}

// PendingInbox returns up to limit entries not yet done, by id.
func (s *memStore) PendingInbox(ctx context.Context, limit int) ([]actors.InboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pending inbox entries: %w", err)
	}
	s.mu.Lock()
	out := slices.Collect(maps.Values(s.inbox))
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b actors.InboxEntry) int { return strings.Compare(a.ID, b.ID) })
	out = out[:min(len(out), max(limit, 0))]
	for i := range out {
		out[i].Body = slices.Clone(out[i].Body)
	}
	return out, nil
}

// MarkInboxDone removes the entries; unknown ids are ignored.
func (s *memStore) MarkInboxDone(ctx context.Context, ids []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mark %d inbox entries done: %w", len(ids), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.inbox, id)
	}
	return nil
}

// RecordInboxAttempt increments an entry's attempts; ErrNotFound when it
// is not pending.
func (s *memStore) RecordInboxAttempt(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("record attempt of inbox entry %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.inbox[id]
	if !ok {
		return fmt.Errorf("record attempt of inbox entry %s: %w", id, actors.ErrNotFound)
	}
	e.Attempts++
	s.inbox[id] = e
	return nil
}
