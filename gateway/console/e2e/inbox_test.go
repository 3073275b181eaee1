//go:build browser

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestCustomerMessageAppearsLive: with the agent's console open, a
// customer writes through the sandbox; the new conversation, assigned to
// the only online agent, appears in the list without a reload, unread,
// and its thread shows what the customer wrote.
func TestCustomerMessageAppearsLive(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Live Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)
	tb.waitFor("the conversation list", fmt.Sprintf(`!!document.querySelector(%q)`, selConvList), waitTimeout)
	loads := tb.eval(`performance.getEntriesByType('navigation').length`)

	waID := newCustomer()
	e.inject(waID, "Ravi Kumar", "Hello, is my order on its way?")
	id, assignee := e.waitConversationOf(waID, true)
	if assignee != agent.id {
		t.Fatalf("the conversation went to %q, want the only online agent %q", assignee, agent.id)
	}
	tb.waitConversation(id)
	tb.waitText(convItem(id)+` [data-test=conv-name]`, "Ravi Kumar")
	tb.waitText(convItem(id)+` [data-test=conv-unread]`, "1")
	if got := tb.attr(convItem(id), "data-assignee-id"); got != agent.id {
		t.Fatalf("the list item's data-assignee-id is %q, want %q", got, agent.id)
	}
	if got := tb.eval(`performance.getEntriesByType('navigation').length`); got != loads {
		t.Fatal("the page reloaded to show the conversation")
	}
	tb.screenshot("inbox")

	tb.openConversation(id)
	m := tb.waitMessage("inbound", "Hello, is my order on its way?")
	if m["status"] != "received" {
		t.Fatalf("the inbound message's data-status is %v, want received", m["status"])
	}
	tb.waitText(`[data-test=customer-panel] [data-test=customer-name]`, "Ravi Kumar")
	tb.waitText(`[data-test=customer-panel] [data-test=customer-phone]`, waID[len(waID)-4:])
}

// TestReplyReachesTheSandboxAndItsTicksGoToRead: the agent answers in the
// thread with Enter; the sandbox receives the text, and the message's
// ticks follow the sandbox's statuses up to read without a reload.
func TestReplyReachesTheSandboxAndItsTicksGoToRead(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Reply Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	waID := newCustomer()
	e.inject(waID, "Meera Shah", "Can I change the delivery address?")
	id, _ := e.waitConversationOf(waID, true)
	tb.openConversation(id)
	tb.waitMessage("inbound", "Can I change the delivery address?")
	if got := tb.attr(selWindow, "data-open"); got != "true" {
		t.Fatalf("the window indicator's data-open is %q inside the window", got)
	}

	reply := "Yes, send me the new address please."
	tb.typeInto(selReplyInput, reply)
	tb.pressEnter()
	m := tb.waitMessage("outbound", reply)
	eventually(t, "the reply at the sandbox", waitTimeout, func() bool {
		for _, s := range e.sent(waID) {
			var body struct {
				Text struct {
					Body string `json:"body"`
				} `json:"text"`
			}
			if s.Type == "text" && json.Unmarshal(s.Body, &body) == nil && body.Text.Body == reply {
				return true
			}
		}
		return false
	})
	sel := fmt.Sprintf(`%s %s[data-message-id=%q]`, selThread, selMessage, m["id"])
	tb.waitFor("the reply's ticks at read", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-status') === 'read'`, sel), waitTimeout)
	if tb.count(sel+` [data-test=message-ticks]`) != 1 {
		t.Fatal("the outbound message has no ticks")
	}
	if v, _ := tb.eval(fmt.Sprintf(`document.querySelector(%q).value`, selReplyInput)).(string); v != "" {
		t.Fatalf("the reply box still holds %q after sending", v)
	}
	// A thread reads in time order: the question, then the answer.
	if got := tb.threadTexts(); len(got) != 2 || got[0] != "Can I change the delivery address?" || got[1] != reply {
		t.Fatalf("the thread shows %q, want the question then the reply", got)
	}
	tb.screenshot("thread")
	// The same thread on a phone's screen.
	tb.do("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	tb.waitFor("the reply box in view on a phone", fmt.Sprintf(`(() => { const r = document.querySelector(%q)?.getBoundingClientRect();
		return r && r.width > 0 && r.bottom <= innerHeight && r.top >= 0; })()`, selReplyInput), waitTimeout)
	tb.screenshot("thread-phone")
}

// TestAfterTheWindowOnlyTemplatesCanBeSent: with a 30-second service
// window, the thread offers a free-form reply while the window is open;
// when it ends the reply box goes away and only the template picker is
// left, with one field per body parameter, and a template sent from it
// reaches the sandbox.
func TestAfterTheWindowOnlyTemplatesCanBeSent(t *testing.T) {
	b := newBrowser(t)
	const window = "30s"
	e := startEngine(t, map[string]string{"WHATSAPP_SERVICE_WINDOW": window, "WINDOW_WARNING": "10s"})
	agent := e.newUser("agent", "Window Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	waID := newCustomer()
	e.inject(waID, "Kiran Rao", "Please call me back tomorrow")
	id, _ := e.waitConversationOf(waID, true)
	tb.openConversation(id)
	tb.waitMessage("inbound", "Please call me back tomorrow")
	if tb.count(selReplyInput) != 1 {
		t.Fatal("no reply box inside the window")
	}
	if got := tb.attr(selWindow, "data-open"); got != "true" {
		t.Fatalf("the window indicator's data-open is %q inside the window", got)
	}

	// The window ends 30 s after the customer's message: bounded wait.
	tb.waitFor("the window closed", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-open') === 'false'`, selWindow), time.Minute)
	tb.waitFor("the template picker instead of the reply box",
		fmt.Sprintf(`!!document.querySelector(%q) && !document.querySelector(%q)`, selTemplatePick, selReplyInput), waitTimeout)
	if got := tb.attr(selThread, "data-state"); got != "expired" {
		t.Fatalf("the thread's data-state is %q after the window, want expired", got)
	}

	// order_update has one body parameter ({{1}}); the picker loads the
	// approved templates first.
	value, _ := tb.waitFor("order_update offered by the template picker",
		fmt.Sprintf(`[...(document.querySelector(%q)?.options || [])].find(o => o.value && (o.value + ' ' + o.textContent).includes('order_update'))?.value`, selTemplateSel), waitTimeout).(string)
	tb.choose(selTemplateSel, value)
	tb.waitFor("one parameter field for order_update", fmt.Sprintf(`document.querySelectorAll(%q).length === 1`, selTemplateParam), waitTimeout)
	tb.typeInto(selTemplateParam, "ORD-4417")
	tb.screenshot("template-picker")
	tb.click(selTemplateSend)

	eventually(t, "the template at the sandbox", waitTimeout, func() bool {
		for _, s := range e.sent(waID) {
			if s.Type == "template" && strings.Contains(string(s.Body), "order_update") && strings.Contains(string(s.Body), "ORD-4417") {
				return true
			}
		}
		return false
	})
	tb.waitFor("the template in the thread", fmt.Sprintf(`document.querySelectorAll('%s %s[data-direction=outbound]').length >= 1`, selThread, selMessage), waitTimeout)
	if tb.count(selReplyInput) != 0 {
		t.Fatal("a reply box came back after the template, outside the window")
	}
}

// TestCustomerPhotoShowsInTheThread: a customer sends a photo with a
// caption through the sandbox; once the engine fetched it, the thread
// shows the picture itself (read with the agent's token into a blob: URL,
// which the CSP allows) with its caption, and no CSP violation.
func TestCustomerPhotoShowsInTheThread(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Photo Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	waID := newCustomer()
	e.injectMessage(map[string]any{"from": waID, "name": "Imran Ali", "type": "image",
		"image": map[string]any{"mime_type": "image/jpeg", "caption": "the box as it arrived"}})
	id, _ := e.waitConversationOf(waID, true)
	tb.openConversation(id)
	tb.waitMessage("inbound", "the box as it arrived")
	src, _ := tb.waitFor("the photo drawn in the thread", fmt.Sprintf(`(() => {
		const i = document.querySelector('%s %s[data-direction=inbound] [data-test=message-media] img');
		return i && i.complete && i.naturalWidth > 0 && i.getAttribute('src');
	})()`, selThread, selMessage), waitTimeout).(string)
	if !strings.HasPrefix(src, "blob:") {
		t.Fatalf("the photo's src is %q, want a blob: URL read with the token", src)
	}
	if v := tb.cspViolations(); len(v) != 0 {
		t.Fatalf("CSP violations: %v", v)
	}
	tb.screenshot("photo")
}

// TestKeyboardMovesThroughConversationsAndOpensOne: with two conversations
// listed, j and k move the selection from one to the other, and Enter
// opens the selected one's thread.
func TestKeyboardMovesThroughConversationsAndOpensOne(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Keys Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	var ids []string
	for i, name := range []string{"Uma Nair", "Vikram Sethi"} {
		waID := newCustomer()
		e.inject(waID, name, fmt.Sprintf("question %d", i+1))
		id, _ := e.waitConversationOf(waID, true)
		tb.waitConversation(id)
		ids = append(ids, id)
	}
	selected := func() string {
		return tb.attr(selConvItem+`[aria-selected=true]`, "data-conversation-id")
	}
	tb.eval(`document.activeElement && document.activeElement.blur()`)
	start := tb.waitFor("a selected conversation", fmt.Sprintf(`document.querySelector('%s[aria-selected=true]')?.getAttribute('data-conversation-id')`, selConvItem), waitTimeout)
	// Going down from the first or up from the last moves to the other one.
	key, other := "j", ids[0]
	if start == ids[0] {
		other = ids[1]
	}
	if tb.eval(fmt.Sprintf(`document.querySelector(%q) === document.querySelector(%q)`, selConvItem, convItem(start.(string)))) != true {
		key = "k"
	}
	tb.do("press "+key, chromedp.KeyEvent(key))
	tb.waitFor("the selection moved by "+key, fmt.Sprintf(`document.querySelector('%s[aria-selected=true]')?.getAttribute('data-conversation-id') === %q`, selConvItem, other), waitTimeout)
	tb.pressEnter()
	tb.waitFor("Enter to open the selected thread", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-conversation-id') === %q`, selThread, other), waitTimeout)
	if got := selected(); got != other {
		t.Fatalf("after opening, the selected conversation is %q, want %q", got, other)
	}
}
