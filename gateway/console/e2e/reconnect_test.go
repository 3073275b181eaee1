//go:build browser

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestCutSocketCatchesUpOnWhatWasSentMeanwhile: the network between the
// console and the engine drops (the proxy closes every connection and
// refuses new ones); the console says it is not connected; meanwhile the
// open conversation's customer writes again and a new customer writes for
// the first time; when the network is back the console reconnects by
// itself and shows both without a reload.
func TestCutSocketCatchesUpOnWhatWasSentMeanwhile(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Steady Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)
	loads := tb.eval(`performance.getEntriesByType('navigation').length`)

	first := newCustomer()
	e.inject(first, "Deepa Iyer", "First question before the outage")
	id, _ := e.waitConversationOf(first, true)
	tb.openConversation(id)
	tb.waitMessage("inbound", "First question before the outage")

	e.proxy.cut()
	tb.waitFor("the console to show the socket lost",
		fmt.Sprintf(`['connecting', 'closed'].includes(document.querySelector(%q)?.getAttribute('data-state'))`, selConnection), waitTimeout)

	e.inject(first, "Deepa Iyer", "Second question during the outage")
	second := newCustomer()
	e.inject(second, "Tarun Das", "A new customer during the outage")
	// Both are in the engine before the network comes back: the console
	// can only learn of them by catching up.
	eventually(t, "the second message stored", waitTimeout, func() bool {
		data := e.must(200, "GET", "/api/whatsapp/conversations/"+id+"/messages?limit=10", e.admin, nil)
		raw, _ := json.Marshal(data["items"])
		return strings.Contains(string(raw), "Second question during the outage")
	})
	secondID, _ := e.waitConversationOf(second, false)
	if tb.count(convItem(secondID)) != 0 {
		t.Fatal("the console showed the new conversation while its network was down")
	}

	e.proxy.restore()
	tb.waitConnected()
	// The agent is back online: the engine gives it the conversation that
	// waited for an agent, and the console must show that too.
	eventually(t, "the waiting conversation assigned to the reconnected agent", waitTimeout, func() bool {
		_, a := e.conversationOf(second)
		return a == agent.id
	})
	tb.waitMessage("inbound", "Second question during the outage")
	if got := tb.threadTexts(); len(got) != 2 || got[0] != "First question before the outage" {
		t.Fatalf("after catching up the thread shows %q, want the first question then the second, once each", got)
	}
	tb.waitConversation(secondID)
	tb.waitText(convItem(secondID)+` [data-test=conv-name]`, "Tarun Das")
	if got := tb.eval(`performance.getEntriesByType('navigation').length`); got != loads {
		t.Fatal("the page reloaded to catch up")
	}
	tb.screenshot("reconnected")
}
