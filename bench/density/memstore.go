package density

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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
