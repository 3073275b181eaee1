//go:build browser

package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestMarkupInAMessageRendersAsText: a customer named and writing in HTML
// sees it shown as the characters typed: the thread and the list hold the
// text, no element of it exists, no dialog opened and the page reports no
// CSP violation (an inline handler would be one).
func TestMarkupInAMessageRendersAsText(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Safe Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	const text = `<img src=x onerror=alert(1)> <script>alert(2)</script> <b>bold</b>`
	const name = `<b>Mallory</b><img src=y onerror=alert(3)>`
	waID := newCustomer()
	e.inject(waID, name, text)
	id, _ := e.waitConversationOf(waID, true)
	tb.waitConversation(id)
	tb.waitText(convItem(id)+` [data-test=conv-name]`, name)
	tb.openConversation(id)
	m := tb.waitMessage("inbound", text)
	if m["text"] != text {
		t.Fatalf("the message shows %q, want exactly the characters written %q", m["text"], text)
	}
	tb.waitText(`[data-test=customer-name]`, name)
	for _, sel := range []string{selThread, selConvList, `[data-test=customer-panel]`} {
		for _, tag := range []string{"img", "script", "b"} {
			if n := tb.count(sel + " " + tag); n != 0 {
				t.Fatalf("%d <%s> element(s) in %s: the customer's markup was rendered", n, tag, sel)
			}
		}
	}
	if d := tb.dialogsOpened(); len(d) != 0 {
		t.Fatalf("the customer's markup opened dialogs: %v", d)
	}
	if v := tb.cspViolations(); len(v) != 0 {
		t.Fatalf("CSP violations: %v", v)
	}
	tb.screenshot("markup-as-text")
}

// TestConsoleLoadsWithZeroCSPViolations: the console's page carries the
// strict policy, and a supervisor going through the inbox, a thread and
// every view of the navigation causes no CSP violation and no uncaught
// exception.
func TestConsoleLoadsWithZeroCSPViolations(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	sup := e.newUser("supervisor", "Policy Supervisor")
	tb := b.newTab("supervisor", e.consoleURL)

	res := tb.open("/")
	header := func(name string) string {
		for k, v := range res.Headers {
			if strings.EqualFold(k, name) {
				s, _ := v.(string)
				return s
			}
		}
		return ""
	}
	csp := header("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Fatalf("the console's Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(csp, bad) {
			t.Fatalf("the console's Content-Security-Policy %q allows %q", csp, bad)
		}
	}
	if got := header("X-Content-Type-Options"); got != "nosniff" {
		t.Fatalf("X-Content-Type-Options is %q", got)
	}

	tb.login(sup)
	waID := newCustomer()
	e.inject(waID, "Policy Customer", "checking the policy")
	id, _ := e.waitConversationOf(waID, false)
	tb.click(`[data-test=tab-all]`)
	tb.openConversation(id)
	tb.waitMessage("inbound", "checking the policy")
	for _, nav := range []string{"nav-agents", "nav-dead-letters", "nav-audit", "nav-inbox"} {
		sel := `[data-test=` + nav + `]`
		if tb.count(sel) == 0 {
			t.Fatalf("a supervisor has no %s link", nav)
		}
		tb.click(sel)
		route := strings.TrimPrefix(nav, "nav-")
		tb.waitFor("the "+route+" route", fmt.Sprintf(`location.hash.startsWith('#/%s')`, route), waitTimeout)
	}
	if v := tb.cspViolations(); len(v) != 0 {
		t.Fatalf("CSP violations: %v", v)
	}
	if x := tb.exceptions(); len(x) != 0 {
		t.Fatalf("uncaught exceptions: %v", x)
	}
}

// TestLogoutReturnsToLoginAndTheOldTokenIsRefused: logging out shows the
// login page again, and the access token the console held is refused by
// the API from then on.
func TestLogoutReturnsToLoginAndTheOldTokenIsRefused(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Leaving Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)
	tok := tb.accessToken()
	if tok == "" {
		t.Fatal("no API request of the console carried a bearer token")
	}
	if st, body := e.api("GET", "/api/auth/me", tok, nil); st != 200 {
		t.Fatalf("the console's token is refused before logout: %d %v", st, body)
	}

	tb.click(selLogout)
	tb.waitFor("the login form after logout", fmt.Sprintf(`!!document.querySelector(%q) && !document.querySelector(%q)`, selLoginForm, selApp), waitTimeout)
	tb.waitFor("the login route", `location.hash === '#/login'`, waitTimeout)
	eventually(t, "the old token refused", waitTimeout, func() bool {
		st, _ := e.api("GET", "/api/auth/me", tok, nil)
		return st == 401
	})
	tb.screenshot("logged-out")
}
