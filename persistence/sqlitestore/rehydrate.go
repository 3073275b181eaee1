package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

// SQL of OpenConversationsSince: a backward walk of conversations_updated
// (updated_at, id) from the newest row (or from the keyset cursor) down to
// since, checking the state per row. The rows it passes over are the ones
// updated since the cut-off, which after a restart are mostly the open
// conversations it is after, so no index of its own is needed (one more
// index on updated_at would cost every conversation save another B-tree
// update). INDEXED BY keeps the planner off conversations_state, whose two
// open states would need a sort.
const (
	openStates = `state IN ('new', 'active')`
	qOpenSince = `SELECT ` + conversationCols + ` FROM conversations INDEXED BY conversations_updated
		WHERE updated_at >= ? AND ` + openStates + `
		ORDER BY updated_at DESC, id DESC LIMIT ?`
	qOpenSinceAfter = `SELECT ` + conversationCols + ` FROM conversations INDEXED BY conversations_updated
		WHERE updated_at >= ? AND (updated_at, id) < (?, ?) AND ` + openStates + `
		ORDER BY updated_at DESC, id DESC LIMIT ?`
)

// OpenConversationsSince returns up to limit conversations in state new or
// active updated at or after since, most recently updated first (UpdatedAt
// descending, then ID descending), after the keyset cursor (afterUpdatedAt,
// afterID): the first page passes afterID "", each next one the UpdatedAt and
// ID of the last conversation of the page before.
func (s *Store) OpenConversationsSince(ctx context.Context, since, afterUpdatedAt time.Time, afterID string, limit int) ([]actors.Conversation, error) {
	if limit < 1 {
		return []actors.Conversation{}, nil
	}
	query, args := qOpenSince, []any{millis(since), limit}
	if afterID != "" {
		query, args = qOpenSinceAfter, []any{millis(since), millis(afterUpdatedAt), afterID, limit}
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("open conversations since %s after %q: %w", since.UTC().Format(time.RFC3339), afterID, mapErr(err))
	}
	out, err := scanConversations(rows, min(limit, 1024))
	if err != nil {
		return nil, fmt.Errorf("open conversations since %s after %q: %w", since.UTC().Format(time.RFC3339), afterID, err)
	}
	return out, nil
}
