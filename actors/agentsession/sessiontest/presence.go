package sessiontest

import (
	"sync"

	"github.com/wacc/engine/actors/agentsession"
)

// Presence records presence calls in order, as "online <id>" and
// "offline <id>".
type Presence struct {
	mu    sync.Mutex
	calls []string
}

var _ agentsession.Presence = (*Presence)(nil)

// AgentOnline records the call.
func (p *Presence) AgentOnline(id string) { p.record("online " + id) }

// AgentOffline records the call.
func (p *Presence) AgentOffline(id string) { p.record("offline " + id) }

func (p *Presence) record(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, s)
}

// Calls returns the calls so far.
func (p *Presence) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}
