package gateway

import (
	"context"
	"sync"

	"github.com/wacc/engine/actors"
)

// maxPhoneIDs bounds the phone-to-customer index.
const maxPhoneIDs = 10_000

// phoneIDs remembers which customer id a phone number last resolved to.
// It is only a hint: customerByPhone reads the customer through the read
// cache (which every write invalidates) and uses it only if it still has
// that phone, so a changed, deleted or replaced customer falls back to
// the store.
type phoneIDs struct {
	mu sync.RWMutex
	m  map[string]string
}

func (p *phoneIDs) get(phone string) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	id, ok := p.m[phone]
	return id, ok
}

func (p *phoneIDs) put(phone, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]string)
	}
	if len(p.m) >= maxPhoneIDs {
		for k := range p.m {
			if len(p.m) < maxPhoneIDs/2 {
				break
			}
			delete(p.m, k)
		}
	}
	p.m[phone] = id
}

// customerByPhone is the store's CustomerByPhone, answered from the read
// cache when the customer the phone last resolved to still has it: a send
// to a known number reads nothing from the store.
func (s *Server) customerByPhone(ctx context.Context, phone string) (actors.Customer, error) {
	if id, ok := s.phoneIDs.get(phone); ok {
		if c, err := s.customers.get(ctx, id); err == nil && c.Phone == phone {
			return c, nil
		}
	}
	c, err := s.store.CustomerByPhone(ctx, phone)
	if err == nil {
		s.phoneIDs.put(phone, c.ID)
	}
	return c, err
}
