package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

// SQL of the send claims (migration 0014): a send's claim is three columns
// of its message, written by one conditional UPDATE.
const (
	// qClaimSend claims a queued message that no live claim holds. A claim
	// taken over (its lease ran out) keeps its send_claimed_at.
	// Arguments: owner, now, lease until, id.
	qClaimSend = `UPDATE messages
		SET send_owner = ?1, send_lease_until = ?3,
		    send_claimed_at = CASE WHEN send_owner IS NULL THEN ?2 ELSE send_claimed_at END
		WHERE id = ?4 AND status = 'queued' AND (send_owner IS NULL OR send_lease_until < ?2)
		RETURNING send_claimed_at`
	// qSendClaimState tells why qClaimSend changed nothing.
	qSendClaimState = `SELECT status, send_owner IS NOT NULL FROM messages WHERE id = ?`
	// qSendClaimHeld tells, before qClaimSend in the same transaction,
	// whether a claim (live or lapsed) is on the message: a claim that
	// succeeds over one is a take-over. The times cannot tell it: a dead
	// holder's claim may carry the same millisecond as the new one.
	qSendClaimHeld = `SELECT send_owner IS NOT NULL FROM messages WHERE id = ?`
	qReleaseSend   = `UPDATE messages SET send_owner = NULL, send_claimed_at = NULL, send_lease_until = NULL
		WHERE id = ? AND send_owner = ?`
	// qSettleSendClaims walks the queued outbound messages only (the
	// partial index messages_queued_outbound): a claim is only ever
	// looked at on a queued message.
	qSettleSendClaims = `UPDATE messages SET send_lease_until = 0
		WHERE status = 'queued' AND direction = 'outbound' AND send_owner IS NOT NULL AND send_lease_until > 0`
)

// ClaimSend claims the send of message id for owner until leaseUntil: one
// conditional UPDATE, a committer job, which also answers what a read of
// the message was for (absent, no longer queued).
func (s *Store) ClaimSend(ctx context.Context, id, owner string, now, leaseUntil time.Time) (actors.SendClaim, error) {
	var claimed int64
	var held bool
	var out actors.SendClaim
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, qSendClaimHeld, id).Scan(&held); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return mapErr(err)
		}
		err := tx.StmtContext(ctx, s.st.claimSend).QueryRowContext(ctx, owner, millis(now), millis(leaseUntil), id).Scan(&claimed)
		if !errors.Is(err, sql.ErrNoRows) {
			return mapErr(err)
		}
		// Not claimed: absent, not queued, or held. Asked inside the job,
		// so a write earlier in the same batch is seen.
		var status string
		var owned bool
		if err := tx.QueryRowContext(ctx, qSendClaimState, id).Scan(&status, &owned); err != nil {
			return mapErr(err)
		}
		out.State = actors.SendInFlight
		if status != actors.StatusQueued {
			out.State = actors.SendNotQueued
		}
		return nil
	})
	if err != nil {
		return actors.SendClaim{}, fmt.Errorf("claim the send of message %s: %w", id, err)
	}
	if out.State != 0 {
		return out, nil
	}
	out.State, out.ClaimedAt = actors.SendClaimed, fromMillis(claimed)
	if held {
		out.State = actors.SendOutcomeUnknown
	}
	return out, nil
}

// ReleaseSend clears owner's claim of message id's send.
func (s *Store) ReleaseSend(ctx context.Context, id, owner string) error {
	if _, err := s.exec(ctx, nil, qReleaseSend, id, owner); err != nil {
		return fmt.Errorf("release the send of message %s: %w", id, err)
	}
	return nil
}

// SettleSendClaims ends the lease of every claim of a queued message.
func (s *Store) SettleSendClaims(ctx context.Context) (int, error) {
	n, err := s.exec(ctx, nil, qSettleSendClaims)
	if err != nil {
		return 0, fmt.Errorf("settle send claims: %w", err)
	}
	return int(n), nil
}
