package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/sealed"
)

var _ actors.OutboundStore = (*Store)(nil)

// SQL of the outbound store.
const (
	qMessageByID    = `SELECT ` + messageReadCols + ` FROM messages WHERE id = ?`
	qQueuedOutbound = `SELECT ` + messageReadCols + ` FROM messages WHERE status = 'queued' AND direction = 'outbound' ORDER BY created_at, id LIMIT ?`
	// qClaimIdempotency inserts a new claim or takes over, in the same
	// statement, one whose claimant died (unanswered, same request, lease
	// out: it keeps its created_at) or one that expired (replaced whole).
	// It returns the claimed row, or no row when the key is held.
	qClaimIdempotency = `INSERT INTO idempotency_keys (key, request_hash, status, body, created_at, expires_at, owner, lease_until)
		VALUES (?1, ?2, 0, NULL, ?3, ?4, ?5, ?6)
		ON CONFLICT (key) DO UPDATE SET
			request_hash = excluded.request_hash, status = 0, body = NULL,
			created_at = CASE WHEN idempotency_keys.expires_at < ?3 THEN ?3 ELSE idempotency_keys.created_at END,
			expires_at = CASE WHEN idempotency_keys.expires_at < ?3 THEN ?4 ELSE idempotency_keys.expires_at END,
			owner = excluded.owner, lease_until = excluded.lease_until
		WHERE idempotency_keys.expires_at < ?3
			OR (idempotency_keys.status = 0 AND idempotency_keys.request_hash = ?2 AND idempotency_keys.lease_until < ?3)
		RETURNING created_at, expires_at`
	qIdempotency   = `SELECT key, request_hash, status, body, created_at, expires_at, owner, lease_until FROM idempotency_keys WHERE key = ?`
	qCompleteIdem  = `UPDATE idempotency_keys SET status = ?, body = ? WHERE key = ? AND owner = ? AND status = 0`
	qReleaseIdem   = `DELETE FROM idempotency_keys WHERE key = ? AND owner = ? AND status = 0`
	qSettleIdem    = `UPDATE idempotency_keys SET lease_until = 0 WHERE status = 0 AND lease_until > 0`
	qExpireIdem    = `DELETE FROM idempotency_keys WHERE expires_at < ?`
	qRequeueFailed = `UPDATE messages SET status = 'queued', error = NULL, updated_at = ?,
		send_owner = NULL, send_claimed_at = NULL, send_lease_until = NULL
		WHERE id = ? AND status = 'failed' AND direction = 'outbound'`
)

// Message returns the message with that id, or ErrNotFound.
func (s *Store) Message(ctx context.Context, id string) (actors.Message, error) {
	m, err := s.scanMessage(s.st.messageByID.QueryRowContext(ctx, id))
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
		m, err := s.scanMessage(rows)
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

// ClaimIdempotency claims rec.Key for rec.Owner: a new key, or one whose
// claimant died (lease out) or that expired, in one statement; ErrDuplicate
// when the key is held or answered.
func (s *Store) ClaimIdempotency(ctx context.Context, rec actors.IdempotencyRecord) (actors.IdempotencyRecord, error) {
	var created, expires int64
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, qClaimIdempotency, rec.Key, rec.RequestHash, millis(rec.CreatedAt), millis(rec.ExpiresAt),
			rec.Owner, millis(rec.LeaseUntil)).Scan(&created, &expires)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return actors.IdempotencyRecord{}, fmt.Errorf("claim idempotency key: %w", actors.ErrDuplicate)
	}
	if err != nil {
		return actors.IdempotencyRecord{}, fmt.Errorf("claim idempotency key: %w", mapErr(err))
	}
	rec.Status, rec.Body = 0, nil
	rec.CreatedAt, rec.ExpiresAt = fromMillis(created), fromMillis(expires)
	return rec, nil
}

// IdempotencyRecord returns the record of key or ErrNotFound.
func (s *Store) IdempotencyRecord(ctx context.Context, key string) (actors.IdempotencyRecord, error) {
	var r actors.IdempotencyRecord
	var created, expires, lease int64
	if err := s.r.QueryRowContext(ctx, qIdempotency, key).Scan(&r.Key, &r.RequestHash, &r.Status, &r.Body, &created, &expires, &r.Owner, &lease); err != nil {
		return actors.IdempotencyRecord{}, fmt.Errorf("idempotency key: %w", mapErr(err))
	}
	if len(r.Body) > 0 {
		body, err := s.keys.Open(sealed.AAD("idempotency_keys", "body", key), r.Body)
		if err != nil {
			return actors.IdempotencyRecord{}, fmt.Errorf("idempotency key: open stored answer: %w", err)
		}
		r.Body = body
	}
	r.CreatedAt, r.ExpiresAt = fromMillis(created), fromMillis(expires)
	if lease > 0 {
		r.LeaseUntil = fromMillis(lease)
	}
	return r, nil
}

// CompleteIdempotency stores the answer of owner's unanswered claim of key.
func (s *Store) CompleteIdempotency(ctx context.Context, key, owner string, status int, body []byte) error {
	// The stored answer repeats what the request returned (a customer, a
	// message): sealed like the records it shows.
	sealedBody := s.keys.SealBytes(sealed.AAD("idempotency_keys", "body", key), body)
	n, err := s.exec(ctx, nil, qCompleteIdem, status, blob(sealedBody), key, owner)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("complete idempotency key: no unanswered claim of this owner: %w", actors.ErrNotFound)
	}
	return nil
}

// ReleaseIdempotency deletes owner's unanswered claim of key.
func (s *Store) ReleaseIdempotency(ctx context.Context, key, owner string) error {
	if _, err := s.exec(ctx, nil, qReleaseIdem, key, owner); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// SettleIdempotencyClaims ends the lease of every unanswered claim.
func (s *Store) SettleIdempotencyClaims(ctx context.Context) (int, error) {
	n, err := s.exec(ctx, nil, qSettleIdem)
	if err != nil {
		return 0, fmt.Errorf("settle idempotency claims: %w", err)
	}
	return int(n), nil
}

// DeleteExpiredIdempotency removes records that expired before before.
func (s *Store) DeleteExpiredIdempotency(ctx context.Context, before time.Time) (int, error) {
	n, err := s.exec(ctx, nil, qExpireIdem, millis(before))
	if err != nil {
		return 0, fmt.Errorf("delete expired idempotency keys: %w", err)
	}
	return int(n), nil
}

// RequeueFailed moves a failed outbound message back to queued, its error
// and any send claim cleared, so the re-drive's send is claimed afresh.
func (s *Store) RequeueFailed(ctx context.Context, id string, at time.Time) (bool, error) {
	n, err := s.exec(ctx, nil, qRequeueFailed, millis(at), id)
	if err != nil {
		return false, fmt.Errorf("requeue message %s: %w", id, err)
	}
	return n == 1, nil
}
