package agentsession

import "slices"

// OnlineUsers lists the users with an active session, sorted (for the
// external tests: presence is observed through Presence in production).
func (h *Hub) OnlineUsers() []string {
	h.mu.RLock()
	out := make([]string, 0, len(h.active))
	for id := range h.active {
		out = append(out, id)
	}
	h.mu.RUnlock()
	slices.Sort(out)
	return out
}
