package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/persistence/sealed"
)

// ReencryptKinds are the kinds Reencrypt takes (media bytes: Blobs).
func (s *Store) ReencryptKinds() []string { return []string{"customers", "messages"} }

// Reencrypt reseals, under the current key, the sealed fields of up to
// limit documents of kind ("customers" or "messages") whose _id sorts
// after after: documents written before encryption was on and documents
// sealed under an older key. Each document is one conditional update (a
// customer on its version, a message on the values read), so it is safe
// while the engine runs: a document changed meanwhile is left and counted
// in Raced. Idempotent; start again from "" at any time.
func (s *Store) Reencrypt(ctx context.Context, kind, after string, limit int) (sealed.Batch, error) {
	if !s.keys.On() {
		return sealed.Batch{}, fmt.Errorf("reencrypt %s: %w", kind, sealed.ErrNoKeys)
	}
	switch kind {
	case "customers":
		return s.reencryptCustomers(ctx, after, limit)
	case "messages":
		return s.reencryptMessages(ctx, after, limit)
	default:
		return sealed.Batch{}, fmt.Errorf("reencrypt: unknown kind %q", kind)
	}
}

// batchAfter is the find of one keyset batch by _id.
func batchAfter(after string, limit int) (bson.D, *options.FindOptionsBuilder) {
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit))
}

func (s *Store) reencryptCustomers(ctx context.Context, after string, limit int) (sealed.Batch, error) {
	op := fmt.Sprintf("reencrypt customers after %q", after)
	filter, opts := batchAfter(after, limit)
	docs, err := findAll[customerDoc](ctx, s.customers, filter, opts)
	if err != nil {
		return sealed.Batch{}, classify(op, err)
	}
	k := s.keys
	var b sealed.Batch
	for _, d := range docs {
		b.Scanned++
		b.Next = d.ID
		c, err := s.openCustomerDoc(d)
		if err != nil {
			return b, fmt.Errorf("%s: %w", op, err)
		}
		plainAttrs := len(d.Attributes) > 0 // written before encryption
		if !plainAttrs && !k.StaleString(d.Name) && !k.StaleString(d.Email) && !k.StaleString(d.SealedAttributes) &&
			d.EmailHash == k.Hash(emailHashDomain, normalizeEmail(c.Email)) {
			continue
		}
		sd, err := s.sealCustomerDoc(toCustomerDoc(c))
		if err != nil {
			return b, fmt.Errorf("%s: %w", op, err)
		}
		res, err := s.customers.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: d.ID}, {Key: "version", Value: d.Version}},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: "name", Value: sd.Name}, {Key: "email", Value: sd.Email},
				{Key: "attributes", Value: sd.Attributes}, {Key: "sealedAttributes", Value: sd.SealedAttributes},
				{Key: "emailHash", Value: sd.EmailHash},
			}}})
		if err != nil {
			return b, classify("reencrypt customer "+d.ID, err)
		}
		if res.MatchedCount == 0 {
			b.Raced++
			continue
		}
		b.Resealed++
	}
	if len(docs) < limit {
		b.Next = ""
	}
	return b, nil
}

func (s *Store) reencryptMessages(ctx context.Context, after string, limit int) (sealed.Batch, error) {
	op := fmt.Sprintf("reencrypt messages after %q", after)
	filter, opts := batchAfter(after, limit)
	opts.SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "text", Value: 1}, {Key: "content", Value: 1}, {Key: "raw", Value: 1}})
	docs, err := findAll[messageDoc](ctx, s.messages, filter, opts)
	if err != nil {
		return sealed.Batch{}, classify(op, err)
	}
	k := s.keys
	var b sealed.Batch
	for _, d := range docs {
		b.Scanned++
		b.Next = d.ID
		if !k.StaleString(d.Text) && !k.Stale(d.Content) && !k.Stale(d.Raw) {
			continue
		}
		m, err := s.openMessageDoc(d)
		if err != nil {
			return b, fmt.Errorf("%s: %w", op, err)
		}
		fresh := s.sealMessageDoc(messageDoc{ID: d.ID, Text: m.Text, Content: m.Content, Raw: m.Raw})
		cond := bson.D{{Key: "_id", Value: d.ID}, {Key: "text", Value: d.Text}}
		set := bson.D{{Key: "text", Value: fresh.Text}}
		for _, f := range []struct {
			name     string
			old, new []byte
		}{{"content", d.Content, fresh.Content}, {"raw", d.Raw, fresh.Raw}} {
			if len(f.old) == 0 {
				continue
			}
			cond = append(cond, bson.E{Key: f.name, Value: bson.Binary{Data: f.old}})
			set = append(set, bson.E{Key: f.name, Value: f.new})
		}
		res, err := s.messages.UpdateOne(ctx, cond, bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return b, classify("reencrypt message "+d.ID, err)
		}
		if res.MatchedCount == 0 {
			b.Raced++
			continue
		}
		b.Resealed++
	}
	if len(docs) < limit {
		b.Next = ""
	}
	return b, nil
}
