package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wacc/engine/actors"
)

const (
	customerCols = `c.id, c.name, c.phone, c.wa_id, c.email, c.tags, c.attributes, c.version, c.created_at, c.updated_at`
	// customerReturning is customerCols for RETURNING, which takes bare names.
	customerReturning = `id, name, phone, wa_id, email, tags, attributes, version, created_at, updated_at`
)

// SQL the customer methods run. The list queries come in one variant per
// filter shape so every shape has a plan served by an index (see
// plan_test.go); a single query with "? = ” OR ..." guards would defeat the
// planner.
const (
	qInsertCustomer = `INSERT INTO customers
		(id, name, phone, wa_id, email, tags, attributes, version, created_at, updated_at, email_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qCustomerByID = `SELECT ` + customerCols + ` FROM customers c WHERE c.id = ?`
	// qCustomerByPhone is served by the UNIQUE index on customers(phone).
	qCustomerByPhone = `SELECT ` + customerCols + ` FROM customers c WHERE c.phone = ?`
	// qUpdateCustomer is the version check and the write in one statement.
	qUpdateCustomer = `UPDATE customers
		SET name = ?, phone = ?, wa_id = ?, email = ?, tags = ?, attributes = ?,
		    updated_at = ?, email_hash = ?, version = version + 1
		WHERE id = ? AND version = ?
		RETURNING ` + customerReturning
	qCustomerCreatedAt = `SELECT created_at FROM customers WHERE id = ?`
	qDeleteCustomer    = `DELETE FROM customers WHERE id = ?`
	qDeleteTags        = `DELETE FROM customer_tags WHERE customer_id = ?`
	qInsertTag         = `INSERT OR IGNORE INTO customer_tags (customer_id, tag, created_at) VALUES (?, ?, ?)`

	customerOrder = ` ORDER BY c.created_at DESC, c.id DESC LIMIT ? OFFSET ?`

	// No filter: walk customers_created backwards.
	qListCustomers  = `SELECT ` + customerCols + ` FROM customers c` + customerOrder
	qCountCustomers = `SELECT count(*) FROM customers`

	// Tag only: walk customer_tags_tag (tag, created_at, customer_id)
	// backwards from the tag, already in list order, and look each customer
	// up by id. CROSS JOIN pins that join order.
	qListCustomersByTag = `SELECT ` + customerCols + `
		FROM customer_tags t CROSS JOIN customers c ON c.id = t.customer_id
		WHERE t.tag = ?
		ORDER BY t.created_at DESC, t.customer_id DESC LIMIT ? OFFSET ?`
	qCountCustomersByTag = `SELECT count(*) FROM customer_tags WHERE tag = ?`

	// Search of three or more characters: the trigram index finds the
	// matching rows, which are then sorted; the argument is an FTS5 phrase
	// (see ftsPhrase).
	qListCustomersBySearch = `SELECT ` + customerCols + `
		FROM customers_fts CROSS JOIN customers c ON c.seq = customers_fts.rowid
		WHERE customers_fts MATCH ?` + customerOrder
	qCountCustomersBySearch = `SELECT count(*) FROM customers_fts WHERE customers_fts MATCH ?`

	qListCustomersBySearchTag = `SELECT ` + customerCols + `
		FROM customers_fts CROSS JOIN customers c ON c.seq = customers_fts.rowid
		WHERE customers_fts MATCH ?
		  AND EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = ?)` + customerOrder
	qCountCustomersBySearchTag = `SELECT count(*)
		FROM customers_fts CROSS JOIN customers c ON c.seq = customers_fts.rowid
		WHERE customers_fts MATCH ?
		  AND EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = ?)`

	// Search of one or two characters (too short for trigrams): an escaped
	// LIKE over every row. The pattern argument comes from likePattern.
	likeAny = `(c.name LIKE ? ESCAPE '\' OR c.phone LIKE ? ESCAPE '\' OR c.email LIKE ? ESCAPE '\')`

	qListCustomersByLike  = `SELECT ` + customerCols + ` FROM customers c WHERE ` + likeAny + customerOrder
	qCountCustomersByLike = `SELECT count(*) FROM customers c WHERE ` + likeAny

	// Short search and a tag: the tag narrows through its index first.
	qListCustomersByLikeTag = `SELECT ` + customerCols + `
		FROM customer_tags t CROSS JOIN customers c ON c.id = t.customer_id
		WHERE t.tag = ? AND ` + likeAny + `
		ORDER BY t.created_at DESC, t.customer_id DESC LIMIT ? OFFSET ?`
	qCountCustomersByLikeTag = `SELECT count(*)
		FROM customer_tags t CROSS JOIN customers c ON c.id = t.customer_id
		WHERE t.tag = ? AND ` + likeAny
)

// minTrigramSearch is the shortest search the trigram index can serve.
const minTrigramSearch = 3

func (s *Store) scanCustomer(row interface{ Scan(...any) error }) (actors.Customer, error) {
	var c actors.Customer
	var tags, attrs string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.Name, &c.Phone, &c.WaID, &c.Email, &tags, &attrs, &c.Version, &created, &updated); err != nil {
		return actors.Customer{}, mapErr(err)
	}
	if err := s.openCustomer(&c, &attrs); err != nil {
		return actors.Customer{}, err
	}
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return actors.Customer{}, fmt.Errorf("decode tags: %w", err)
	}
	if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
		return actors.Customer{}, fmt.Errorf("decode attributes: %w", err)
	}
	if len(c.Tags) == 0 {
		c.Tags = nil
	}
	if len(c.Attributes) == 0 {
		c.Attributes = nil
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return c, nil
}

// encodeTagsAttrs renders tags and attributes as the JSON the customers table
// keeps; nil becomes an empty array or object.
func encodeTagsAttrs(c actors.Customer) (tags, attrs string, err error) {
	t := c.Tags
	if t == nil {
		t = []string{}
	}
	a := c.Attributes
	if a == nil {
		a = map[string]string{}
	}
	tb, err := json.Marshal(t)
	if err != nil {
		return "", "", fmt.Errorf("encode tags: %w", err)
	}
	ab, err := json.Marshal(a)
	if err != nil {
		return "", "", fmt.Errorf("encode attributes: %w", err)
	}
	return string(tb), string(ab), nil
}

func insertTags(ctx context.Context, tx *sql.Tx, id string, createdAt int64, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, qInsertTag)
	if err != nil {
		return mapErr(err)
	}
	defer stmt.Close()
	for _, tag := range tags {
		if _, err := stmt.ExecContext(ctx, id, tag, createdAt); err != nil {
			return fmt.Errorf("tag %q: %w", tag, mapErr(err))
		}
	}
	return nil
}

// CreateCustomer inserts c with its tags; ErrDuplicate when the id or phone
// is taken.
func (s *Store) CreateCustomer(ctx context.Context, c actors.Customer) error {
	tags, attrs, err := encodeTagsAttrs(c)
	if err != nil {
		return fmt.Errorf("create customer %s: %w", c.ID, err)
	}
	sc := s.sealCustomer(c, attrs)
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.insertCustomerTx(ctx, tx, c, sc, tags) })
	if err != nil {
		return fmt.Errorf("create customer %s: %w", c.ID, err)
	}
	return nil
}

// insertCustomerTx is CreateCustomer's write, in tx, through the statement
// prepared at Open (the insert fires the search index's trigger, which
// SQLite would otherwise compile again on every call).
func (s *Store) insertCustomerTx(ctx context.Context, tx *sql.Tx, c actors.Customer, sc customerSeal, tags string) error {
	if _, err := tx.StmtContext(ctx, s.st.insertCustomer).ExecContext(ctx,
		c.ID, sc.name, c.Phone, c.WaID, sc.email, tags, sc.attrs, c.Version,
		millis(c.CreatedAt), millis(c.UpdatedAt), sc.emailHash); err != nil {
		return mapErr(err)
	}
	return insertTags(ctx, tx, c.ID, millis(c.CreatedAt), c.Tags)
}

// Customer returns the customer or ErrNotFound.
func (s *Store) Customer(ctx context.Context, id string) (actors.Customer, error) {
	c, err := s.scanCustomer(s.r.QueryRowContext(ctx, qCustomerByID, id))
	if err != nil {
		return actors.Customer{}, fmt.Errorf("customer %s: %w", id, err)
	}
	return c, nil
}

// CustomerByPhone looks up by E.164 phone; ErrNotFound when absent.
func (s *Store) CustomerByPhone(ctx context.Context, phone string) (actors.Customer, error) {
	c, err := s.scanCustomer(s.st.customerByPhone.QueryRowContext(ctx, phone))
	if err != nil {
		// The number is personal data; the error names the operation only.
		return actors.Customer{}, fmt.Errorf("customer by phone: %w", err)
	}
	return c, nil
}

// UpdateCustomer replaces the mutable fields of c.ID if its stored version is
// c.Version, bumps the version and returns the stored record. ErrNotFound
// when absent, ErrConflict on a version mismatch, ErrDuplicate when the new
// phone belongs to someone else. A failed update changes nothing.
func (s *Store) UpdateCustomer(ctx context.Context, c actors.Customer) (actors.Customer, error) {
	tags, attrs, err := encodeTagsAttrs(c)
	if err != nil {
		return actors.Customer{}, fmt.Errorf("update customer %s: %w", c.ID, err)
	}
	sc := s.sealCustomer(c, attrs)
	var stored actors.Customer
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		stored, err = s.scanCustomer(tx.QueryRowContext(ctx, qUpdateCustomer,
			sc.name, c.Phone, c.WaID, sc.email, tags, sc.attrs, millis(c.UpdatedAt), sc.emailHash, c.ID, c.Version))
		if errNoRow(err) {
			// Nothing matched: tell a missing customer from a stale version.
			var created int64
			if err := tx.QueryRowContext(ctx, qCustomerCreatedAt, c.ID).Scan(&created); err != nil {
				return mapErr(err)
			}
			return fmt.Errorf("version %d is stale: %w", c.Version, actors.ErrConflict)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qDeleteTags, c.ID); err != nil {
			return mapErr(err)
		}
		return insertTags(ctx, tx, c.ID, millis(stored.CreatedAt), c.Tags)
	})
	if err != nil {
		return actors.Customer{}, fmt.Errorf("update customer %s: %w", c.ID, err)
	}
	return stored, nil
}

// DeleteCustomer removes the customer, its tags and its search entry;
// ErrNotFound when absent.
func (s *Store) DeleteCustomer(ctx context.Context, id string) error {
	n, err := s.exec(ctx, nil, qDeleteCustomer, id)
	if err != nil {
		return fmt.Errorf("delete customer %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete customer %s: %w", id, actors.ErrNotFound)
	}
	return nil
}

// ListCustomers returns one page, newest first, and the total matching f.
// The page and the total come from one snapshot.
func (s *Store) ListCustomers(ctx context.Context, f actors.CustomerFilter) ([]actors.Customer, int, error) {
	if s.keys.On() && f.Search != "" {
		return s.searchSealedCustomers(ctx, f)
	}
	limit, offset := pageWindow(f.Page, f.Limit)
	list, count, args := customerQueries(f)

	var out []actors.Customer
	var total int
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, count, args...).Scan(&total); err != nil {
			return mapErr(err)
		}
		out = make([]actors.Customer, 0, min(limit, max(total-offset, 0)))
		if offset >= total {
			return nil
		}
		rows, err := tx.QueryContext(ctx, list, append(args, limit, offset)...)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := s.scanCustomer(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return mapErr(rows.Err())
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list customers (page %d, limit %d): %w", f.Page, f.Limit, err)
	}
	return out, total, nil
}

// customerQueries picks the list and count SQL for the shape of f and the
// arguments both take before LIMIT and OFFSET.
func customerQueries(f actors.CustomerFilter) (list, count string, args []any) {
	switch {
	case f.Search == "" && f.Tag == "":
		return qListCustomers, qCountCustomers, nil
	case f.Search == "":
		return qListCustomersByTag, qCountCustomersByTag, []any{f.Tag}
	case utf8.RuneCountInString(f.Search) >= minTrigramSearch && f.Tag == "":
		return qListCustomersBySearch, qCountCustomersBySearch, []any{ftsPhrase(f.Search)}
	case utf8.RuneCountInString(f.Search) >= minTrigramSearch:
		return qListCustomersBySearchTag, qCountCustomersBySearchTag, []any{ftsPhrase(f.Search), f.Tag}
	case f.Tag == "":
		p := likePattern(f.Search)
		return qListCustomersByLike, qCountCustomersByLike, []any{p, p, p}
	default:
		p := likePattern(f.Search)
		return qListCustomersByLikeTag, qCountCustomersByLikeTag, []any{f.Tag, p, p, p}
	}
}

// ftsPhrase quotes s as one FTS5 string: inside double quotes every
// character is literal except '"', which is doubled. With the trigram
// tokenizer a phrase matches any row whose column contains s as a
// case-insensitive substring.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// likeEscaper makes %, _ and the escape character itself literal in a LIKE
// pattern that declares ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// likePattern matches s anywhere in the value; SQLite's LIKE folds ASCII case.
func likePattern(s string) string { return "%" + likeEscaper.Replace(s) + "%" }
