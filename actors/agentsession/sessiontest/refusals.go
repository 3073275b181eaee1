package sessiontest

import (
	"sync"

	"github.com/wacc/engine/actors/agentsession"
)

// Refusals records refused tokens in order, as
// "<userID> <source IP> <reason>".
type Refusals struct {
	mu    sync.Mutex
	calls []string
}

var _ agentsession.Refusals = (*Refusals)(nil)

// Refused records the call.
func (r *Refusals) Refused(userID string, source agentsession.Source, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, userID+" "+source.IP+" "+reason)
}

// Calls returns the calls so far.
func (r *Refusals) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}
