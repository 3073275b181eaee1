package cloudapi

import (
	"sync"
	"time"
)

// maxWindows bounds the customers whose last message is remembered; past
// it, those outside the window are forgotten, and if that is not enough,
// all (a forgotten customer is outside the window unless AssumeWindowOpen).
const maxWindows = 200_000

// windowBook remembers, per business number and customer, when the
// customer last wrote (a simulated inbound message), which opens Meta's
// 24-hour customer service window: free-form messages are delivered only
// inside it. It is safe for concurrent use.
type windowBook struct {
	length     time.Duration
	assumeOpen bool

	mu   sync.Mutex
	last map[string]time.Time // phone_number_id|wa_id -> last inbound
}

func newWindowBook(length time.Duration, assumeOpen bool) *windowBook {
	return &windowBook{length: length, assumeOpen: assumeOpen, last: map[string]time.Time{}}
}

// wrote records a customer's message to a business number at t.
func (b *windowBook) wrote(phoneNumberID, waID string, t time.Time) {
	key := phoneNumberID + "|" + waID
	b.mu.Lock()
	defer b.mu.Unlock()
	if prev, ok := b.last[key]; ok && prev.After(t) {
		return
	}
	if len(b.last) >= maxWindows {
		for k, at := range b.last {
			if t.Sub(at) >= b.length {
				delete(b.last, k)
			}
		}
		if len(b.last) >= maxWindows {
			clear(b.last)
		}
	}
	b.last[key] = t
}

// open reports whether the customer service window between the business
// number and the customer is open at now: the customer wrote less than the
// window's length ago. A customer the sandbox never saw write is outside
// it, unless assumeOpen (for tests and load runs that post inbound
// webhooks to the engine directly instead of through the sandbox).
func (b *windowBook) open(phoneNumberID, waID string, now time.Time) bool {
	b.mu.Lock()
	at, ok := b.last[phoneNumberID+"|"+waID]
	b.mu.Unlock()
	if !ok {
		return b.assumeOpen
	}
	return now.Sub(at) < b.length
}
