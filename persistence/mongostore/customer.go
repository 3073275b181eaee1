package mongostore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

// customerDoc is a document of the customers collection. Tags keep their
// order. Attributes are stored as an array of key/value pairs sorted by key,
// not as a sub-document: attribute keys are client input and may contain
// '.' or start with '$', which FerretDB (and older MongoDB) reject as field
// names.
type customerDoc struct {
	ID         string         `bson:"_id"`
	Name       string         `bson:"name"`
	Phone      string         `bson:"phone"`
	WaID       string         `bson:"waId"`
	Email      string         `bson:"email"`
	Tags       []string       `bson:"tags"`
	Attributes []attributeDoc `bson:"attributes"`
	Version    int64          `bson:"version"`
	CreatedAt  time.Time      `bson:"createdAt"`
	UpdatedAt  time.Time      `bson:"updatedAt"`
	// SealedAttributes holds the attributes, as sealed JSON, when
	// encryption is on (Attributes is then empty); EmailHash is the keyed
	// lookup hash of the e-mail. See sealing.go.
	SealedAttributes string `bson:"sealedAttributes,omitempty"`
	EmailHash        string `bson:"emailHash,omitempty"`
}

// attributeDoc is one customer attribute.
type attributeDoc struct {
	Key   string `bson:"k"`
	Value string `bson:"v"`
}

var customerProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "name", Value: 1}, {Key: "phone", Value: 1}, {Key: "waId", Value: 1},
	{Key: "email", Value: 1}, {Key: "tags", Value: 1}, {Key: "attributes", Value: 1},
	{Key: "version", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "updatedAt", Value: 1},
	{Key: "sealedAttributes", Value: 1},
}

// customerSort is the listing order: newest first, then id descending.
var customerSort = bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}

func toCustomerDoc(c actors.Customer) customerDoc {
	return customerDoc{
		ID:         c.ID,
		Name:       c.Name,
		Phone:      c.Phone,
		WaID:       c.WaID,
		Email:      c.Email,
		Tags:       tagsDoc(c.Tags),
		Attributes: attributesDoc(c.Attributes),
		Version:    c.Version,
		CreatedAt:  c.CreatedAt,
		UpdatedAt:  c.UpdatedAt,
	}
}

// tagsDoc stores nil tags as an empty array, so every document has one.
func tagsDoc(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

func attributesDoc(attrs map[string]string) []attributeDoc {
	out := make([]attributeDoc, 0, len(attrs))
	for k, v := range attrs {
		out = append(out, attributeDoc{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b attributeDoc) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

func (d customerDoc) customer() actors.Customer {
	c := actors.Customer{
		ID:        d.ID,
		Name:      d.Name,
		Phone:     d.Phone,
		WaID:      d.WaID,
		Email:     d.Email,
		Tags:      d.Tags,
		Version:   d.Version,
		CreatedAt: utc(d.CreatedAt),
		UpdatedAt: utc(d.UpdatedAt),
	}
	if len(d.Attributes) > 0 {
		c.Attributes = make(map[string]string, len(d.Attributes))
		for _, a := range d.Attributes {
			c.Attributes[a.Key] = a.Value
		}
	}
	return c
}

// CreateCustomer inserts c; actors.ErrDuplicate when the id or phone is
// taken.
func (s *Store) CreateCustomer(ctx context.Context, c actors.Customer) error {
	d, err := s.sealCustomerDoc(toCustomerDoc(c))
	if err != nil {
		return fmt.Errorf("create customer %s: %w", c.ID, err)
	}
	if _, err := s.customers.InsertOne(ctx, d); err != nil {
		return classify("create customer "+c.ID, err)
	}
	return nil
}

// Customer returns the customer or actors.ErrNotFound.
func (s *Store) Customer(ctx context.Context, id string) (actors.Customer, error) {
	return s.findCustomer(ctx, "customer "+id, bson.D{{Key: "_id", Value: id}})
}

// CustomerByPhone looks up by E.164 phone; actors.ErrNotFound when absent.
// The phone is not repeated in errors.
func (s *Store) CustomerByPhone(ctx context.Context, phone string) (actors.Customer, error) {
	return s.findCustomer(ctx, "customer by phone", bson.D{{Key: "phone", Value: phone}})
}

func (s *Store) findCustomer(ctx context.Context, op string, filter bson.D) (actors.Customer, error) {
	d, err := findOne[customerDoc](ctx, s.customers, filter, options.Find().SetProjection(customerProjection))
	if err != nil {
		return actors.Customer{}, classify(op, err)
	}
	c, err := s.openCustomerDoc(d)
	if err != nil {
		return actors.Customer{}, fmt.Errorf("%s: %w", op, err)
	}
	return c, nil
}

// UpdateCustomer replaces name, phone, waId, email, tags, attributes and
// UpdatedAt of the customer with c.ID only if its stored Version equals
// c.Version, bumps the stored Version and returns the stored record.
// actors.ErrNotFound when absent, actors.ErrConflict on a version mismatch
// or a concurrent update presenting the same version, actors.ErrDuplicate
// when the new phone belongs to someone else. The write is one update
// filtered on {_id, version}, taken under the customer's write claim for
// that version (see claim.go).
func (s *Store) UpdateCustomer(ctx context.Context, c actors.Customer) (actors.Customer, error) {
	op := "update customer " + c.ID
	release, err := s.claim(ctx, customerClaimKey(c.ID, c.Version))
	if errors.Is(err, errClaimed) {
		return actors.Customer{}, fmt.Errorf("%s: concurrent update of version %d: %w", op, c.Version, actors.ErrConflict)
	}
	if err != nil {
		return actors.Customer{}, classify(op, err)
	}
	defer release()

	sd, err := s.sealCustomerDoc(toCustomerDoc(c))
	if err != nil {
		return actors.Customer{}, fmt.Errorf("%s: %w", op, err)
	}
	filter := bson.D{{Key: "_id", Value: c.ID}, {Key: "version", Value: c.Version}}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "name", Value: sd.Name},
			{Key: "phone", Value: c.Phone},
			{Key: "waId", Value: c.WaID},
			{Key: "email", Value: sd.Email},
			{Key: "tags", Value: tagsDoc(c.Tags)},
			{Key: "attributes", Value: sd.Attributes},
			{Key: "sealedAttributes", Value: sd.SealedAttributes},
			{Key: "emailHash", Value: sd.EmailHash},
			{Key: "updatedAt", Value: c.UpdatedAt},
		}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
	}
	var d customerDoc
	err = s.customers.FindOneAndUpdate(ctx, filter, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	switch {
	case err == nil:
		stored, err := s.openCustomerDoc(d)
		if err != nil {
			return actors.Customer{}, fmt.Errorf("%s: %w", op, err)
		}
		return stored, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		n, cerr := s.customers.CountDocuments(ctx, bson.D{{Key: "_id", Value: c.ID}}, options.Count().SetLimit(1))
		if cerr != nil {
			return actors.Customer{}, classify(op, cerr)
		}
		if n == 0 {
			return actors.Customer{}, fmt.Errorf("%s: %w", op, actors.ErrNotFound)
		}
		return actors.Customer{}, fmt.Errorf("%s: version %d is stale: %w", op, c.Version, actors.ErrConflict)
	case mongo.IsDuplicateKeyError(err):
		return actors.Customer{}, fmt.Errorf("%s: phone taken: %w", op, actors.ErrDuplicate)
	}
	// FerretDB v1 reports a unique-index violation on update as an internal
	// error rather than E11000: ask whether the phone is someone else's.
	if taken, terr := s.phoneTaken(ctx, c.Phone, c.ID); terr == nil && taken {
		return actors.Customer{}, fmt.Errorf("%s: phone taken: %w", op, actors.ErrDuplicate)
	}
	return actors.Customer{}, classify(op, err)
}

// phoneTaken reports whether a customer other than id has phone.
func (s *Store) phoneTaken(ctx context.Context, phone, id string) (bool, error) {
	filter := bson.D{{Key: "phone", Value: phone}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: id}}}}
	n, err := s.customers.CountDocuments(ctx, filter, options.Count().SetLimit(1))
	return n > 0, err
}

// DeleteCustomer removes the customer; actors.ErrNotFound when absent.
func (s *Store) DeleteCustomer(ctx context.Context, id string) error {
	op := "delete customer " + id
	res, err := s.customers.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return classify(op, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	return nil
}

// ListCustomers returns one page, newest first, and the total matching f.
// The page and the total are two reads, not one snapshot.
func (s *Store) ListCustomers(ctx context.Context, f actors.CustomerFilter) ([]actors.Customer, int, error) {
	op := fmt.Sprintf("list customers (page %d, limit %d)", f.Page, f.Limit)
	if s.keys.On() && f.Search != "" {
		return s.searchSealedCustomers(ctx, op, f)
	}
	filter := customerFilter(f)
	docs, total, err := findPage(ctx, op, s.customers, filter, customerProjection, customerSort, f.Page, f.Limit,
		func(d customerDoc) customerDoc { return d })
	if err != nil {
		return nil, 0, err
	}
	out := make([]actors.Customer, 0, len(docs))
	for _, d := range docs {
		c, err := s.openCustomerDoc(d)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, c)
	}
	return out, total, nil
}

// customerFilter builds the query of f from its typed fields only. Search
// is a case-insensitive regular expression made of the quoted search
// string, so it is a literal substring match whatever the string holds.
func customerFilter(f actors.CustomerFilter) bson.D {
	filter := bson.D{}
	if f.Tag != "" {
		filter = append(filter, bson.E{Key: "tags", Value: f.Tag})
	}
	if f.Search != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(f.Search), Options: "i"}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "name", Value: re}},
			bson.D{{Key: "phone", Value: re}},
			bson.D{{Key: "email", Value: re}},
		}})
	}
	return filter
}
