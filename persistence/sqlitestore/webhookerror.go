package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/wacc/engine/actors"
)

// SQL the webhook-error methods run.
const (
	qInsertWebhookError = `INSERT OR IGNORE INTO webhook_errors (id, phone_number_id, error, received_at) VALUES (?, ?, ?, ?)`
	qListWebhookErrors  = `SELECT id, phone_number_id, error, received_at FROM webhook_errors INDEXED BY webhook_errors_received
		ORDER BY received_at DESC, id DESC LIMIT ?`
	qListNumberWebhookErrors = `SELECT id, phone_number_id, error, received_at FROM webhook_errors INDEXED BY webhook_errors_number
		WHERE phone_number_id = ? ORDER BY received_at DESC, id DESC LIMIT ?`
)

// AddWebhookErrors stores the records in one transaction; a stored id is
// skipped.
func (s *Store) AddWebhookErrors(ctx context.Context, rs []actors.WebhookErrorRecord) error {
	if len(rs) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, r := range rs {
			e, err := json.Marshal(r.Error)
			if err != nil {
				return fmt.Errorf("encode webhook error %s: %w", r.ID, err)
			}
			if _, err := tx.ExecContext(ctx, qInsertWebhookError, r.ID, r.PhoneNumberID, string(e), millis(r.ReceivedAt)); err != nil {
				return fmt.Errorf("webhook error %s: %w", r.ID, mapErr(err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add %d webhook errors: %w", len(rs), err)
	}
	return nil
}

// ListWebhookErrors returns up to limit records, newest first.
func (s *Store) ListWebhookErrors(ctx context.Context, phoneNumberID string, limit int) ([]actors.WebhookErrorRecord, error) {
	var rows *sql.Rows
	var err error
	if phoneNumberID == "" {
		rows, err = s.r.QueryContext(ctx, qListWebhookErrors, limit)
	} else {
		rows, err = s.r.QueryContext(ctx, qListNumberWebhookErrors, phoneNumberID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list webhook errors: %w", mapErr(err))
	}
	defer rows.Close()
	out := []actors.WebhookErrorRecord{}
	for rows.Next() {
		var r actors.WebhookErrorRecord
		var e string
		var at int64
		if err := rows.Scan(&r.ID, &r.PhoneNumberID, &e, &at); err != nil {
			return nil, fmt.Errorf("list webhook errors: %w", mapErr(err))
		}
		if err := json.Unmarshal([]byte(e), &r.Error); err != nil {
			return nil, fmt.Errorf("decode webhook error %s: %w", r.ID, err)
		}
		r.ReceivedAt = fromMillis(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list webhook errors: %w", mapErr(err))
	}
	return out, nil
}
