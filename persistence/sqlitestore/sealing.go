package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/sealed"
)

// Encryption at rest (persistence/sealed). With a keyring, these columns
// hold sealed values bound (AAD) to their table, column and row id:
//
//	customers: name, email, attributes   (email_hash: keyed lookup hash)
//	messages:  text, content, raw
//	inbox:     body (in the inbox database; not reencrypted: entries
//	           live until processed)
//	idempotency_keys: body (not reencrypted: answers expire)
//
// Phone numbers, WhatsApp ids, tags, message media summaries and
// everything else stay plaintext (see the README, "Data at rest"). Rows
// written before encryption was turned on are read as they are and sealed
// by Reencrypt.

// SealedSearchWindow is how many of the newest customers (of the tag, when
// the filter has one) a search decrypts and matches in memory when
// encryption is on. A phone number substring (phone stays plaintext) and
// an exact e-mail (through email_hash) are found in the whole table, up to
// this many matches each.
const SealedSearchWindow = 2000

// Lookup hash domains.
const emailHashDomain = "customer.email"

// NormalizeEmail is the form of an e-mail the lookup hash is taken of.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// customerSeal is the stored form of a customer's sealed fields.
type customerSeal struct {
	name, email, attrs, emailHash string
}

func (s *Store) sealCustomer(c actors.Customer, attrs string) customerSeal {
	return customerSeal{
		name:      s.keys.SealString(sealed.AAD("customers", "name", c.ID), c.Name),
		email:     s.keys.SealString(sealed.AAD("customers", "email", c.ID), c.Email),
		attrs:     s.keys.SealString(sealed.AAD("customers", "attributes", c.ID), attrs),
		emailHash: s.keys.Hash(emailHashDomain, NormalizeEmail(c.Email)),
	}
}

// openCustomer replaces the sealed fields of c (and the attributes JSON)
// with their plaintext.
func (s *Store) openCustomer(c *actors.Customer, attrs *string) error {
	var err error
	if c.Name, err = s.keys.OpenString(sealed.AAD("customers", "name", c.ID), c.Name); err != nil {
		return fmt.Errorf("open name of customer %s: %w", c.ID, err)
	}
	if c.Email, err = s.keys.OpenString(sealed.AAD("customers", "email", c.ID), c.Email); err != nil {
		return fmt.Errorf("open email of customer %s: %w", c.ID, err)
	}
	if *attrs, err = s.keys.OpenString(sealed.AAD("customers", "attributes", c.ID), *attrs); err != nil {
		return fmt.Errorf("open attributes of customer %s: %w", c.ID, err)
	}
	return nil
}

func (s *Store) sealMessage(m actors.Message) (text string, content, raw []byte) {
	return s.keys.SealString(sealed.AAD("messages", "text", m.ID), m.Text),
		s.keys.SealBytes(sealed.AAD("messages", "content", m.ID), m.Content),
		s.keys.SealBytes(sealed.AAD("messages", "raw", m.ID), m.Raw)
}

func (s *Store) openMessage(m *actors.Message, content, raw *[]byte) error {
	var err error
	if m.Text, err = s.keys.OpenString(sealed.AAD("messages", "text", m.ID), m.Text); err != nil {
		return fmt.Errorf("open text of message %s: %w", m.ID, err)
	}
	if len(*content) > 0 {
		if *content, err = s.keys.Open(sealed.AAD("messages", "content", m.ID), *content); err != nil {
			return fmt.Errorf("open content of message %s: %w", m.ID, err)
		}
	}
	if len(*raw) > 0 {
		if *raw, err = s.keys.Open(sealed.AAD("messages", "raw", m.ID), *raw); err != nil {
			return fmt.Errorf("open raw of message %s: %w", m.ID, err)
		}
	}
	return nil
}

// SQL of the sealed customer search. The window reads only what is
// matched (id, name, phone, e-mail); the matches are then read whole.
const (
	windowCols            = `c.id, c.name, c.phone, c.email`
	qWindowCustomers      = `SELECT ` + windowCols + ` FROM customers c ORDER BY c.created_at DESC, c.id DESC LIMIT ?`
	qWindowCustomersByTag = `SELECT ` + windowCols + `
		FROM customer_tags t CROSS JOIN customers c ON c.id = t.customer_id
		WHERE t.tag = ?
		ORDER BY t.created_at DESC, t.customer_id DESC LIMIT ?`
	qCustomersByEmailHash = `SELECT ` + customerCols + ` FROM customers c WHERE c.email_hash = ? AND c.email_hash != '' LIMIT ?`
)

// searchSealedCustomers is ListCustomers with a search while encryption is
// on: the store can no longer match a substring of a sealed name or
// e-mail, so the candidates are (1) the newest SealedSearchWindow
// customers, decrypted and matched in memory on name, phone and e-mail,
// (2) what the search index still matches (phone numbers, and names and
// e-mails not sealed yet), and (3) the customers whose e-mail is exactly
// the search, through the lookup hash. The total counts these matches.
func (s *Store) searchSealedCustomers(ctx context.Context, f actors.CustomerFilter) ([]actors.Customer, int, error) {
	limit, offset := pageWindow(f.Page, f.Limit)
	found := map[string]actors.Customer{}
	collect := func(tx *sql.Tx, match func(actors.Customer) bool, query string, args ...any) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := s.scanCustomer(rows)
			if err != nil {
				return err
			}
			if match(c) {
				found[c.ID] = c
			}
		}
		return mapErr(rows.Err())
	}
	q := strings.ToLower(f.Search)
	inMemory := func(c actors.Customer) bool {
		return strings.Contains(strings.ToLower(c.Name), q) || strings.Contains(strings.ToLower(c.Phone), q) ||
			strings.Contains(strings.ToLower(c.Email), q)
	}
	ofTag := func(c actors.Customer) bool { return f.Tag == "" || slices.Contains(c.Tags, f.Tag) }
	// window matches the newest customers on the fields searched, opening
	// only those, and reads the matches whole.
	window := func(tx *sql.Tx, query string, args ...any) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return mapErr(err)
		}
		var ids []string
		for rows.Next() {
			var c actors.Customer
			if err := rows.Scan(&c.ID, &c.Name, &c.Phone, &c.Email); err != nil {
				_ = rows.Close()
				return mapErr(err)
			}
			if c.Name, err = s.keys.OpenString(sealed.AAD("customers", "name", c.ID), c.Name); err != nil {
				_ = rows.Close()
				return fmt.Errorf("open name of customer %s: %w", c.ID, err)
			}
			if c.Email, err = s.keys.OpenString(sealed.AAD("customers", "email", c.ID), c.Email); err != nil {
				_ = rows.Close()
				return fmt.Errorf("open email of customer %s: %w", c.ID, err)
			}
			if inMemory(c) {
				ids = append(ids, c.ID)
			}
		}
		if err := rows.Close(); err != nil {
			return mapErr(err)
		}
		for _, id := range ids {
			c, err := s.scanCustomer(tx.QueryRowContext(ctx, qCustomerByID, id))
			if err != nil {
				return err
			}
			found[c.ID] = c
		}
		return nil
	}
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if f.Tag == "" {
			err = window(tx, qWindowCustomers, SealedSearchWindow)
		} else {
			err = window(tx, qWindowCustomersByTag, f.Tag, SealedSearchWindow)
		}
		if err != nil {
			return err
		}
		list, _, args := customerQueries(f)
		// The index no longer holds sealed values, but a one- or
		// two-character LIKE could match inside one; matching the
		// decrypted row again drops those.
		if err := collect(tx, inMemory, list, append(args, SealedSearchWindow, 0)...); err != nil {
			return err
		}
		if h := s.keys.Hash(emailHashDomain, NormalizeEmail(f.Search)); h != "" {
			return collect(tx, ofTag, qCustomersByEmailHash, h, SealedSearchWindow)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("search customers (page %d, limit %d): %w", f.Page, f.Limit, err)
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
	if offset >= len(all) {
		return []actors.Customer{}, len(all), nil
	}
	return all[offset:min(offset+limit, len(all))], len(all), nil
}
