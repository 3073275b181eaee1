package density

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/wacc/engine/actors"
)

// CreateCustomer inserts c; ErrDuplicate when its id or phone is taken.
func (s *memStore) CreateCustomer(ctx context.Context, c actors.Customer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create customer %s: %w", c.ID, err)
	}
	c.Tags, c.Attributes = slices.Clone(c.Tags), maps.Clone(c.Attributes)
	c.CreatedAt, c.UpdatedAt = dbTime(c.CreatedAt), dbTime(c.UpdatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.customers[c.ID]; ok {
		return fmt.Errorf("create customer %s: id taken: %w", c.ID, actors.ErrDuplicate)
	}
	if _, ok := s.customerByPhone[c.Phone]; ok {
		return fmt.Errorf("create customer %s: phone taken: %w", c.ID, actors.ErrDuplicate)
	}
	s.customers[c.ID] = c
	s.customerByPhone[c.Phone] = c.ID
	return nil
}

// CustomerByPhone returns the customer with that E.164 phone, or
// ErrNotFound.
func (s *memStore) CustomerByPhone(ctx context.Context, phone string) (actors.Customer, error) {
	if err := ctx.Err(); err != nil {
		return actors.Customer{}, fmt.Errorf("customer by phone: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.customerByPhone[phone]
	if !ok {
		// The number is personal data; the error names the operation only.
		return actors.Customer{}, fmt.Errorf("customer by phone: %w", actors.ErrNotFound)
	}
	c := s.customers[id]
	c.Tags, c.Attributes = slices.Clone(c.Tags), maps.Clone(c.Attributes)
	return c, nil
}

// ---------------------------------------------------------- notifications
