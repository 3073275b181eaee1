package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

const callEventCols = `id, call_id, call_sid, event_type, status, duration_sec, recording_url, date_updated, body,
	received_at, applied_at`

// SQL of the call callbacks. A callback is written by its primary key
// (derived from its content, so a repeat is one INSERT that changes
// nothing); the unapplied ones are read oldest first from the partial
// index call_events_unapplied, which holds only them.
const (
	qInsertCallEvent = `INSERT INTO call_events (` + callEventCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`
	// The first mark wins: a repeat keeps the first AppliedAt.
	qMarkCallEventApplied = `UPDATE call_events SET applied_at = ? WHERE id = ? AND applied_at IS NULL`
	qCallEventExists      = `SELECT 1 FROM call_events WHERE id = ?`
	qUnappliedCallEvents  = `SELECT ` + callEventCols + ` FROM call_events INDEXED BY call_events_unapplied
		WHERE applied_at IS NULL ORDER BY received_at, id LIMIT ?`
)

func scanCallEvent(row interface{ Scan(...any) error }) (actors.CallEvent, error) {
	var e actors.CallEvent
	var dateUpdated, applied sql.NullInt64
	var received int64
	if err := row.Scan(&e.ID, &e.CallID, &e.CallSid, &e.EventType, &e.Status, &e.DurationSec, &e.RecordingURL,
		&dateUpdated, &e.Body, &received, &applied); err != nil {
		return actors.CallEvent{}, mapErr(err)
	}
	e.DateUpdated, e.ReceivedAt, e.AppliedAt = fromNullMillis(dateUpdated), fromMillis(received), fromNullMillis(applied)
	return e, nil
}

// AddCallEvent stores e unless a callback with its ID is stored (then it
// changes nothing and inserted is false), in one INSERT ... ON CONFLICT DO
// NOTHING.
func (s *Store) AddCallEvent(ctx context.Context, e actors.CallEvent) (bool, error) {
	body := e.Body
	if body == nil {
		body = []byte{}
	}
	n, err := s.exec(ctx, s.st.insertCallEvent, "", e.ID, e.CallID, e.CallSid, e.EventType, e.Status, e.DurationSec,
		e.RecordingURL, nullMillis(e.DateUpdated), body, millis(e.ReceivedAt), nullMillis(e.AppliedAt))
	if err != nil {
		return false, fmt.Errorf("add call event %s: %w", e.ID, err)
	}
	return n > 0, nil
}

// MarkCallEventApplied sets the callback's AppliedAt to at unless it is set
// already (the first mark wins); actors.ErrNotFound when there is no such
// callback.
func (s *Store) MarkCallEventApplied(ctx context.Context, id string, at time.Time) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qMarkCallEventApplied, millis(at), id)
		_, err = updated(ctx, tx, res, err, qCallEventExists, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark call event %s applied: %w", id, err)
	}
	return nil
}

// UnappliedCallEvents returns up to limit callbacks not applied yet, oldest
// ReceivedAt first (then by id); a limit below 1 gives none.
func (s *Store) UnappliedCallEvents(ctx context.Context, limit int) ([]actors.CallEvent, error) {
	if limit < 1 {
		return []actors.CallEvent{}, nil
	}
	rows, err := s.r.QueryContext(ctx, qUnappliedCallEvents, limit)
	if err != nil {
		return nil, fmt.Errorf("unapplied call events: %w", mapErr(err))
	}
	defer rows.Close()
	out := []actors.CallEvent{}
	for rows.Next() {
		e, err := scanCallEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("unapplied call events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unapplied call events: %w", mapErr(err))
	}
	return out, nil
}
