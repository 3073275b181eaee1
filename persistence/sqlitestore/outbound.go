package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

var _ actors.OutboundStore = (*Store)(nil)

// SQL of the outbound store.
const (
	qMessageByID      = `SELECT ` + messageCols + ` FROM messages WHERE id = ?`
	qQueuedOutbound   = `SELECT ` + messageCols + ` FROM messages WHERE status = 'queued' AND direction = 'outbound' ORDER BY created_at, id LIMIT ?`
	qClaimIdempotency = `INSERT INTO idempotency_keys (key, request_hash, status, body, created_at, expires_at) VALUES (?, ?, 0, NULL, ?, ?)`
	qIdempotency      = `SELECT key, request_hash, status, body, created_at, expires_at FROM idempotency_keys WHERE key = ?`
	qCompleteIdem     = `UPDATE idempotency_keys SET status = ?, body = ? WHERE key = ?`
	qReleaseIdem      = `DELETE FROM idempotency_keys WHERE key = ? AND status = 0`
	qExpireIdem       = `DELETE FROM idempotency_keys WHERE expires_at < ?`
	qRequeueFailed    = `UPDATE messages SET status = 'queued', error = NULL, updated_at = ? WHERE id = ? AND status = 'failed' AND direction = 'outbound'`
)

// Message returns the message with that id, or ErrNotFound.
func (s *Store) Message(ctx context.Context, id string) (actors.Message, error) {
	m, err := scanMessage(s.st.messageByID.QueryRowContext(ctx, id))
	if err != nil {
		return actors.Message{}, fmt.Errorf("message %s: %w", id, err)
	}
	return m, nil
}

// QueuedOutbound returns up to limit outbound messages still queued,
// oldest first.
func (s *Store) QueuedOutbound(ctx context.Context, limit int) ([]actors.Message, error) {
	rows, err := s.r.QueryContext(ctx, qQueuedOutbound, limit)
	if err != nil {
		return nil, fmt.Errorf("queued outbound messages: %w", mapErr(err))
	}
	defer rows.Close()
	var out []actors.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("queued outbound messages: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queued outbound messages: %w", mapErr(err))
	}
	return out, nil
}

// ClaimIdempotency stores a new in-progress record; ErrDuplicate when the
// key exists.
func (s *Store) ClaimIdempotency(ctx context.Context, rec actors.IdempotencyRecord) error {
	if _, err := s.exec(ctx, nil, qClaimIdempotency, rec.Key, rec.RequestHash, millis(rec.CreatedAt), millis(rec.ExpiresAt)); err != nil {
		return fmt.Errorf("claim idempotency key: %w", err)
	}
	return nil
}

// IdempotencyRecord returns the record of key or ErrNotFound.
func (s *Store) IdempotencyRecord(ctx context.Context, key string) (actors.IdempotencyRecord, error) {
	var r actors.IdempotencyRecord
	var created, expires int64
	if err := s.r.QueryRowContext(ctx, qIdempotency, key).Scan(&r.Key, &r.RequestHash, &r.Status, &r.Body, &created, &expires); err != nil {
		return actors.IdempotencyRecord{}, fmt.Errorf("idempotency key: %w", mapErr(err))
	}
	r.CreatedAt, r.ExpiresAt = fromMillis(created), fromMillis(expires)
	return r, nil
}

// CompleteIdempotency stores the answer of a claimed key.
func (s *Store) CompleteIdempotency(ctx context.Context, key string, status int, body []byte) error {
	n, err := s.exec(ctx, nil, qCompleteIdem, status, blob(body), key)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("complete idempotency key: %w", actors.ErrNotFound)
	}
	return nil
}

// ReleaseIdempotency deletes an in-progress claim.
func (s *Store) ReleaseIdempotency(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, nil, qReleaseIdem, key); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// DeleteExpiredIdempotency removes records that expired before before.
func (s *Store) DeleteExpiredIdempotency(ctx context.Context, before time.Time) (int, error) {
	n, err := s.exec(ctx, nil, qExpireIdem, millis(before))
	if err != nil {
		return 0, fmt.Errorf("delete expired idempotency keys: %w", err)
	}
	return int(n), nil
}

// RequeueFailed moves a failed outbound message back to queued.
func (s *Store) RequeueFailed(ctx context.Context, id string, at time.Time) (bool, error) {
	n, err := s.exec(ctx, nil, qRequeueFailed, millis(at), id)
	if err != nil {
		return false, fmt.Errorf("requeue message %s: %w", id, err)
	}
	return n == 1, nil
}
