//go:build browser

package e2e

import (
	"fmt"
	"testing"
)

// TestSupervisorReassignsAndBothAgentsScreensFollow: two agents and a
// supervisor have the console open; a customer's conversation goes to one
// agent; the supervisor reassigns it to the other from the thread, and
// without a reload the first agent's list loses it and the second's gains
// it.
func TestSupervisorReassignsAndBothAgentsScreensFollow(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agents := map[string]user{}
	tabs := map[string]*tab{}
	for _, name := range []string{"Anil Agent", "Bela Agent"} {
		u := e.newUser("agent", name)
		agents[u.id] = u
		tabs[u.id] = b.newTab(name, e.consoleURL)
		tabs[u.id].login(u)
	}
	sup := e.newUser("supervisor", "Sara Supervisor")
	st := b.newTab("supervisor", e.consoleURL)
	st.login(sup)
	if got := st.attr(selApp, "data-user-role"); got != "supervisor" {
		t.Fatalf("the supervisor's app shell says role %q", got)
	}

	waID := newCustomer()
	e.inject(waID, "Farah Khan", "My parcel arrived damaged")
	id, from := e.waitConversationOf(waID, true)
	var to string
	for aid := range agents {
		if aid != from {
			to = aid
		}
	}
	if _, ok := agents[from]; !ok || to == "" {
		t.Fatalf("the conversation went to %q, not to one of the two online agents", from)
	}
	tabs[from].waitConversation(id)

	st.click(`[data-test=tab-all]`)
	st.openConversation(id)
	st.choose(selAssignSelect, to)
	st.click(`[data-test=assign-apply]`)

	eventually(t, "the engine to record the reassignment", waitTimeout, func() bool {
		_, a := e.conversationOf(waID)
		return a == to
	})
	tabs[to].waitFor("the conversation in the new assignee's list",
		fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-assignee-id') === %q`, convItem(id), to), waitTimeout)
	tabs[from].waitFor("the conversation gone from the first agent's list",
		fmt.Sprintf(`!document.querySelector(%q)`, convItem(id)), waitTimeout)
	st.waitFor("the supervisor's list showing the new assignee",
		fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-assignee-id') === %q`, convItem(id), to), waitTimeout)
	st.screenshot("supervisor-reassign")
	tabs[to].screenshot("reassigned-agent")
}
