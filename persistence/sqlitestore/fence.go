package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

var _ actors.EpochStore = (*Store)(nil)

// SQL of fencing (0015_fencing).
const (
	// qAcquireEpoch increments the key's epoch (1 for a new key) and returns it.
	qAcquireEpoch = `INSERT INTO conversation_epochs (phone_number_id, wa_id, epoch) VALUES (?, ?, 1)
		ON CONFLICT (phone_number_id, wa_id) DO UPDATE SET epoch = epoch + 1
		RETURNING epoch`
	qEpochOf = `SELECT epoch FROM conversation_epochs WHERE phone_number_id = ? AND wa_id = ?`
)

// AcquireEpoch increments the epoch of the key (phoneNumberID, waID) in one
// committer job and returns it. Every fenced write made with an older epoch
// after it is refused.
func (s *Store) AcquireEpoch(ctx context.Context, phoneNumberID, waID string) (int64, error) {
	var epoch int64
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return mapErr(tx.StmtContext(ctx, s.st.acquireEpoch).QueryRowContext(ctx, phoneNumberID, waID).Scan(&epoch))
	})
	if err != nil {
		// waID is a phone number; the error names the business number only.
		return 0, fmt.Errorf("acquire conversation epoch on %s: %w", phoneNumberID, err)
	}
	return epoch, nil
}

// checkEpochTx refuses a write fenced with epoch (ErrFenced) unless epoch is
// the key's current epoch; epoch 0 is an unfenced write. It runs in the
// write's transaction: the committer runs one job at a time, so no epoch
// is acquired between the check and the write.
func (s *Store) checkEpochTx(ctx context.Context, tx *sql.Tx, phoneNumberID, waID string, epoch int64) error {
	if epoch == 0 {
		return nil
	}
	var cur int64
	err := tx.StmtContext(ctx, s.st.epochOf).QueryRowContext(ctx, phoneNumberID, waID).Scan(&cur)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return mapErr(err)
	}
	if cur != epoch {
		return fmt.Errorf("epoch %d is not the current %d: %w", epoch, cur, actors.ErrFenced)
	}
	return nil
}

// UpdateMessageStatusFenced is UpdateMessageStatus, in the same committer
// job as the check of f's epoch: all or nothing.
func (s *Store) UpdateMessageStatusFenced(ctx context.Context, f actors.Fence, id, status, waMessageID string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	e, err := encodeError(werr)
	if err != nil {
		return false, fmt.Errorf("update status of message %s: %w", id, err)
	}
	changed := false
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.checkEpochTx(ctx, tx, f.PhoneNumberID, f.WaID, f.Epoch); err != nil {
			return err
		}
		changed, err = s.updateStatusTx(ctx, tx, id, status, e, waMessageID, at)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("update status of message %s: %w", id, err)
	}
	return changed, nil
}

// UpdateMessageStatusesFenced is UpdateMessageStatuses, in the same
// committer job as the check of f's epoch: all or nothing.
func (s *Store) UpdateMessageStatusesFenced(ctx context.Context, f actors.Fence, changes []actors.StatusChange) ([]bool, error) {
	return s.updateStatuses(ctx, f, changes)
}
