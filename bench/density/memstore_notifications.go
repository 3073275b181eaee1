package density

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wacc/engine/actors"
)

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
