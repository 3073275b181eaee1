//go:build browser

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestSessionOutlivesItsAccessTokenThroughRefresh: with 8-second access
// tokens, the console rotates its tokens by itself; after the first token
// expired the socket is still open, a customer's message still arrives
// live, and the console's requests carry a fresh token.
func TestSessionOutlivesItsAccessTokenThroughRefresh(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, map[string]string{"JWT_EXPIRES_IN": "8s"})
	agent := e.newUser("agent", "Shift Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)
	first := tb.accessToken()
	if first == "" {
		t.Fatal("no API request of the console carried a bearer token")
	}

	// Bounded by three token lifetimes: the console must have rotated its
	// tokens by then, and the first one is dead.
	eventually(t, "the console to refresh its tokens", 3*8*time.Second, func() bool { return tb.refreshes() >= 1 })
	eventually(t, "the first token to expire", 3*8*time.Second, func() bool {
		st, _ := e.api("GET", "/api/auth/me", first, nil)
		return st == 401
	})
	tb.waitConnected()
	if tb.count(selLoginForm) != 0 {
		t.Fatal("the console went back to the login page when its token expired")
	}

	waID := newCustomer()
	e.inject(waID, "Nisha Pillai", "Still there after the refresh?")
	id, _ := e.waitConversationOf(waID, true)
	tb.openConversation(id)
	tb.waitMessage("inbound", "Still there after the refresh?")
	if tok := tb.accessToken(); tok == first {
		t.Fatal("the console's requests still carry the expired first token")
	}
}

// TestRevokedSessionReturnsToLogin: an admin disables the agent's account
// while its console is open; the engine ends its tokens and its socket,
// and the console goes back to the login page by itself.
func TestRevokedSessionReturnsToLogin(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Revoked Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	e.must(200, "PATCH", "/api/users/"+agent.id, e.adminToken(), map[string]any{"disabled": true})
	tb.waitFor("the login page after the account was disabled",
		fmt.Sprintf(`!!document.querySelector(%q) && !document.querySelector(%q)`, selLoginForm, selApp), waitTimeout)
}
