package mongostore

import (
	"context"
	"fmt"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

// pricingDoc is a message's pricing, with the business number that sent it
// so the count of one number reads messages alone.
type pricingDoc struct {
	Billable      bool   `bson:"billable"`
	Model         string `bson:"model"`
	Category      string `bson:"category"`
	Type          string `bson:"type"`
	PhoneNumberID string `bson:"phoneNumberId"`
}

// SetMessagePricing records what Meta charges for the message.
func (s *Store) SetMessagePricing(ctx context.Context, id, phoneNumberID string, p actors.Pricing) error {
	op := "set pricing of message " + id
	doc := pricingDoc{Billable: p.Billable, Model: p.Model, Category: p.Category, Type: p.Type, PhoneNumberID: phoneNumberID}
	res, err := s.messages.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "pricing", Value: doc}}}})
	if err != nil {
		return classify(op, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	return nil
}

// CountPricing counts the priced messages of f by category and billable.
// The documents are counted here rather than by an aggregation, which
// FerretDB serves unevenly; only the two fields counted are read.
func (s *Store) CountPricing(ctx context.Context, f actors.PricingFilter) ([]actors.PricingCount, error) {
	op := "count pricing"
	filter := bson.D{{Key: "pricing", Value: bson.D{{Key: "$exists", Value: true}}}}
	if f.PhoneNumberID != "" {
		filter = append(filter, bson.E{Key: "pricing.phoneNumberId", Value: f.PhoneNumberID})
	}
	created := bson.D{}
	if !f.From.IsZero() {
		created = append(created, bson.E{Key: "$gte", Value: f.From})
	}
	if !f.To.IsZero() {
		created = append(created, bson.E{Key: "$lt", Value: f.To})
	}
	if len(created) > 0 {
		filter = append(filter, bson.E{Key: "createdAt", Value: created})
	}
	cur, err := s.messages.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "pricing.category", Value: 1}, {Key: "pricing.billable", Value: 1}}))
	if err != nil {
		return nil, classify(op, err)
	}
	defer cur.Close(ctx)
	type key struct {
		category string
		billable bool
	}
	counts := map[key]int{}
	for cur.Next(ctx) {
		var d struct {
			Pricing pricingDoc `bson:"pricing"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("%s: decode: %w", op, err)
		}
		counts[key{d.Pricing.Category, d.Pricing.Billable}]++
	}
	if err := cur.Err(); err != nil {
		return nil, classify(op, err)
	}
	out := make([]actors.PricingCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, actors.PricingCount{Category: k.category, Billable: k.billable, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return out[i].Category < out[j].Category
		}
		return !out[i].Billable && out[j].Billable
	})
	return out, nil
}
