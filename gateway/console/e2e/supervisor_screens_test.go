//go:build browser

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSupervisorSeesAgentsPresenceAndLoadAndReassigns: one agent has the
// console open, another has not; a customer's conversation is the first
// agent's. The supervisor's agents screen shows the first online with one
// open conversation and the second offline with none; the supervisor
// reassigns the conversation to the second from that screen, and the
// counts follow (0 and 1), as do the engine and the first agent's list.
func TestSupervisorSeesAgentsPresenceAndLoadAndReassigns(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	online := e.newUser("agent", "Omar Online")
	offline := e.newUser("agent", "Olga Offline")
	ot := b.newTab("online agent", e.consoleURL)
	ot.login(online)

	waID := newCustomer()
	e.inject(waID, "Kiran Rao", "I need to change my address")
	id, assignee := e.waitConversationOf(waID, true)
	if assignee != online.id {
		// The router may pick another online user; the test needs the
		// conversation on the online agent to start from.
		e.must(200, "POST", "/api/whatsapp/conversations/"+id+"/assign", e.adminToken(), map[string]string{"agentId": online.id})
	}
	ot.waitConversation(id)

	sup := e.newUser("supervisor", "Sunita Supervisor")
	st := b.newTab("supervisor", e.consoleURL)
	st.login(sup)
	st.goTo("agents", "agents")
	st.waitFor("the online agent online with one open conversation", fmt.Sprintf(`(() => {
		const r = document.querySelector(%q);
		return r && r.getAttribute('data-presence') === 'online' && r.querySelector('[data-test=agent-load]').textContent.trim() === '1';
	})()`, agentRow(online.id)), waitTimeout)
	st.waitFor("the other agent offline with no open conversation", fmt.Sprintf(`(() => {
		const r = document.querySelector(%q);
		return r && r.getAttribute('data-presence') === 'offline' && r.querySelector('[data-test=agent-load]').textContent.trim() === '0';
	})()`, agentRow(offline.id)), waitTimeout)
	if got := st.attr(agentRow(sup.id), "data-presence"); got != "online" {
		t.Fatalf("the supervisor, console open, is %q on the agents screen", got)
	}
	st.screenshot("agents")

	st.click(agentRow(online.id) + ` [data-test=agent-reassign]`)
	st.waitFor("the reassign panel for the online agent",
		fmt.Sprintf(`(() => { const p = document.querySelector('[data-test=reassign-panel]'); return p && !p.hidden && p.getAttribute('data-agent-id') === %q; })()`, online.id), waitTimeout)
	st.choose(`select[data-test=reassign-conversation]`, id)
	st.choose(`select[data-test=reassign-target]`, offline.id)
	st.waitFor("the assign button enabled", `document.querySelector('[data-test=reassign-apply]')?.disabled === false`, waitTimeout)
	st.click(`[data-test=reassign-apply]`)
	st.waitFor("the reassignment's success", `document.querySelector('[data-test=reassign-result]')?.getAttribute('data-outcome') === 'success'`, waitTimeout)

	eventually(t, "the engine to record the reassignment", waitTimeout, func() bool {
		_, a := e.conversationOf(waID)
		return a == offline.id
	})
	st.waitTextIs("the online agent's load down to 0", agentRow(online.id)+` [data-test=agent-load]`, "0")
	st.waitTextIs("the offline agent's load up to 1", agentRow(offline.id)+` [data-test=agent-load]`, "1")
	ot.waitFor("the conversation gone from the first agent's list", fmt.Sprintf(`!document.querySelector(%q)`, convItem(id)), waitTimeout)
	// The agent that lost its only conversation has nothing to reassign.
	st.waitFor("no reassign for an agent without conversations",
		fmt.Sprintf(`document.querySelector(%q)?.disabled === true`, agentRow(online.id)+` [data-test=agent-reassign]`), waitTimeout)
}

// TestSupervisorRedrivesADeadLetter: with one attempt per send
// (SEND_MAX_ATTEMPTS=1), an agent's reply to a number the sandbox refuses
// once with a pair rate limit (suffix 0006, 131056) is dead-lettered and
// turns failed in the thread. The supervisor sees it on the dead letters
// screen and re-drives it: the screen says one message was re-driven, the
// row goes away, and the message goes out and moves on to read in the
// agent's thread.
func TestSupervisorRedrivesADeadLetter(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, map[string]string{"SEND_MAX_ATTEMPTS": "1"})
	agent := e.newUser("agent", "Devi Agent")
	at := b.newTab("agent", e.consoleURL)
	at.login(agent)

	waID := fmt.Sprintf("9190%04d0006", time.Now().UnixNano()%10000)
	e.inject(waID, "Nikhil Bose", "Has my refund been processed?")
	id, _ := e.waitConversationOf(waID, true)
	if _, a := e.conversationOf(waID); a != agent.id {
		e.must(200, "POST", "/api/whatsapp/conversations/"+id+"/assign", e.adminToken(), map[string]string{"agentId": agent.id})
	}
	at.openConversation(id)
	at.waitMessage("inbound", "Has my refund been processed?")

	const reply = "Your refund went out yesterday."
	at.typeInto(selReplyInput, reply)
	at.pressEnter()
	m := at.waitMessage("outbound", reply)
	msgID, _ := m["id"].(string)
	msgSel := fmt.Sprintf(`%s %s[data-message-id=%q]`, selThread, selMessage, msgID)
	at.waitFor("the reply failed once dead-lettered", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-status') === 'failed'`, msgSel), waitTimeout)

	sup := e.newUser("supervisor", "Sameer Supervisor")
	st := b.newTab("supervisor", e.consoleURL)
	st.login(sup)
	st.goTo("dead-letters", "dead-letters")
	row := deadLetterRow(msgID)
	st.waitFor("the dead letter of the reply", fmt.Sprintf(`!!document.querySelector(%q)`, row), waitTimeout)
	if got := st.attr(row, "data-conversation-id"); got != id {
		t.Fatalf("the dead letter names conversation %q, want %q", got, id)
	}
	reason := st.textOf(row + ` [data-test=dead-letter-reason]`)
	if !strings.Contains(reason, "131056") {
		t.Fatalf("the dead letter's reason %q does not name Meta's 131056", reason)
	}
	st.screenshot("dead-letters")

	st.click(row + ` [data-test=dead-letter-redrive]`)
	st.waitFor("one message re-driven", `document.querySelector('[data-test=dead-letter-result]')?.getAttribute('data-redriven') === '1'`, waitTimeout)
	st.waitFor("the row gone", fmt.Sprintf(`!document.querySelector(%q)`, row), waitTimeout)
	st.waitFor("the empty dead letters list", `document.querySelector('[data-test=dead-letters-empty]')?.hidden === false`, waitTimeout)

	// The re-driven send waits out the pair's pause (about 6 s), then goes
	// out; the sandbox reports sent, delivered and read.
	eventually(t, "the re-driven reply at the sandbox", 40*time.Second, func() bool {
		for _, s := range e.sent(waID) {
			var body struct {
				Text struct {
					Body string `json:"body"`
				} `json:"text"`
			}
			if json.Unmarshal(s.Body, &body) == nil && body.Text.Body == reply {
				return true
			}
		}
		return false
	})
	at.waitFor("the re-driven reply read in the agent's thread",
		fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-status') === 'read'`, msgSel), 40*time.Second)
	if n := at.count(msgSel + ` [data-test=message-error]`); n != 0 {
		t.Fatalf("the delivered reply still shows %d failure reasons", n)
	}
}
