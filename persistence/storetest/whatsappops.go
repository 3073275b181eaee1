package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// WhatsAppOpsTestStore is what RunWhatsAppOps exercises.
type WhatsAppOpsTestStore interface {
	actors.MessageStore
	actors.OutboundStore
	actors.PricingStore
	actors.WebhookErrorStore
}

// RunWhatsAppOps is the contract suite of actors.PricingStore and
// actors.WebhookErrorStore: what Meta charges per outbound message, and the
// value-level webhook errors kept for operators.
func RunWhatsAppOps(t *testing.T, open func(t *testing.T) WhatsAppOpsTestStore) {
	base := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
	msg := func(id string, at time.Time) actors.Message {
		return actors.Message{ID: id, ConversationID: "c1", Direction: actors.DirectionOutbound, Type: "text", Text: id,
			Content: []byte(`{"body":"x"}`), Status: actors.StatusSent, WaMessageID: "wamid." + id, CreatedAt: at, UpdatedAt: at}
	}
	marketing := actors.Pricing{Billable: true, Model: actors.PricingPerMessage, Category: "marketing", Type: "regular"}
	service := actors.Pricing{Billable: false, Model: actors.PricingPerMessage, Category: "service", Type: "free_customer_service"}
	utility := actors.Pricing{Billable: true, Model: actors.PricingPerMessage, Category: "utility", Type: "regular"}
	cbp := actors.Pricing{Billable: true, Model: actors.PricingConversation, Category: "service"}
	cases := []struct {
		name  string
		check func(t *testing.T, ctx context.Context, s WhatsAppOpsTestStore)
	}{
		{name: "pricing is read back with the message", check: func(t *testing.T, ctx context.Context, s WhatsAppOpsTestStore) {
			require.NoError(t, s.AppendMessage(ctx, msg("m1", base)))
			got, err := s.Message(ctx, "m1")
			require.NoError(t, err)
			assert.Nil(t, got.Pricing, "no pricing before a status carried it")
			require.NoError(t, s.SetMessagePricing(ctx, "m1", "pn1", marketing))
			for _, read := range []func() (actors.Message, error){
				func() (actors.Message, error) { return s.Message(ctx, "m1") },
				func() (actors.Message, error) { return s.MessageByWaID(ctx, "wamid.m1") },
				func() (actors.Message, error) {
					ms, _, err := s.ListMessages(ctx, "c1", "", 10)
					if err != nil || len(ms) != 1 {
						return actors.Message{}, fmt.Errorf("list: %v, %d messages", err, len(ms))
					}
					return ms[0], nil
				},
			} {
				got, err := read()
				require.NoError(t, err)
				require.NotNil(t, got.Pricing)
				assert.Equal(t, marketing, *got.Pricing)
			}
			// Replaced by a later status's pricing; an old CBP body keeps no type.
			require.NoError(t, s.SetMessagePricing(ctx, "m1", "pn1", cbp))
			got, err = s.Message(ctx, "m1")
			require.NoError(t, err)
			assert.Equal(t, cbp, *got.Pricing)
		}},
		{name: "pricing of an unknown message", check: func(t *testing.T, ctx context.Context, s WhatsAppOpsTestStore) {
			require.ErrorIs(t, s.SetMessagePricing(ctx, "nope", "pn1", marketing), actors.ErrNotFound)
		}},
		{name: "count by category and billable", check: func(t *testing.T, ctx context.Context, s WhatsAppOpsTestStore) {
			seed := []struct {
				id     string
				at     time.Duration
				number string
				p      *actors.Pricing
			}{
				{"a", 0, "pn1", &marketing},
				{"b", time.Minute, "pn1", &marketing},
				{"c", 2 * time.Minute, "pn1", &service},
				{"d", 3 * time.Minute, "pn2", &utility},
				{"e", 4 * time.Minute, "pn2", &marketing},
				{"f", 5 * time.Minute, "pn1", nil}, // never priced
				{"g", time.Hour, "pn1", &service},  // outside the range below
			}
			for _, m := range seed {
				require.NoError(t, s.AppendMessage(ctx, msg(m.id, base.Add(m.at))))
				if m.p != nil {
					require.NoError(t, s.SetMessagePricing(ctx, m.id, m.number, *m.p))
				}
			}
			all, err := s.CountPricing(ctx, actors.PricingFilter{})
			require.NoError(t, err)
			assert.Equal(t, []actors.PricingCount{
				{Category: "marketing", Billable: true, Count: 3},
				{Category: "service", Billable: false, Count: 2},
				{Category: "utility", Billable: true, Count: 1},
			}, all)
			ranged, err := s.CountPricing(ctx, actors.PricingFilter{From: base, To: base.Add(30 * time.Minute), PhoneNumberID: "pn1"})
			require.NoError(t, err)
			assert.Equal(t, []actors.PricingCount{
				{Category: "marketing", Billable: true, Count: 2},
				{Category: "service", Billable: false, Count: 1},
			}, ranged)
			from, err := s.CountPricing(ctx, actors.PricingFilter{From: base.Add(3 * time.Minute)})
			require.NoError(t, err)
			assert.Equal(t, []actors.PricingCount{
				{Category: "marketing", Billable: true, Count: 1},
				{Category: "service", Billable: false, Count: 1},
				{Category: "utility", Billable: true, Count: 1},
			}, from, "From is inclusive")
			none, err := s.CountPricing(ctx, actors.PricingFilter{PhoneNumberID: "pn9"})
			require.NoError(t, err)
			assert.Empty(t, none)
			assert.NotNil(t, none, "an empty count is an empty list")
		}},
		{name: "webhook errors newest first, once each", check: func(t *testing.T, ctx context.Context, s WhatsAppOpsTestStore) {
			rec := func(id, number string, code int, at time.Duration) actors.WebhookErrorRecord {
				return actors.WebhookErrorRecord{ID: id, PhoneNumberID: number, ReceivedAt: base.Add(at),
					Error: actors.WhatsAppError{Code: code, Title: "title " + id, Message: "message " + id, Details: "details " + id, Href: "https://example.com/" + id}}
			}
			first := []actors.WebhookErrorRecord{rec("e1", "pn1", 131000, 0), rec("e2", "pn2", 131052, time.Minute)}
			require.NoError(t, s.AddWebhookErrors(ctx, first))
			// A retried body: e2 again beside a new one. Nothing twice.
			require.NoError(t, s.AddWebhookErrors(ctx, []actors.WebhookErrorRecord{rec("e2", "pn2", 131052, time.Minute), rec("e3", "pn1", 368, 2*time.Minute)}))
			require.NoError(t, s.AddWebhookErrors(ctx, nil))
			all, err := s.ListWebhookErrors(ctx, "", 10)
			require.NoError(t, err)
			require.Len(t, all, 3)
			assert.Equal(t, []string{"e3", "e2", "e1"}, []string{all[0].ID, all[1].ID, all[2].ID})
			assert.Equal(t, rec("e2", "pn2", 131052, time.Minute), all[1], "every field read back")
			one, err := s.ListWebhookErrors(ctx, "pn1", 10)
			require.NoError(t, err)
			require.Len(t, one, 2)
			assert.Equal(t, "e3", one[0].ID)
			assert.Equal(t, "e1", one[1].ID)
			limited, err := s.ListWebhookErrors(ctx, "", 1)
			require.NoError(t, err)
			require.Len(t, limited, 1)
			assert.Equal(t, "e3", limited[0].ID)
			empty, err := s.ListWebhookErrors(ctx, "pn9", 10)
			require.NoError(t, err)
			assert.NotNil(t, empty)
			assert.Empty(t, empty)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tc.check(t, ctx, s)
		})
	}
}
