package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

const familyCols = `id, user_id, token_hash, generation, created_at, updated_at, expires_at, revoked_at, token_version`

// SQL the refresh-family methods run.
const (
	qInsertFamily = `INSERT INTO refresh_families (` + familyCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qFamily       = `SELECT ` + familyCols + ` FROM refresh_families WHERE id = ?`
	// qRotateFamily is the compare-and-swap: it matches only a live family
	// still holding the old hash, so of concurrent rotations one wins.
	qRotateFamily = `UPDATE refresh_families
		SET token_hash = ?, generation = generation + 1, expires_at = ?, updated_at = ?
		WHERE id = ? AND token_hash = ? AND revoked_at IS NULL`
	qFamilyExists = `SELECT 1 FROM refresh_families WHERE id = ?`
	// qRevokeFamily keeps the first revocation time.
	qRevokeFamily          = `UPDATE refresh_families SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`
	qRevokeUserFamilies    = `UPDATE refresh_families SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`
	qDeleteExpiredFamilies = `DELETE FROM refresh_families WHERE expires_at < ?`
)

func scanFamily(row interface{ Scan(...any) error }) (actors.RefreshFamily, error) {
	var f actors.RefreshFamily
	var created, updated, expires int64
	var revoked sql.NullInt64
	if err := row.Scan(&f.ID, &f.UserID, &f.TokenHash, &f.Generation, &created, &updated, &expires, &revoked, &f.TokenVersion); err != nil {
		return actors.RefreshFamily{}, mapErr(err)
	}
	f.CreatedAt, f.UpdatedAt, f.ExpiresAt = fromMillis(created), fromMillis(updated), fromMillis(expires)
	f.RevokedAt = fromNullMillis(revoked)
	return f, nil
}

// CreateFamily inserts f; ErrDuplicate when the id is taken.
func (s *Store) CreateFamily(ctx context.Context, f actors.RefreshFamily) error {
	_, err := s.exec(ctx, nil, qInsertFamily,
		f.ID, f.UserID, f.TokenHash, f.Generation,
		millis(f.CreatedAt), millis(f.UpdatedAt), millis(f.ExpiresAt), nullMillis(f.RevokedAt), f.TokenVersion)
	if err != nil {
		return fmt.Errorf("create refresh family %s: %w", f.ID, err)
	}
	return nil
}

// Family returns the family or ErrNotFound.
func (s *Store) Family(ctx context.Context, id string) (actors.RefreshFamily, error) {
	f, err := scanFamily(s.r.QueryRowContext(ctx, qFamily, id))
	if err != nil {
		return actors.RefreshFamily{}, fmt.Errorf("refresh family %s: %w", id, err)
	}
	return f, nil
}

// RotateFamily replaces oldHash by newHash if the family is live and still
// holds oldHash; otherwise ErrConflict (ErrNotFound when absent). The check
// and the write are one UPDATE in one transaction.
func (s *Store) RotateFamily(ctx context.Context, id, oldHash, newHash string, expiresAt, now time.Time) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qRotateFamily, newHash, millis(expiresAt), millis(now), id, oldHash)
		// Nothing matched: tell a missing family from a lost race.
		if ok, err := updated(ctx, tx, res, err, qFamilyExists, id); ok || err != nil {
			return err
		}
		return fmt.Errorf("token hash is stale or family revoked: %w", actors.ErrConflict)
	})
	if err != nil {
		return fmt.Errorf("rotate refresh family %s: %w", id, err)
	}
	return nil
}

// RevokeFamily marks the family revoked at at; a second revocation keeps the
// first time. ErrNotFound when absent.
func (s *Store) RevokeFamily(ctx context.Context, id string, at time.Time) error {
	n, err := s.exec(ctx, nil, qRevokeFamily, millis(at), id)
	if err != nil {
		return fmt.Errorf("revoke refresh family %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("revoke refresh family %s: %w", id, actors.ErrNotFound)
	}
	return nil
}

// RevokeUserFamilies revokes every live family of userID and returns how many
// it revoked.
func (s *Store) RevokeUserFamilies(ctx context.Context, userID string, at time.Time) (int, error) {
	n, err := s.exec(ctx, nil, qRevokeUserFamilies, millis(at), userID)
	if err != nil {
		return 0, fmt.Errorf("revoke refresh families of user %s: %w", userID, err)
	}
	return int(n), nil
}

// DeleteExpiredFamilies removes families whose ExpiresAt is before before and
// returns how many it removed.
func (s *Store) DeleteExpiredFamilies(ctx context.Context, before time.Time) (int, error) {
	n, err := s.exec(ctx, nil, qDeleteExpiredFamilies, millis(before))
	if err != nil {
		return 0, fmt.Errorf("delete refresh families expired before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return int(n), nil
}
