//go:build browser

package e2e

import (
	"fmt"
	"net/url"
	"testing"
)

// TestAdminChangesARoleAndDisablesAUser: the admin's users screen lists
// the users; the admin makes an agent a supervisor (the API then reports
// the new role) and disables another agent, who can then no longer log in:
// the login page shows the API's refusal.
func TestAdminChangesARoleAndDisablesAUser(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	admin := e.adminUser()
	promoted := e.newUser("agent", "Priya Promoted")
	leaver := e.newUser("agent", "Lalit Leaver")
	at := b.newTab("admin", e.consoleURL)
	at.loginAdmin(admin)
	at.goTo("users", "users")
	for _, u := range []user{admin, promoted, leaver} {
		at.waitFor("the users row of "+u.email, fmt.Sprintf(`document.querySelector(%q)?.querySelector('[data-test=user-email]')?.textContent === %q`, userRow(u.id), u.email), waitTimeout)
	}
	if got := at.attr(userRow(promoted.id), "data-role"); got != "agent" {
		t.Fatalf("the users screen shows the agent with role %q", got)
	}
	// The admin's own role and account are left to another admin.
	if at.eval(fmt.Sprintf(`document.querySelector(%q).disabled`, userRow(admin.id)+` select[data-test=user-role]`)) != true {
		t.Fatal("the admin can change its own role on the users screen")
	}

	at.choose(userRow(promoted.id)+` select[data-test=user-role]`, "supervisor")
	at.waitFor("the row's role supervisor", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-role') === 'supervisor'`, userRow(promoted.id)), waitTimeout)
	list := e.must(200, "GET", "/api/users?search="+url.QueryEscape(promoted.email), e.adminToken(), nil)
	items, _ := list["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("GET /api/users?search=%s lists %d users", promoted.email, len(items))
	}
	if got := str(items[0].(map[string]any)["role"]); got != "supervisor" {
		t.Fatalf("the API reports the promoted user's role as %q, want supervisor", got)
	}
	if got := e.login(promoted.email, userPassword).user.role; got != "supervisor" {
		t.Fatalf("the promoted user logs in as %q, want supervisor", got)
	}

	disable := userRow(leaver.id) + ` [data-test=user-disable]`
	if got := at.attr(disable, "data-action"); got != "disable" {
		t.Fatalf("the active user's button offers %q, want disable", got)
	}
	at.click(disable)
	at.waitFor("the row disabled", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-disabled') === 'true'`, userRow(leaver.id)), waitTimeout)
	if got := at.attr(disable, "data-action"); got != "enable" {
		t.Fatalf("the disabled user's button offers %q, want enable", got)
	}
	at.screenshot("users")

	st, out := e.api("POST", "/api/auth/login", "", map[string]string{"email": leaver.email, "password": userPassword})
	if st != 401 {
		t.Fatalf("the disabled user's login through the API: %d %v, want 401", st, out)
	}
	if got := str(out["code"]); got != "ACCOUNT_DISABLED" {
		t.Fatalf("the disabled user's login is refused with %q, want ACCOUNT_DISABLED: %v", got, out)
	}
	refusal := str(out["message"])
	if refusal == "" {
		t.Fatalf("the API's refusal carries no message: %v", out)
	}

	lt := b.newTab("disabled user", e.consoleURL)
	lt.open("/")
	lt.waitFor("the login form", fmt.Sprintf(`!!document.querySelector(%q)`, selLoginForm), waitTimeout)
	lt.typeInto(selLoginEmail, leaver.email)
	lt.typeInto(selLoginPassword, userPassword)
	lt.click(selLoginSubmit)
	lt.waitFor("the API's refusal on the login page",
		fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && !e.hidden && e.textContent.includes(%q); })()`, selLoginError, refusal), waitTimeout)
	if lt.count(selApp) != 0 {
		t.Fatal("a disabled user's login opened the app")
	}
}

// TestAdminFiltersTheAuditLogByAction: after logins, a role change and a
// send, the admin's audit screen lists several kinds of action; filtered
// by messages.send, then by auth.login, it lists only those rows, as many
// as the API counts.
func TestAdminFiltersTheAuditLogByAction(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	admin := e.adminUser()
	agent := e.newUser("agent", "Audit Agent")
	e.newUser("supervisor", "Audit Supervisor") // a users.role_change
	e.login(agent.email, userPassword)
	waID := newCustomer()
	e.inject(waID, "Meera Das", "Hello?")
	e.waitConversationOf(waID, false)
	e.must(202, "POST", "/api/whatsapp/messages", e.adminToken(), map[string]any{
		"to": "+" + waID, "type": "text", "text": map[string]string{"body": "Hello Meera, how can we help?"},
	})

	at := b.newTab("admin", e.consoleURL)
	at.loginAdmin(admin)
	at.goTo("audit", "audit")
	at.waitFor("several kinds of action in the unfiltered log",
		`new Set([...document.querySelectorAll('[data-test=audit-table] [data-test=audit-row]')].map(r => r.getAttribute('data-action'))).size >= 3`, waitTimeout)

	for _, action := range []string{"messages.send", "auth.login"} {
		data := e.must(200, "GET", "/api/audit?limit=50&action="+url.QueryEscape(action), e.adminToken(), nil)
		items, _ := data["items"].([]any)
		if len(items) == 0 {
			t.Fatalf("the API lists no %s audit record", action)
		}
		at.clear(`input[data-test=audit-action]`)
		at.typeInto(`input[data-test=audit-action]`, action)
		at.click(`[data-test=audit-apply]`)
		at.waitFor("only "+action+" rows", fmt.Sprintf(`(() => {
			const rows = [...document.querySelectorAll('[data-test=audit-table] [data-test=audit-row]')];
			return rows.length === %d && rows.every(r => r.getAttribute('data-action') === %q);
		})()`, len(items), action), waitTimeout)
		if action == "messages.send" {
			at.screenshot("audit")
		}
	}
	if at.count(`[data-test=audit-table] [data-test=audit-row][data-actor-id=`+fmt.Sprintf("%q", admin.id)+`]`) == 0 {
		t.Fatal("none of the auth.login rows is the admin's")
	}
}

// TestUserNamedWithMarkupShowsAsText: a user whose name is
// <img src=x onerror=alert(1)> is shown as that text on the users and the
// agents screens: no img element, no dialog.
func TestUserNamedWithMarkupShowsAsText(t *testing.T) {
	const markup = `<img src=x onerror=alert(1)>`
	b := newBrowser(t)
	e := startEngine(t, nil)
	admin := e.adminUser()
	u := e.newUser("agent", markup)
	at := b.newTab("admin", e.consoleURL)
	at.loginAdmin(admin)

	at.goTo("users", "users")
	at.waitTextIs("the markup as the user's name", userRow(u.id)+` [data-test=user-name]`, markup)
	at.goTo("agents", "agents")
	at.waitTextIs("the markup as the agent's name", agentRow(u.id)+` [data-test=agent-name]`, markup)
	if n := at.count(`img`); n != 0 {
		t.Fatalf("the agents screen holds %d img elements", n)
	}
	at.goTo("users", "users")
	at.waitTextIs("the markup as the user's name again", userRow(u.id)+` [data-test=user-name]`, markup)
	if n := at.count(`img`); n != 0 {
		t.Fatalf("the users screen holds %d img elements", n)
	}
	if d := at.dialogsOpened(); len(d) != 0 {
		t.Fatalf("the page opened dialogs: %v", d)
	}
	if ex := at.exceptions(); len(ex) != 0 {
		t.Fatalf("the page threw: %v", ex)
	}
}
