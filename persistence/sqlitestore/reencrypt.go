package sqlitestore

import (
	"context"
	"fmt"

	"github.com/wacc/engine/persistence/sealed"
)

// SQL of Reencrypt: keyset batches by primary key, and conditional writes
// that change a row only if its sealed columns are still what was read.
const (
	qReencCustomers = `SELECT id, name, email, attributes, email_hash FROM customers WHERE id > ? ORDER BY id LIMIT ?`
	qResealCustomer = `UPDATE customers SET name = ?, email = ?, attributes = ?, email_hash = ?
		WHERE id = ? AND name = ? AND email = ? AND attributes = ?`
	qOptimizeCustomerSearch = `INSERT INTO customers_fts (customers_fts) VALUES ('optimize')`
	qReencMessages          = `SELECT id, text, content, raw FROM messages WHERE id > ? ORDER BY id LIMIT ?`
	qResealMessage          = `UPDATE messages SET text = ?, content = ?, raw = ?
		WHERE id = ? AND text = ? AND content IS ? AND raw IS ?`
)

// ReencryptKinds are the kinds Reencrypt takes.
func (s *Store) ReencryptKinds() []string { return []string{"customers", "messages"} }

// Reencrypt reseals, under the current key, the sealed fields of up to
// limit rows of kind ("customers" or "messages") whose id sorts after
// after: plaintext rows written before encryption was on, and rows sealed
// under an older key. Each row is one conditional UPDATE, so it is safe
// while the engine runs: a row the engine changed meanwhile is left (and
// counted in Raced). It is idempotent; start again from "" at any time.
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

func (s *Store) reencryptCustomers(ctx context.Context, after string, limit int) (sealed.Batch, error) {
	type row struct{ id, name, email, attrs, hash string }
	rows, err := s.r.QueryContext(ctx, qReencCustomers, after, limit)
	if err != nil {
		return sealed.Batch{}, fmt.Errorf("reencrypt customers after %q: %w", after, mapErr(err))
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.name, &r.email, &r.attrs, &r.hash); err != nil {
			_ = rows.Close()
			return sealed.Batch{}, fmt.Errorf("reencrypt customers after %q: %w", after, mapErr(err))
		}
		list = append(list, r)
	}
	if err := rows.Close(); err != nil {
		return sealed.Batch{}, fmt.Errorf("reencrypt customers after %q: %w", after, mapErr(err))
	}
	var b sealed.Batch
	for _, r := range list {
		b.Scanned++
		b.Next = r.id
		k := s.keys
		name, err := k.OpenString(sealed.AAD("customers", "name", r.id), r.name)
		if err != nil {
			return b, fmt.Errorf("reencrypt customer %s: name: %w", r.id, err)
		}
		email, err := k.OpenString(sealed.AAD("customers", "email", r.id), r.email)
		if err != nil {
			return b, fmt.Errorf("reencrypt customer %s: email: %w", r.id, err)
		}
		attrs, err := k.OpenString(sealed.AAD("customers", "attributes", r.id), r.attrs)
		if err != nil {
			return b, fmt.Errorf("reencrypt customer %s: attributes: %w", r.id, err)
		}
		hash := k.Hash(emailHashDomain, NormalizeEmail(email))
		if !k.StaleString(r.name) && !k.StaleString(r.email) && !k.StaleString(r.attrs) && hash == r.hash {
			continue
		}
		n, err := s.exec(ctx, nil, qResealCustomer,
			k.SealString(sealed.AAD("customers", "name", r.id), name),
			k.SealString(sealed.AAD("customers", "email", r.id), email),
			k.SealString(sealed.AAD("customers", "attributes", r.id), attrs),
			hash, r.id, r.name, r.email, r.attrs)
		if err != nil {
			return b, fmt.Errorf("reencrypt customer %s: %w", r.id, err)
		}
		if n == 0 {
			b.Raced++
			continue
		}
		b.Resealed++
	}
	if len(list) < limit {
		b.Next = ""
		// Merge the search index's segments, so the entries of names
		// and e-mails indexed while they were plaintext are gone from the
		// file, not only marked deleted.
		if _, err := s.exec(ctx, nil, qOptimizeCustomerSearch); err != nil {
			return b, fmt.Errorf("reencrypt customers: optimize search index: %w", err)
		}
	}
	return b, nil
}

func (s *Store) reencryptMessages(ctx context.Context, after string, limit int) (sealed.Batch, error) {
	type row struct {
		id, text     string
		content, raw []byte
	}
	rows, err := s.r.QueryContext(ctx, qReencMessages, after, limit)
	if err != nil {
		return sealed.Batch{}, fmt.Errorf("reencrypt messages after %q: %w", after, mapErr(err))
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.text, &r.content, &r.raw); err != nil {
			_ = rows.Close()
			return sealed.Batch{}, fmt.Errorf("reencrypt messages after %q: %w", after, mapErr(err))
		}
		list = append(list, r)
	}
	if err := rows.Close(); err != nil {
		return sealed.Batch{}, fmt.Errorf("reencrypt messages after %q: %w", after, mapErr(err))
	}
	var b sealed.Batch
	for _, r := range list {
		b.Scanned++
		b.Next = r.id
		k := s.keys
		if !k.StaleString(r.text) && !k.Stale(r.content) && !k.Stale(r.raw) {
			continue
		}
		text, err := k.OpenString(sealed.AAD("messages", "text", r.id), r.text)
		if err != nil {
			return b, fmt.Errorf("reencrypt message %s: text: %w", r.id, err)
		}
		content, err := k.Open(sealed.AAD("messages", "content", r.id), r.content)
		if err != nil {
			return b, fmt.Errorf("reencrypt message %s: content: %w", r.id, err)
		}
		raw, err := k.Open(sealed.AAD("messages", "raw", r.id), r.raw)
		if err != nil {
			return b, fmt.Errorf("reencrypt message %s: raw: %w", r.id, err)
		}
		n, err := s.exec(ctx, nil, qResealMessage,
			k.SealString(sealed.AAD("messages", "text", r.id), text),
			blob(k.SealBytes(sealed.AAD("messages", "content", r.id), content)),
			blob(k.SealBytes(sealed.AAD("messages", "raw", r.id), raw)),
			r.id, r.text, blob(r.content), blob(r.raw))
		if err != nil {
			return b, fmt.Errorf("reencrypt message %s: %w", r.id, err)
		}
		if n == 0 {
			b.Raced++
			continue
		}
		b.Resealed++
	}
	if len(list) < limit {
		b.Next = ""
	}
	return b, nil
}
