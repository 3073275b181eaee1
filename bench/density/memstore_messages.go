package density

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wacc/engine/actors"
)

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

// UpdateMessageStatuses applies changes in order, each as
// UpdateMessageStatus does without a wamid; the first that fails stops the
// rest.
func (s *memStore) UpdateMessageStatuses(ctx context.Context, changes []actors.StatusChange) ([]bool, error) {
	changed := make([]bool, len(changes))
	for i, c := range changes {
		var err error
		if changed[i], err = s.UpdateMessageStatus(ctx, c.MessageID, c.Status, "", c.Error, c.At); err != nil {
			return nil, err
		}
	}
	return changed, nil
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
