package conversation_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// memStore is an in-memory Store (and TimerStore) with the contract's
// semantics: conditional saves on Version, a message and its conversation
// written together or not at all, unique message ids and wamids, statuses
// only forward. Tests make it fail or panic on demand.
type memStore struct {
	mu        sync.Mutex
	convs     map[string]actors.Conversation
	msgs      map[string]actors.Message
	byWamid   map[string]string
	pending   map[string][]actors.StatusUpdate
	notes     []actors.Notification
	customers map[string]actors.Customer

	// saveErr, when set, fails every conversation write.
	saveErr error
	// panicText makes AppendMessageAndSave panic on a message with that
	// text, as a bug in the write path would.
	panicText string

	loads  atomic.Int32 // OpenConversation calls
	saves  atomic.Int32 // conversation writes tried
	panics atomic.Int32
}

var (
	_ conversation.Store      = (*memStore)(nil)
	_ conversation.TimerStore = (*memStore)(nil)
)

func newMemStore() *memStore {
	return &memStore{convs: map[string]actors.Conversation{}, msgs: map[string]actors.Message{}, byWamid: map[string]string{},
		pending: map[string][]actors.StatusUpdate{}, customers: map[string]actors.Customer{}}
}

func (s *memStore) CreateConversation(_ context.Context, c actors.Conversation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.convs[c.ID]; ok {
		return fmt.Errorf("create conversation %s: %w", c.ID, actors.ErrDuplicate)
	}
	if _, ok := s.openLocked(c.PhoneNumberID, c.WaID); ok {
		return fmt.Errorf("create conversation %s: another is open: %w", c.ID, actors.ErrDuplicate)
	}
	c.Version = 1
	s.convs[c.ID] = c
	return nil
}

func (s *memStore) openLocked(pn, wa string) (actors.Conversation, bool) {
	for _, c := range s.convs {
		if c.PhoneNumberID == pn && c.WaID == wa && c.State != actors.StateClosed {
			return c, true
		}
	}
	return actors.Conversation{}, false
}

func (s *memStore) OpenConversation(_ context.Context, pn, wa string) (actors.Conversation, error) {
	s.loads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.openLocked(pn, wa); ok {
		return c, nil
	}
	return actors.Conversation{}, fmt.Errorf("open conversation %s/%s: %w", pn, wa, actors.ErrNotFound)
}

func (s *memStore) saveLocked(c actors.Conversation) error {
	s.saves.Add(1)
	if s.saveErr != nil {
		return s.saveErr
	}
	cur, ok := s.convs[c.ID]
	if !ok {
		return fmt.Errorf("save conversation %s: %w", c.ID, actors.ErrNotFound)
	}
	if cur.Version != c.Version-1 {
		return fmt.Errorf("save conversation %s: stored version %d: %w", c.ID, cur.Version, actors.ErrConflict)
	}
	s.convs[c.ID] = c
	return nil
}

func (s *memStore) SaveConversation(_ context.Context, c actors.Conversation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveLocked(c)
}

func (s *memStore) AppendMessageAndSave(_ context.Context, m actors.Message, c actors.Conversation) error {
	if s.panicText != "" && m.Text == s.panicText {
		s.panics.Add(1)
		panic("bug while storing a message")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.msgs[m.ID]; ok {
		return fmt.Errorf("append message %s: %w", m.ID, actors.ErrDuplicate)
	}
	if _, ok := s.byWamid[m.WaMessageID]; ok && m.WaMessageID != "" {
		return fmt.Errorf("append message %s: wamid %s: %w", m.ID, m.WaMessageID, actors.ErrDuplicate)
	}
	if err := s.saveLocked(c); err != nil {
		return err
	}
	s.msgs[m.ID] = m
	if m.WaMessageID != "" {
		s.byWamid[m.WaMessageID] = m.ID
	}
	return nil
}

func (s *memStore) Message(_ context.Context, id string) (actors.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.msgs[id]; ok {
		return m, nil
	}
	return actors.Message{}, fmt.Errorf("message %s: %w", id, actors.ErrNotFound)
}

func (s *memStore) MessageByWaID(_ context.Context, wamid string) (actors.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byWamid[wamid]; ok {
		return s.msgs[id], nil
	}
	return actors.Message{}, fmt.Errorf("message by wamid %s: %w", wamid, actors.ErrNotFound)
}

func (s *memStore) UpdateMessageStatus(_ context.Context, id, status, wamid string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateStatusLocked(id, status, wamid, werr, at)
}

// UpdateMessageStatuses applies changes in order, all or none: none when a
// message is absent.
func (s *memStore) UpdateMessageStatuses(_ context.Context, changes []actors.StatusChange) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range changes {
		if _, ok := s.msgs[c.MessageID]; !ok {
			return nil, fmt.Errorf("update message %s: %w", c.MessageID, actors.ErrNotFound)
		}
	}
	changed := make([]bool, len(changes))
	for i, c := range changes {
		changed[i], _ = s.updateStatusLocked(c.MessageID, c.Status, "", c.Error, c.At)
	}
	return changed, nil
}

func (s *memStore) updateStatusLocked(id, status, wamid string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	m, ok := s.msgs[id]
	if !ok {
		return false, fmt.Errorf("update message %s: %w", id, actors.ErrNotFound)
	}
	if actors.StatusRank(status) <= actors.StatusRank(m.Status) {
		return false, nil
	}
	m.Status, m.UpdatedAt = status, at
	if werr != nil {
		e := *werr
		m.Error = &e
	}
	if wamid != "" {
		m.WaMessageID = wamid
		s.byWamid[wamid] = id
	}
	s.msgs[id] = m
	return true, nil
}

func (s *memStore) AddPendingStatus(_ context.Context, u actors.StatusUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pending[u.WaMessageID] {
		if p.Status == u.Status {
			return nil
		}
	}
	s.pending[u.WaMessageID] = append(s.pending[u.WaMessageID], u)
	return nil
}

func (s *memStore) TakePendingStatuses(_ context.Context, wamid string) ([]actors.StatusUpdate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.pending[wamid]
	delete(s.pending, wamid)
	return out, nil
}

func (s *memStore) AddNotifications(_ context.Context, ns []actors.Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notes = append(s.notes, ns...)
	return nil
}

func (s *memStore) CustomerByPhone(_ context.Context, phone string) (actors.Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.customers[phone]; ok {
		return c, nil
	}
	return actors.Customer{}, fmt.Errorf("customer %s: %w", phone, actors.ErrNotFound)
}

func (s *memStore) CreateCustomer(_ context.Context, c actors.Customer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.customers[c.Phone]; ok {
		return fmt.Errorf("create customer: %w", actors.ErrDuplicate)
	}
	s.customers[c.Phone] = c
	return nil
}

func (s *memStore) DueConversations(_ context.Context, at time.Time, limit int) ([]actors.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []actors.Conversation
	for _, c := range s.convs {
		if c.State != actors.StateClosed && !c.NextTimerAt.IsZero() && !c.NextTimerAt.After(at) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NextTimerAt.Before(out[j].NextTimerAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *memStore) NextTimer(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, c := range s.convs {
		if c.State != actors.StateClosed && !c.NextTimerAt.IsZero() && (next.IsZero() || c.NextTimerAt.Before(next)) {
			next = c.NextTimerAt
		}
	}
	return next, !next.IsZero(), nil
}

// conversation returns the stored conversation with that id.
func (s *memStore) conversation(id string) actors.Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.convs[id]
}

// put overwrites a stored conversation, as another activation's write
// would (its Version moves on).
func (s *memStore) put(c actors.Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.convs[c.ID] = c
}

// message returns the stored message with that id.
func (s *memStore) message(id string) actors.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs[id]
}

// messagesOf returns the messages of a conversation.
func (s *memStore) messagesOf(convID string) []actors.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []actors.Message
	for _, m := range s.msgs {
		if m.ConversationID == convID {
			out = append(out, m)
		}
	}
	return out
}

// notificationsOf returns the kinds of a user's notifications, in order.
func (s *memStore) notificationsOf(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.notes {
		if n.UserID == userID {
			out = append(out, n.Kind)
		}
	}
	return out
}

func (s *memStore) pendingOf(wamid string) []actors.StatusUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]actors.StatusUpdate(nil), s.pending[wamid]...)
}

func (s *memStore) setSaveErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saveErr = err
}
