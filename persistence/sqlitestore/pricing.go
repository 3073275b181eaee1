package sqlitestore

import (
	"context"
	"fmt"

	"github.com/wacc/engine/actors"
)

// SQL the pricing methods run.
const (
	qSetMessagePricing = `UPDATE messages SET pricing_billable = ?, pricing_model = ?, pricing_category = ?, pricing_type = ?,
		pricing_phone_number_id = ? WHERE id = ?`
	// qCountPricing walks messages_priced over the time range; the
	// arguments are from, to (milliseconds, to exclusive) and the business
	// number ("" for all).
	qCountPricing = `SELECT coalesce(pricing_category, ''), pricing_billable, count(*) FROM messages INDEXED BY messages_priced
		WHERE pricing_billable IS NOT NULL AND created_at >= ? AND created_at < ?
		  AND (? = '' OR pricing_phone_number_id = ?)
		GROUP BY 1, 2 ORDER BY 1, 2`
)

// maxMillis is the open upper bound of a time range.
const maxMillis = int64(1<<63 - 1)

// SetMessagePricing records what Meta charges for the message.
func (s *Store) SetMessagePricing(ctx context.Context, id, phoneNumberID string, p actors.Pricing) error {
	n, err := s.exec(ctx, nil, qSetMessagePricing, p.Billable, p.Model, p.Category, p.Type, phoneNumberID, id)
	if err != nil {
		return fmt.Errorf("set pricing of message %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("set pricing of message %s: %w", id, actors.ErrNotFound)
	}
	return nil
}

// CountPricing counts the priced messages of f by category and billable.
func (s *Store) CountPricing(ctx context.Context, f actors.PricingFilter) ([]actors.PricingCount, error) {
	from, to := int64(0), maxMillis
	if !f.From.IsZero() {
		from = millis(f.From)
	}
	if !f.To.IsZero() {
		to = millis(f.To)
	}
	rows, err := s.r.QueryContext(ctx, qCountPricing, from, to, f.PhoneNumberID, f.PhoneNumberID)
	if err != nil {
		return nil, fmt.Errorf("count pricing: %w", mapErr(err))
	}
	defer rows.Close()
	out := []actors.PricingCount{}
	for rows.Next() {
		var c actors.PricingCount
		if err := rows.Scan(&c.Category, &c.Billable, &c.Count); err != nil {
			return nil, fmt.Errorf("count pricing: %w", mapErr(err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count pricing: %w", mapErr(err))
	}
	return out, nil
}
