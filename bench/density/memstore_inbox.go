package density

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wacc/engine/actors"
)

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
		// The parsed batch travels in memory only, as with a real store.
		e.Body, e.ReceivedAt, e.Batch = slices.Clone(e.Body), dbTime(e.ReceivedAt), nil
		if !e.LeaseUntil.IsZero() {
			e.LeaseUntil = dbTime(e.LeaseUntil)
		}
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

// ClaimInbox leases to owner up to limit entries that are unclaimed,
// owner's, or whose lease ran out before now, oldest first.
func (s *memStore) ClaimInbox(ctx context.Context, owner string, now, until time.Time, limit int) ([]actors.InboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("claim inbox entries for %s: %w", owner, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.inbox))
	var out []actors.InboxEntry
	for _, id := range ids {
		if len(out) >= limit {
			break
		}
		e := s.inbox[id]
		if e.Owner != "" && e.Owner != owner && !e.LeaseUntil.Before(now) {
			continue
		}
		e.Owner, e.LeaseUntil = owner, dbTime(until)
		s.inbox[id] = e
		e.Body = slices.Clone(e.Body)
		out = append(out, e)
	}
	return out, nil
}

// RenewInbox moves owner's live leases to until.
func (s *memStore) RenewInbox(ctx context.Context, owner string, now, until time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("renew inbox leases of %s: %w", owner, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, e := range s.inbox {
		if e.Owner == owner && !e.LeaseUntil.Before(now) {
			e.LeaseUntil = dbTime(until)
			s.inbox[id] = e
			n++
		}
	}
	return n, nil
}
