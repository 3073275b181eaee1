package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/wacc/engine/actors"
)

const auditCols = `id, actor_id, action, resource, outcome, ip, user_agent, request_id, detail, at`

// SQL the audit methods run. Every list shape bounds at to [from, to) (open
// ends become the extreme int64s), so each walks one index backwards:
// audit_at, audit_actor_at or audit_action_at.
const (
	qInsertAudit = `INSERT OR IGNORE INTO audit (` + auditCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

	auditOrder = ` ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`

	qListAudit  = `SELECT ` + auditCols + ` FROM audit WHERE at >= ? AND at < ?` + auditOrder
	qCountAudit = `SELECT count(*) FROM audit WHERE at >= ? AND at < ?`

	qListAuditByActor  = `SELECT ` + auditCols + ` FROM audit WHERE actor_id = ? AND at >= ? AND at < ?` + auditOrder
	qCountAuditByActor = `SELECT count(*) FROM audit WHERE actor_id = ? AND at >= ? AND at < ?`

	qListAuditByAction  = `SELECT ` + auditCols + ` FROM audit WHERE action = ? AND at >= ? AND at < ?` + auditOrder
	qCountAuditByAction = `SELECT count(*) FROM audit WHERE action = ? AND at >= ? AND at < ?`

	// Actor and action: the actor's index, action checked per row.
	qListAuditByActorAction = `SELECT ` + auditCols + ` FROM audit INDEXED BY audit_actor_at
		WHERE actor_id = ? AND action = ? AND at >= ? AND at < ?` + auditOrder
	qCountAuditByActorAction = `SELECT count(*) FROM audit INDEXED BY audit_actor_at
		WHERE actor_id = ? AND action = ? AND at >= ? AND at < ?`
)

// AppendAudit stores recs in one transaction; records whose ID is already
// stored are skipped.
func (s *Store) AppendAudit(ctx context.Context, recs []actors.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, qInsertAudit)
		if err != nil {
			return mapErr(err)
		}
		defer stmt.Close()
		for _, r := range recs {
			if _, err := stmt.ExecContext(ctx, r.ID, r.ActorID, r.Action, r.Resource, r.Outcome,
				r.IP, r.UserAgent, r.RequestID, r.Detail, millis(r.At)); err != nil {
				return fmt.Errorf("record %s: %w", r.ID, mapErr(err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d audit records: %w", len(recs), err)
	}
	return nil
}

// ListAudit returns one page, newest first, and the total matching f. The
// page and the total come from one snapshot.
func (s *Store) ListAudit(ctx context.Context, f actors.AuditFilter) ([]actors.AuditRecord, int, error) {
	limit, offset := pageWindow(f.Page, f.Limit)
	list, count, args := auditQueries(f)

	var out []actors.AuditRecord
	var total int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, count, args...).Scan(&total); err != nil {
			return mapErr(err)
		}
		out = make([]actors.AuditRecord, 0, min(limit, max(total-offset, 0)))
		if offset >= total {
			return nil
		}
		rows, err := tx.QueryContext(ctx, list, append(args, limit, offset)...)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			var r actors.AuditRecord
			var at int64
			if err := rows.Scan(&r.ID, &r.ActorID, &r.Action, &r.Resource, &r.Outcome,
				&r.IP, &r.UserAgent, &r.RequestID, &r.Detail, &at); err != nil {
				return mapErr(err)
			}
			r.At = fromMillis(at)
			out = append(out, r)
		}
		return mapErr(rows.Err())
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list audit (page %d, limit %d): %w", f.Page, f.Limit, err)
	}
	return out, total, nil
}

// auditQueries picks the list and count SQL for the shape of f and the
// arguments both take before LIMIT and OFFSET.
func auditQueries(f actors.AuditFilter) (list, count string, args []any) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !f.From.IsZero() {
		from = millis(f.From)
	}
	if !f.To.IsZero() {
		to = millis(f.To)
	}
	switch {
	case f.ActorID != "" && f.Action != "":
		return qListAuditByActorAction, qCountAuditByActorAction, []any{f.ActorID, f.Action, from, to}
	case f.ActorID != "":
		return qListAuditByActor, qCountAuditByActor, []any{f.ActorID, from, to}
	case f.Action != "":
		return qListAuditByAction, qCountAuditByAction, []any{f.Action, from, to}
	default:
		return qListAudit, qCountAudit, []any{from, to}
	}
}
