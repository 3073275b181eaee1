//go:build browser

package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestFailedSendShowsItsReasonARetryAndANotification: a reply to a
// customer WhatsApp cannot reach (the sandbox fails every message to a
// number ending in 0001 with 131026, after accepting it) turns failed in
// the thread with its reason and a retry; the agent is notified (badge and
// a message.failed item); the retry sends the text again.
func TestFailedSendShowsItsReasonARetryAndANotification(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Retry Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	waID := fmt.Sprintf("9190%04d0001", time.Now().UnixNano()%10000)
	e.inject(waID, "Gopal Menon", "Are you there?")
	id, _ := e.waitConversationOf(waID, true)
	tb.openConversation(id)
	tb.waitMessage("inbound", "Are you there?")

	const reply = "Yes, we are here to help."
	tb.typeInto(selReplyInput, reply)
	tb.pressEnter()
	m := tb.waitMessage("outbound", reply)
	sel := fmt.Sprintf(`%s %s[data-message-id=%q]`, selThread, selMessage, m["id"])
	tb.waitFor("the reply failed", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-status') === 'failed'`, sel), waitTimeout)
	reason, _ := tb.waitFor("the failure's reason", fmt.Sprintf(`document.querySelector(%q)?.textContent.trim()`, sel+` [data-test=message-error]`), waitTimeout).(string)
	t.Logf("the failure shows: %q", reason)
	tb.waitFor("the notification badge", `(() => { const b = document.querySelector('[data-test=notif-badge]'); return b && !b.hidden && Number(b.textContent) >= 1; })()`, waitTimeout)
	tb.click(`[data-test=notif-toggle]`)
	tb.waitFor("a message.failed notification", `!!document.querySelector('[data-test=notif-list] [data-test=notif-item][data-kind="message.failed"]')`, waitTimeout)
	tb.screenshot("send-failed")
	tb.click(`[data-test=notif-toggle]`)

	sends := func() int {
		n := 0
		for _, s := range e.sent(waID) {
			var body struct {
				Text struct {
					Body string `json:"body"`
				} `json:"text"`
			}
			if s.Type == "text" && json.Unmarshal(s.Body, &body) == nil && body.Text.Body == reply {
				n++
			}
		}
		return n
	}
	if n := sends(); n != 1 {
		t.Fatalf("the sandbox got the reply %d times before the retry, want 1", n)
	}
	tb.clickUntil(sel+` [data-test=message-retry]`, "the retry taken", fmt.Sprintf(`!document.querySelector(%q)`, sel+` [data-test=message-retry]:not([disabled])`))
	eventually(t, "the retried reply at the sandbox", waitTimeout, func() bool { return sends() == 2 })
}
