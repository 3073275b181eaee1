package actors

import (
	"context"
	"time"
)

// Customer is a person the contact centre talks to. Phone is E.164 and unique;
// WaID is the same number without '+'. Version increases by one on every
// update so writers can detect a lost update.
type Customer struct {
	ID         string
	Name       string
	Phone      string
	WaID       string
	Email      string
	Tags       []string
	Attributes map[string]string
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// CustomerFilter selects a page of customers. Search matches a
// case-insensitive substring of name, phone or email; Tag matches one tag
// exactly. Page starts at 1. Results are ordered newest first (CreatedAt
// descending, then ID descending).
type CustomerFilter struct {
	Search string
	Tag    string
	Page   int
	Limit  int
}

// CustomerStore keeps customers.
type CustomerStore interface {
	// CreateCustomer inserts c; ErrDuplicate when the id or phone is taken.
	CreateCustomer(ctx context.Context, c Customer) error
	// Customer returns the customer or ErrNotFound.
	Customer(ctx context.Context, id string) (Customer, error)
	// CustomerByPhone looks up by E.164 phone; ErrNotFound when absent.
	CustomerByPhone(ctx context.Context, phone string) (Customer, error)
	// UpdateCustomer replaces name, phone, waId, email, tags, attributes and
	// UpdatedAt of the customer with c.ID, only if its stored Version equals
	// c.Version; the stored Version becomes c.Version+1 and the stored record
	// is returned. ErrNotFound when absent, ErrConflict on a version
	// mismatch, ErrDuplicate when the new phone belongs to someone else.
	UpdateCustomer(ctx context.Context, c Customer) (Customer, error)
	// DeleteCustomer removes the customer; ErrNotFound when absent.
	DeleteCustomer(ctx context.Context, id string) error
	// ListCustomers returns one page and the total matching the filter.
	ListCustomers(ctx context.Context, f CustomerFilter) ([]Customer, int, error)
}
