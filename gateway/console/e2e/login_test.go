//go:build browser

package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestAgentLogsIn: the console opens on its login page; a wrong password
// shows the API's error and stays there; the right one shows the app
// shell of that agent, with only the agent's navigation and a live socket.
func TestAgentLogsIn(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Asha Agent")
	tb := b.newTab("agent", e.consoleURL)

	tb.open("/")
	tb.waitFor("the login form", fmt.Sprintf(`!!document.querySelector(%q)`, selLoginForm), waitTimeout)
	tb.screenshot("login")

	tb.typeInto(selLoginEmail, agent.email)
	tb.typeInto(selLoginPassword, "not-the-password")
	tb.click(selLoginSubmit)
	msg, _ := tb.waitFor("the login error", fmt.Sprintf(`document.querySelector(%q)?.textContent.trim()`, selLoginError), waitTimeout).(string)
	if msg == "" {
		t.Fatal("a wrong password shows no error text")
	}
	if tb.count(selApp) != 0 {
		t.Fatal("a wrong password opened the app")
	}

	tb.clear(selLoginPassword)
	tb.typeInto(selLoginPassword, userPassword)
	tb.click(selLoginSubmit)
	tb.waitFor("the app shell", fmt.Sprintf(`!!document.querySelector('%s[data-user-id]')`, selApp), waitTimeout)
	if got := tb.attr(selApp, "data-user-id"); got != agent.id {
		t.Fatalf("the app shell's data-user-id is %q, want the agent's %q", got, agent.id)
	}
	if got := tb.attr(selApp, "data-user-role"); got != "agent" {
		t.Fatalf("the app shell's data-user-role is %q, want agent", got)
	}
	tb.waitConnected()
	if tb.count(`[data-test=nav-inbox]`) != 1 {
		t.Fatal("an agent has no inbox link")
	}
	for _, nav := range []string{"nav-agents", "nav-dead-letters", "nav-users", "nav-audit"} {
		if n := tb.count(`[data-test=` + nav + `]`); n != 0 {
			t.Fatalf("an agent sees the %s link", nav)
		}
	}
	if tb.count(selLoginForm) != 0 {
		t.Fatal("the login form is still shown after logging in")
	}
	// Tokens live in memory only: nothing of the session is stored.
	tok := tb.accessToken()
	if tok == "" {
		t.Fatal("no API request of the console carried a bearer token")
	}
	stored, _ := tb.eval(`JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie`).(string)
	if strings.Contains(stored, tok) {
		t.Fatalf("the console keeps its session in web storage or cookies: %s", stored)
	}
}
