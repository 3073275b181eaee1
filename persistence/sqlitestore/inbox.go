package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/sealed"
)

// SQL the inbox methods run, on the inbox database (see inboxPath). Pending
// entries are walked in id order through the primary key's index; done
// entries are deleted.
const (
	// An entry whose id is stored already is skipped, so retrying a batch
	// whose commit answer was lost is harmless.
	qInsertInbox = `INSERT OR IGNORE INTO inbox (id, body, received_at, attempts, owner, lease_until) VALUES (?, ?, ?, ?, ?, ?)`
	// qPendingInbox also reads the main database's legacy inbox table,
	// which has no lease columns (see moveLegacyInbox).
	qPendingInbox      = `SELECT id, body, received_at, attempts FROM inbox ORDER BY id LIMIT ?`
	qPendingInboxLease = `SELECT id, body, received_at, attempts, owner, lease_until FROM inbox ORDER BY id LIMIT ?`
	// qClaimInbox is one statement: SQLite runs it alone on the inbox
	// database's single writer, so no other claim sees the rows between
	// its choice and its write. RETURNING has no order; ClaimInbox sorts.
	qClaimInbox = `UPDATE inbox SET owner = ?1, lease_until = ?2 WHERE id IN (
	SELECT id FROM inbox WHERE owner = '' OR owner = ?1 OR lease_until < ?3 ORDER BY id LIMIT ?4)
	RETURNING id, body, received_at, attempts, owner, lease_until`
	qRenewInbox         = `UPDATE inbox SET lease_until = ?1 WHERE owner = ?2 AND lease_until >= ?3`
	qDeleteInbox        = `DELETE FROM inbox WHERE id IN (SELECT value FROM json_each(?))`
	qRecordInboxAttempt = `UPDATE inbox SET attempts = attempts + 1 WHERE id = ?`
)

// AppendInbox stores entries in one transaction on the inbox database: one
// commit, one fsync of its WAL, however many bodies the batch holds, and no
// wait behind writes to the main database.
func (s *Store) AppendInbox(ctx context.Context, entries []actors.InboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := inTxOn(ctx, s.iw, func(tx *sql.Tx) error {
		stmt := tx.StmtContext(ctx, s.st.insertInbox)
		defer stmt.Close()
		for _, e := range entries {
			body := s.keys.SealBytes(sealed.AAD("inbox", "body", e.ID), e.Body)
			if body == nil {
				body = []byte{}
			}
			if _, err := stmt.ExecContext(ctx, e.ID, body, millis(e.ReceivedAt), e.Attempts, e.Owner, leaseMillis(e)); err != nil {
				return fmt.Errorf("entry %s: %w", e.ID, mapErr(err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d inbox entries: %w", len(entries), err)
	}
	return nil
}

// PendingInbox returns up to limit entries not yet done, oldest (smallest
// id) first, whoever holds them.
func (s *Store) PendingInbox(ctx context.Context, limit int) ([]actors.InboxEntry, error) {
	limit, _ = pageWindow(1, limit)
	rows, err := s.st.pendingInbox.QueryContext(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("pending inbox: %w", mapErr(err))
	}
	out, err := s.scanInbox(rows, min(limit, 64))
	if err != nil {
		return nil, fmt.Errorf("pending inbox: %w", err)
	}
	return out, nil
}

// ClaimInbox leases to owner, until until, up to limit entries that are
// unclaimed, owner's, or whose lease ran out before now, in one UPDATE on
// the inbox database's writer, and returns them oldest first.
func (s *Store) ClaimInbox(ctx context.Context, owner string, now, until time.Time, limit int) ([]actors.InboxEntry, error) {
	if owner == "" {
		return nil, errors.New("claim inbox entries: the owner is empty")
	}
	limit, _ = pageWindow(1, limit)
	rows, err := s.st.claimInbox.QueryContext(ctx, owner, millis(until), millis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim inbox entries for %s: %w", owner, mapErr(err))
	}
	out, err := s.scanInbox(rows, min(limit, 64))
	if err != nil {
		return nil, fmt.Errorf("claim inbox entries for %s: %w", owner, err)
	}
	slices.SortFunc(out, func(a, b actors.InboxEntry) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// RenewInbox moves to until the live leases (not run out at now) of owner.
func (s *Store) RenewInbox(ctx context.Context, owner string, now, until time.Time) (int, error) {
	res, err := s.st.renewInbox.ExecContext(ctx, millis(until), owner, millis(now))
	if err != nil {
		return 0, fmt.Errorf("renew inbox leases of %s: %w", owner, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("renew inbox leases of %s: %w", owner, mapErr(err))
	}
	return int(n), nil
}

// scanInbox reads rows of (id, body, received_at, attempts, owner,
// lease_until) and opens the bodies; it closes rows.
func (s *Store) scanInbox(rows *sql.Rows, capacity int) ([]actors.InboxEntry, error) {
	defer rows.Close()
	out := make([]actors.InboxEntry, 0, capacity)
	for rows.Next() {
		var e actors.InboxEntry
		var at, lease int64
		if err := rows.Scan(&e.ID, &e.Body, &at, &e.Attempts, &e.Owner, &lease); err != nil {
			return nil, mapErr(err)
		}
		// A body that does not open stops the batch: handing it on would
		// set an accepted webhook aside as unreadable.
		var err error
		if e.Body, err = s.keys.Open(sealed.AAD("inbox", "body", e.ID), e.Body); err != nil {
			return nil, fmt.Errorf("open body of entry %s: %w", e.ID, err)
		}
		if e.Body == nil {
			e.Body = []byte{}
		}
		e.ReceivedAt = fromMillis(at)
		if lease != 0 {
			e.LeaseUntil = fromMillis(lease)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

// leaseMillis is e's LeaseUntil as stored: 0 when unclaimed.
func leaseMillis(e actors.InboxEntry) int64 {
	if e.LeaseUntil.IsZero() {
		return 0
	}
	return millis(e.LeaseUntil)
}

// MarkInboxDone deletes the entries in one statement; unknown ids are
// ignored.
func (s *Store) MarkInboxDone(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("mark %d inbox entries done: %w", len(ids), err)
	}
	if _, err := s.st.deleteInbox.ExecContext(ctx, string(b)); err != nil {
		return fmt.Errorf("mark %d inbox entries done: %w", len(ids), mapErr(err))
	}
	return nil
}

// RecordInboxAttempt increments an entry's Attempts; ErrNotFound when the
// entry is absent (never appended, or done).
func (s *Store) RecordInboxAttempt(ctx context.Context, id string) error {
	res, err := s.st.recordInboxAttempt.ExecContext(ctx, id)
	if err != nil {
		return fmt.Errorf("record attempt of inbox entry %s: %w", id, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("record attempt of inbox entry %s: %w", id, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("record attempt of inbox entry %s: %w", id, actors.ErrNotFound)
	}
	return nil
}

// legacyMoveBatch bounds the rows moveLegacyInbox holds in memory at once.
const legacyMoveBatch = 256

// moveLegacyInbox moves the rows an older version left in the main
// database's inbox table (migration 0002) into the inbox database, in
// batches: each batch is committed to the inbox database first and only then
// deleted from the main one, so a crash in between leaves the rows in both
// and the next Open finishes the move (an id already in the inbox database
// is kept as it is). It returns how many rows it moved.
func moveLegacyInbox(ctx context.Context, w, iw *sql.DB) (int, error) {
	moved := 0
	for {
		batch, err := legacyInboxBatch(ctx, w)
		if err != nil {
			return moved, fmt.Errorf("move legacy inbox: %w", err)
		}
		if len(batch) == 0 {
			return moved, nil
		}
		ids := make([]string, len(batch))
		err = inTxOn(ctx, iw, func(tx *sql.Tx) error {
			for i, e := range batch {
				ids[i] = e.ID
				if _, err := tx.ExecContext(ctx, qInsertInbox, e.ID, e.Body, millis(e.ReceivedAt), e.Attempts, "", 0); err != nil {
					return fmt.Errorf("entry %s: %w", e.ID, mapErr(err))
				}
			}
			return nil
		})
		if err != nil {
			return moved, fmt.Errorf("move legacy inbox: copy: %w", err)
		}
		b, err := json.Marshal(ids)
		if err != nil {
			return moved, fmt.Errorf("move legacy inbox: %w", err)
		}
		if _, err := w.ExecContext(ctx, qDeleteInbox, string(b)); err != nil {
			return moved, fmt.Errorf("move legacy inbox: delete: %w", mapErr(err))
		}
		moved += len(batch)
	}
}

// legacyInboxBatch reads the oldest rows of the main database's inbox table.
func legacyInboxBatch(ctx context.Context, w *sql.DB) ([]actors.InboxEntry, error) {
	rows, err := w.QueryContext(ctx, qPendingInbox, legacyMoveBatch)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []actors.InboxEntry
	for rows.Next() {
		var e actors.InboxEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.Body, &at, &e.Attempts); err != nil {
			return nil, mapErr(err)
		}
		if e.Body == nil {
			e.Body = []byte{}
		}
		e.ReceivedAt = fromMillis(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}
