package actors

import (
	"context"
	"time"
)

// WebhookErrorRecord is a value-level errors[] entry of a webhook (a
// change whose value reports an error of the business account rather than
// of one message), kept for operators.
type WebhookErrorRecord struct {
	// ID is derived from the inbox entry and the error's place in it, so
	// applying the same body twice stores it once.
	ID            string        `json:"id"`
	PhoneNumberID string        `json:"phoneNumberId"`
	Error         WhatsAppError `json:"error"`
	ReceivedAt    time.Time     `json:"receivedAt"`
}

// WebhookErrorStore keeps value-level webhook errors.
type WebhookErrorStore interface {
	// AddWebhookErrors stores the records; a record whose ID is stored
	// already is skipped.
	AddWebhookErrors(ctx context.Context, rs []WebhookErrorRecord) error
	// ListWebhookErrors returns up to limit records, newest first (by
	// ReceivedAt, then ID), of one business number when phoneNumberID is
	// set.
	ListWebhookErrors(ctx context.Context, phoneNumberID string, limit int) ([]WebhookErrorRecord, error)
}
