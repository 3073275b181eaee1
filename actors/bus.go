package actors

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Bus fans the events conversation actors publish out to the components
// that subscribed to their types: agent sockets (agentsession.Hub) and the
// assigner. It exists before any of them, so a publisher and its
// subscribers are each complete when built: the conversations are handed
// the Bus, and each subscriber subscribes when it is constructed.
//
// Publish is on the path of every event: it reads the subscriber list
// without a lock and allocates nothing; each subscriber's Publish is called
// in turn on the caller's goroutine (Publisher.Publish never blocks).
// Events of one publisher reach each subscriber in the order published.
// Subscribe and its unsubscribe copy the list; they are for start-up and
// shutdown, not the hot path. A Bus is safe for concurrent use; its zero
// value is ready.
type Bus struct {
	// mu serialises Subscribe and unsubscribe; Publish never takes it.
	mu   sync.Mutex
	subs atomic.Pointer[[]subscription]
	next uint64
}

// subscription is one subscriber and the event types it wants.
type subscription struct {
	id uint64
	p  Publisher
	// types are the event types delivered; nil: every type.
	types []string
}

var _ Publisher = (*Bus)(nil)

// NewBus returns an empty Bus.
func NewBus() *Bus { return &Bus{} }

// Subscribe delivers to p every event whose Type is one of types (every
// event when types is empty) published from now on. It returns the function
// that ends the subscription; calling it twice is harmless.
func (b *Bus) Subscribe(p Publisher, types ...string) (unsubscribe func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	s := subscription{id: b.next, p: p}
	if len(types) > 0 {
		s.types = slices.Clone(types)
	}
	var cur []subscription
	if p := b.subs.Load(); p != nil {
		cur = *p
	}
	next := append(slices.Clone(cur), s)
	b.subs.Store(&next)
	id := s.id
	return func() { b.unsubscribe(id) }
}

func (b *Bus) unsubscribe(id uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.subs.Load()
	if p == nil {
		return
	}
	i := slices.IndexFunc(*p, func(s subscription) bool { return s.id == id })
	if i < 0 {
		return
	}
	next := slices.Delete(slices.Clone(*p), i, i+1)
	b.subs.Store(&next)
}

// Publish hands ev to every subscriber of its type.
func (b *Bus) Publish(ev Event) {
	p := b.subs.Load()
	if p == nil {
		return
	}
	for i := range *p {
		s := &(*p)[i]
		if s.wants(ev.Type) {
			s.p.Publish(ev)
		}
	}
}

func (s *subscription) wants(typ string) bool {
	if s.types == nil {
		return true
	}
	for _, t := range s.types {
		if t == typ {
			return true
		}
	}
	return false
}
