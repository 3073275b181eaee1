package actors

import (
	"context"
	"time"
)

// Pricing models Meta names in a status's pricing object.
const (
	// PricingPerMessage is per-message pricing ("PMP"), in force for every
	// business since 2025-07-01.
	PricingPerMessage = "PMP"
	// PricingConversation is the older conversation-based pricing ("CBP").
	PricingConversation = "CBP"
)

// Pricing is what Meta charges (or not) for one outbound message, from the
// pricing object of its status webhooks: billable, pricing_model, category
// (marketing, utility, authentication, service, ...) and, under PMP, type
// (regular, free_customer_service, free_entry_point). Bodies of the older
// conversation-based pricing carry no type.
type Pricing struct {
	Billable bool   `json:"billable"`
	Model    string `json:"pricingModel,omitempty"`
	Category string `json:"category,omitempty"`
	Type     string `json:"type,omitempty"`
}

// PricingFilter selects the priced outbound messages created in
// [From, To) (a zero bound is open), of one business number when
// PhoneNumberID is set.
type PricingFilter struct {
	From, To      time.Time
	PhoneNumberID string
}

// PricingCount is how many priced outbound messages had one category and
// billability.
type PricingCount struct {
	Category string `json:"category"`
	Billable bool   `json:"billable"`
	Count    int    `json:"count"`
}

// PricingStore keeps the pricing of outbound messages.
type PricingStore interface {
	// SetMessagePricing records the pricing of the message with that id,
	// sent from phoneNumberID, replacing what was recorded. ErrNotFound
	// when absent.
	SetMessagePricing(ctx context.Context, id, phoneNumberID string, p Pricing) error
	// CountPricing counts the priced messages f selects by category and
	// billable, ordered by category then billable (false first).
	CountPricing(ctx context.Context, f PricingFilter) ([]PricingCount, error)
}
