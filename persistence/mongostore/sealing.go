package mongostore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/sealed"
)

// Encryption at rest (persistence/sealed). With a keyring, these fields
// hold sealed values bound (AAD) to their collection, field and document
// id:
//
//	customers: name, email (strings), sealedAttributes (the attributes as
//	           sealed JSON; attributes is then empty), emailHash (keyed
//	           lookup hash of the normalised e-mail)
//	messages:  text (string), content and raw (binary)
//	inbox:     body (binary; not reencrypted: entries live until processed)
//	idempotency_keys: body (not reencrypted: answers expire)
//	media.files/media.chunks: the bytes, as a sealed stream (blobs.go)
//
// Phone numbers, WhatsApp ids, tags and everything else stay plaintext
// (see the README, "Data at rest"). Documents written before encryption
// was turned on are read as they are and sealed by Reencrypt.

// Option configures Open.
type Option func(*Store)

// WithKeyring seals customer names, e-mails and attributes, message
// bodies and (through Blobs) media bytes with k (nil: encryption off).
func WithKeyring(k *sealed.Keyring) Option { return func(s *Store) { s.keys = k } }

// SealedSearchWindow is how many of the newest customers (of the tag, when
// the filter has one) a search decrypts and matches in memory when
// encryption is on; a phone substring (phone stays plaintext) and an exact
// e-mail (emailHash) are found in the whole collection, up to this many
// matches each.
const SealedSearchWindow = 2000

const emailHashDomain = "customer.email"

// normalizeEmail is the form of an e-mail the lookup hash is taken of (the
// same as sqlitestore's, so a hash means the same in both stores).
func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func init() {
	indexes = append(indexes,
		// ListCustomers searching an exact e-mail with encryption on.
		index{coll: customersColl, name: "emailHash", keys: bson.D{{Key: "emailHash", Value: 1}}},
	)
}

// sealCustomerDoc seals the sensitive fields of d (a plaintext document).
func (s *Store) sealCustomerDoc(d customerDoc) (customerDoc, error) {
	if !s.keys.On() {
		return d, nil
	}
	d.EmailHash = s.keys.Hash(emailHashDomain, normalizeEmail(d.Email))
	d.Name = s.keys.SealString(sealed.AAD(customersColl, "name", d.ID), d.Name)
	d.Email = s.keys.SealString(sealed.AAD(customersColl, "email", d.ID), d.Email)
	if len(d.Attributes) > 0 {
		b, err := json.Marshal(d.Attributes)
		if err != nil {
			return customerDoc{}, fmt.Errorf("encode attributes: %w", err)
		}
		d.SealedAttributes = s.keys.SealString(sealed.AAD(customersColl, "attributes", d.ID), string(b))
	}
	d.Attributes = []attributeDoc{}
	return d, nil
}

// openCustomerDoc is d as a customer, its sealed fields opened.
func (s *Store) openCustomerDoc(d customerDoc) (actors.Customer, error) {
	var err error
	if d.Name, err = s.keys.OpenString(sealed.AAD(customersColl, "name", d.ID), d.Name); err != nil {
		return actors.Customer{}, fmt.Errorf("open name of customer %s: %w", d.ID, err)
	}
	if d.Email, err = s.keys.OpenString(sealed.AAD(customersColl, "email", d.ID), d.Email); err != nil {
		return actors.Customer{}, fmt.Errorf("open email of customer %s: %w", d.ID, err)
	}
	if d.SealedAttributes != "" {
		plain, err := s.keys.OpenString(sealed.AAD(customersColl, "attributes", d.ID), d.SealedAttributes)
		if err != nil {
			return actors.Customer{}, fmt.Errorf("open attributes of customer %s: %w", d.ID, err)
		}
		if err := json.Unmarshal([]byte(plain), &d.Attributes); err != nil {
			return actors.Customer{}, fmt.Errorf("decode attributes of customer %s: %w", d.ID, err)
		}
	}
	return d.customer(), nil
}

func (s *Store) sealMessageDoc(d messageDoc) messageDoc {
	d.Text = s.keys.SealString(sealed.AAD(messagesColl, "text", d.ID), d.Text)
	d.Content = s.keys.SealBytes(sealed.AAD(messagesColl, "content", d.ID), d.Content)
	d.Raw = s.keys.SealBytes(sealed.AAD(messagesColl, "raw", d.ID), d.Raw)
	return d
}

func (s *Store) openMessageDoc(d messageDoc) (actors.Message, error) {
	var err error
	if d.Text, err = s.keys.OpenString(sealed.AAD(messagesColl, "text", d.ID), d.Text); err != nil {
		return actors.Message{}, fmt.Errorf("open text of message %s: %w", d.ID, err)
	}
	if len(d.Content) > 0 {
		if d.Content, err = s.keys.Open(sealed.AAD(messagesColl, "content", d.ID), d.Content); err != nil {
			return actors.Message{}, fmt.Errorf("open content of message %s: %w", d.ID, err)
		}
	}
	if len(d.Raw) > 0 {
		if d.Raw, err = s.keys.Open(sealed.AAD(messagesColl, "raw", d.ID), d.Raw); err != nil {
			return actors.Message{}, fmt.Errorf("open raw of message %s: %w", d.ID, err)
		}
	}
	return d.message(), nil
}

// searchSealedCustomers is ListCustomers with a search while encryption is
// on. The server can no longer match a substring of a sealed name or
// e-mail, so the candidates are (1) the newest SealedSearchWindow
// customers, their name and e-mail decrypted and matched in memory with
// the phone (the matches then read whole),
// (2) what the server still matches (phone numbers, and names and e-mails
// not sealed yet; rechecked after decryption), and (3) the customers whose
// e-mail is exactly the search, through emailHash. The total counts these
// matches.
func (s *Store) searchSealedCustomers(ctx context.Context, op string, f actors.CustomerFilter) ([]actors.Customer, int, error) {
	lim, skip := pageWindow(f.Page, f.Limit)
	found := map[string]actors.Customer{}
	q := strings.ToLower(f.Search)
	inMemory := func(c actors.Customer) bool {
		return strings.Contains(strings.ToLower(c.Name), q) || strings.Contains(strings.ToLower(c.Phone), q) ||
			strings.Contains(strings.ToLower(c.Email), q)
	}
	collect := func(filter bson.D, match func(actors.Customer) bool) error {
		opts := options.Find().SetProjection(customerProjection).SetSort(customerSort).SetLimit(SealedSearchWindow)
		docs, err := findAll[customerDoc](ctx, s.customers, filter, opts)
		if err != nil {
			return classify(op, err)
		}
		for _, d := range docs {
			c, err := s.openCustomerDoc(d)
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			if match(c) {
				found[c.ID] = c
			}
		}
		return nil
	}
	window := bson.D{}
	if f.Tag != "" {
		window = append(window, bson.E{Key: "tags", Value: f.Tag})
	}
	// The window reads and opens only the fields searched; the matches
	// are then read whole.
	opts := options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: 1}, {Key: "phone", Value: 1}, {Key: "email", Value: 1}}).
		SetSort(customerSort).SetLimit(SealedSearchWindow)
	light, err := findAll[customerDoc](ctx, s.customers, window, opts)
	if err != nil {
		return nil, 0, classify(op, err)
	}
	var ids bson.A
	for _, d := range light {
		c := actors.Customer{ID: d.ID, Phone: d.Phone}
		if c.Name, err = s.keys.OpenString(sealed.AAD(customersColl, "name", d.ID), d.Name); err != nil {
			return nil, 0, fmt.Errorf("%s: open name of customer %s: %w", op, d.ID, err)
		}
		if c.Email, err = s.keys.OpenString(sealed.AAD(customersColl, "email", d.ID), d.Email); err != nil {
			return nil, 0, fmt.Errorf("%s: open email of customer %s: %w", op, d.ID, err)
		}
		if inMemory(c) {
			ids = append(ids, d.ID)
		}
	}
	if len(ids) > 0 {
		if err := collect(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, func(actors.Customer) bool { return true }); err != nil {
			return nil, 0, err
		}
	}
	if err := collect(customerFilter(f), inMemory); err != nil {
		return nil, 0, err
	}
	if h := s.keys.Hash(emailHashDomain, normalizeEmail(f.Search)); h != "" {
		byHash := append(bson.D{{Key: "emailHash", Value: h}}, window...)
		if err := collect(byHash, func(actors.Customer) bool { return true }); err != nil {
			return nil, 0, err
		}
	}
	all := make([]actors.Customer, 0, len(found))
	for _, c := range found {
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b actors.Customer) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if int(skip) >= len(all) {
		return []actors.Customer{}, len(all), nil
	}
	return all[skip:min(int(skip+lim), len(all))], len(all), nil
}
