//go:build browser

package e2e

import (
	"fmt"
)

// Helpers of the supervisor and admin screens' tests (agents, dead
// letters, users, audit).

// agentRow selects the agents screen's row of user id.
func agentRow(id string) string {
	return fmt.Sprintf(`[data-test=agents-table] [data-test=agent-row][data-agent-id=%q]`, id)
}

// userRow selects the users screen's row of user id.
func userRow(id string) string {
	return fmt.Sprintf(`[data-test=users-table] [data-test=user-row][data-user-id=%q]`, id)
}

// deadLetterRow selects the dead letters screen's row of message id.
func deadLetterRow(id string) string {
	return fmt.Sprintf(`[data-test=dead-letters] [data-test=dead-letter-row][data-message-id=%q]`, id)
}

// adminUser is the engine's first admin (ADMIN_EMAIL), as login sees it.
func (e *engine) adminUser() user {
	e.t.Helper()
	u := e.login(adminEmail, adminPassword).user
	u.email = adminEmail
	return u
}

// loginAdmin signs in through the login form as the first admin and waits
// for its app shell with the socket open.
func (tb *tab) loginAdmin(admin user) {
	tb.t.Helper()
	tb.open("/")
	tb.waitFor("the login form", fmt.Sprintf(`!!document.querySelector(%q)`, selLoginForm), waitTimeout)
	tb.typeInto(selLoginEmail, adminEmail)
	tb.typeInto(selLoginPassword, adminPassword)
	tb.click(selLoginSubmit)
	tb.waitFor("the admin's app shell",
		fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-user-id') === %q`, selApp, admin.id), waitTimeout)
	tb.waitConnected()
}

// goTo clicks the navigation link nav (such as "agents" for
// [data-test=nav-agents]) and waits for the page [data-test=<page>].
func (tb *tab) goTo(nav, page string) {
	tb.t.Helper()
	tb.click(`[data-test=nav-` + nav + `]`)
	tb.waitFor("the "+page+" page", fmt.Sprintf(`!!document.querySelector('[data-test=%s]')`, page), waitTimeout)
}

// textOf is the trimmed text of the first element matching sel ("" when
// none).
func (tb *tab) textOf(sel string) string {
	tb.t.Helper()
	s, _ := tb.eval(fmt.Sprintf(`document.querySelector(%q)?.textContent.trim()`, sel)).(string)
	return s
}

// waitTextIs waits until the first element matching sel has exactly the
// text want (trimmed).
func (tb *tab) waitTextIs(what, sel, want string) {
	tb.t.Helper()
	tb.waitFor(what, fmt.Sprintf(`document.querySelector(%q)?.textContent.trim() === %q`, sel, want), waitTimeout)
}
