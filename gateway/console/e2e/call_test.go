//go:build browser

package e2e

import (
	"testing"
)

// TestCallButtonFollowsTheCallsLiveState: the agent (with a phone on their
// profile) presses Call in a customer's panel; the engine places the call
// through the Exotel sandbox, and the panel's call state follows it live
// to completed, as the API reports it.
func TestCallButtonFollowsTheCallsLiveState(t *testing.T) {
	b := newBrowser(t)
	// The sandbox rings half a second and talks a second (not 6 s and 20 s).
	e := startEngine(t, map[string]string{"SANDBOX_EXOTEL_RING_DELAY": "500ms", "SANDBOX_EXOTEL_TALK_DELAY": "1s"})
	agent := e.newUser("agent", "Call Agent")
	s := e.login(agent.email, userPassword)
	e.must(200, "PATCH", "/api/auth/me", s.token, map[string]string{"phone": "+919800000199"})
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	waID := newCustomer()
	e.inject(waID, "Kavya Rao", "please call me back")
	id, _ := e.waitConversationOf(waID, true)
	tb.openConversation(id)
	tb.click(`[data-test=customer-call]`)
	tb.waitFor("the call's state reaches completed in the panel",
		`(() => { const s = document.querySelector('[data-test=call-state]'); return !!s && s.getAttribute('data-status') === 'completed'; })()`,
		waitTimeout)

	conv := e.must(200, "GET", "/api/whatsapp/conversations/"+id, s.token, nil)
	customerID := str(conv["conversation"].(map[string]any)["customerId"])
	calls := e.must(200, "GET", "/api/calls/customer/"+customerID, s.token, nil)
	items, _ := calls["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("the customer's calls: %v, want the one placed", calls)
	}
	if st := str(items[0].(map[string]any)["status"]); st != "completed" {
		t.Fatalf("the API reports the call %s, the panel completed", st)
	}
	if v := tb.cspViolations(); len(v) != 0 {
		t.Fatalf("CSP violations: %v", v)
	}
}
