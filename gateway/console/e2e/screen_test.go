//go:build browser

package e2e

import (
	"fmt"
)

// What the tests select by: the console's DOM contract (data-test
// attributes), kept in one place.
const (
	selLoginForm     = `[data-test=login-form]`
	selLoginEmail    = `input[data-test=login-email]`
	selLoginPassword = `input[data-test=login-password]`
	selLoginSubmit   = `[data-test=login-submit]`
	selLoginError    = `[data-test=login-error]`
	selApp           = `[data-test=app]`
	selLogout        = `[data-test=logout]`
	selConnection    = `[data-test=connection]`
	selConvList      = `[data-test=conv-list]`
	selConvItem      = `[data-test=conv-item]`
	selThread        = `[data-test=thread]`
	selMessage       = `[data-test=message]`
	selReplyInput    = `textarea[data-test=reply-input]`
	selWindow        = `[data-test=window-remaining]`
	selTemplatePick  = `[data-test=template-picker]`
	selTemplateSel   = `select[data-test=template-select]`
	selTemplateParam = `input[data-test=template-param]`
	selTemplateSend  = `[data-test=template-send]`
	selAssignSelect  = `select[data-test=assign-select]`
	selAssignApply   = `[data-test=assign-apply]`
)

// convItem selects the list item of conversation id.
func convItem(id string) string {
	return fmt.Sprintf(`%s[data-conversation-id=%q]`, selConvItem, id)
}

// login signs in through the login form as email and waits for the app
// shell of that user with its socket open.
func (tb *tab) login(u user) {
	tb.t.Helper()
	tb.open("/")
	tb.waitFor("the login form", fmt.Sprintf(`!!document.querySelector(%q)`, selLoginForm), waitTimeout)
	tb.typeInto(selLoginEmail, u.email)
	tb.typeInto(selLoginPassword, userPassword)
	tb.click(selLoginSubmit)
	tb.waitFor("the app shell of "+u.email,
		fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-user-id') === %q`, selApp, u.id), waitTimeout)
	tb.waitConnected()
}

// waitConnected waits until the console says its socket is open.
func (tb *tab) waitConnected() {
	tb.t.Helper()
	tb.waitFor("the socket open", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-state') === 'open'`, selConnection), waitTimeout)
}

// waitConversation waits for conversation id in the list.
func (tb *tab) waitConversation(id string) {
	tb.t.Helper()
	tb.waitFor("conversation "+id+" in the list", fmt.Sprintf(`!!document.querySelector(%q)`, convItem(id)), waitTimeout)
}

// openConversation clicks conversation id in the list and waits for its
// thread. The list is re-drawn whenever the socket brings news, so a click
// can land on an item just replaced: it is clicked again until the thread
// opens, within waitTimeout.
func (tb *tab) openConversation(id string) {
	tb.t.Helper()
	tb.waitConversation(id)
	tb.clickUntil(convItem(id), "the thread of "+id,
		fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-conversation-id') === %q`, selThread, id))
}

// waitMessage waits for a message of direction (inbound or outbound) in
// the open thread whose text contains text, and returns its attributes.
func (tb *tab) waitMessage(direction, text string) map[string]any {
	tb.t.Helper()
	v := tb.waitFor(fmt.Sprintf("a %s message %q in the thread", direction, text), fmt.Sprintf(`(() => {
		const m = [...document.querySelectorAll('%s %s[data-direction=%s]')].find(m => m.querySelector('[data-test=message-text]')?.textContent.includes(%q));
		return m && { id: m.getAttribute('data-message-id'), wamid: m.getAttribute('data-wamid'), status: m.getAttribute('data-status'),
			text: m.querySelector('[data-test=message-text]').textContent };
	})()`, selThread, selMessage, direction, text), waitTimeout)
	m, _ := v.(map[string]any)
	return m
}

// threadTexts lists the open thread's message texts, top to bottom.
func (tb *tab) threadTexts() []string {
	tb.t.Helper()
	list, _ := tb.eval(fmt.Sprintf(`[...document.querySelectorAll('%s %s [data-test=message-text]')].map(e => e.textContent)`, selThread, selMessage)).([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// waitConversationOf waits until the engine has a conversation for the
// customer waID (the sandbox's webhook is in) and returns its id and
// assignee; with assigned, until it has an assignee too.
func (e *engine) waitConversationOf(waID string, assigned bool) (id, assignee string) {
	e.t.Helper()
	eventually(e.t, "a conversation of "+waID, waitTimeout, func() bool {
		id, assignee = e.conversationOf(waID)
		return id != "" && (!assigned || assignee != "")
	})
	return id, assignee
}
