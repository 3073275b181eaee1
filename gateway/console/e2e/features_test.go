//go:build browser

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wacc/engine/gateway/media/samples"
)

// The conversation list's tabs, state filter and search; the customer
// panel's edit form and other conversations; unassign and close from the
// thread; an attachment sent from the reply box.

const (
	selStateFilter = `select[data-test=state-filter]`
	selConvSearch  = `input[data-test=conv-search]`
	selPanel       = `[data-test=customer-panel]`
	selUnassign    = `[data-test=unassign]`
	selClose       = `[data-test=close-conversation]`
	selAttachInput = `input[data-test=attach-input]`
)

// TestSupervisorsListTabsStateFilterAndSearch: four customers write while
// no agent is online, so nothing is assigned automatically; one
// conversation is given to the supervisor, one to an agent, one stays
// unassigned and one is closed. The supervisor's tabs list exactly the
// open ones that are theirs (mine), nobody's (unassigned) and all; the
// state filter set to closed lists only the closed one; the search box
// finds a conversation by its customer's name and by part of the number.
func TestSupervisorsListTabsStateFilterAndSearch(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	// The agent never opens the console: it is offline, so the assigner
	// leaves every conversation to the test.
	agent := e.newUser("agent", "Tara Agent")
	sup := e.newUser("supervisor", "Sam Supervisor")

	type customer struct{ waID, name, conv string }
	mine := &customer{waID: newCustomer(), name: "Asha Verma"}
	agents := &customer{waID: newCustomer(), name: "Zubin Mistry"}
	nobodys := &customer{waID: newCustomer(), name: "Priya Nair"}
	closed := &customer{waID: newCustomer(), name: "Dev Malhotra"}
	all := []*customer{mine, agents, nobodys, closed}
	for _, c := range all {
		e.inject(c.waID, c.name, "Hello, this is "+c.name)
		c.conv, _ = e.waitConversationOf(c.waID, false)
	}
	e.must(200, "POST", "/api/whatsapp/conversations/"+mine.conv+"/assign", e.adminToken(), map[string]string{"agentId": sup.id})
	e.must(200, "POST", "/api/whatsapp/conversations/"+agents.conv+"/assign", e.adminToken(), map[string]string{"agentId": agent.id})
	e.must(200, "POST", "/api/whatsapp/conversations/"+closed.conv+"/close", e.adminToken(), nil)
	for _, c := range []*customer{nobodys, closed} {
		if got := str(e.conversation(c.conv)["assigneeId"]); got != "" {
			t.Fatalf("conversation %s of %s is assigned to %q with no agent online", c.conv, c.name, got)
		}
	}

	st := b.newTab("supervisor", e.consoleURL)
	st.login(sup)
	st.waitFor("the all tab selected first", `document.querySelector('[data-test=tab-all]')?.getAttribute('aria-selected') === 'true'`, waitTimeout)
	st.waitList("the open conversations under all", mine.conv, agents.conv, nobodys.conv)

	st.selectTab("mine")
	st.waitList("the supervisor's own conversation under mine", mine.conv)
	if got := st.attr(convItem(mine.conv), "data-assignee-id"); got != sup.id {
		t.Fatalf("the item under mine has data-assignee-id %q, want the supervisor %q", got, sup.id)
	}
	st.selectTab("unassigned")
	st.waitList("the unassigned conversation under unassigned", nobodys.conv)
	if got := st.attr(convItem(nobodys.conv), "data-assignee-id"); got != "" {
		t.Fatalf("the item under unassigned has data-assignee-id %q", got)
	}
	st.selectTab("all")
	st.waitList("the open conversations under all again", mine.conv, agents.conv, nobodys.conv)
	st.waitText(convItem(agents.conv)+` [data-test=conv-name]`, agents.name)

	st.choose(selStateFilter, "closed")
	st.waitList("only the closed conversation under the closed filter", closed.conv)
	if got := st.attr(convItem(closed.conv), "data-state"); got != "closed" {
		t.Fatalf("the item under the closed filter has data-state %q", got)
	}
	st.choose(selStateFilter, "open")
	st.waitList("the open conversations with the filter back to open", mine.conv, agents.conv, nobodys.conv)

	// By name: a part of one customer's name.
	st.typeInto(selConvSearch, "Zubin")
	st.waitList("the search by name finding Zubin Mistry's conversation", agents.conv)
	st.waitText(convItem(agents.conv)+` [data-test=conv-name]`, agents.name)

	// By number: six digits from the middle of one customer's number; any
	// other open conversation whose number holds them is listed too.
	part := nobodys.waID[4:10]
	var want []string
	for _, c := range all {
		if c != closed && strings.Contains(c.waID, part) {
			want = append(want, c.conv)
		}
	}
	st.clear(selConvSearch)
	st.typeInto(selConvSearch, part)
	st.waitList(fmt.Sprintf("the search by %q (part of %s) finding its conversation", part, nobodys.waID), want...)
}

// TestAgentEditsTheCustomerInThePanel: a customer's first conversation
// with the agent is closed and the customer writes again. In the new
// conversation's panel the agent sees the closed one among the customer's
// other conversations, edits the name and the tags, and the panel, the
// API and the conversation list then show the new values.
func TestAgentEditsTheCustomerInThePanel(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Panel Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	waID := newCustomer()
	e.inject(waID, "Leela Menon", "My first order came late")
	first := e.conversationOfAgent(waID, "", agent.id)
	e.must(200, "POST", "/api/whatsapp/conversations/"+first+"/close", e.adminToken(), nil)
	e.inject(waID, "Leela Menon", "And now the second one is late too")
	second := e.conversationOfAgent(waID, first, agent.id)
	customerID := str(e.conversation(second)["customerId"])
	if customerID == "" || customerID != str(e.conversation(first)["customerId"]) {
		t.Fatalf("the two conversations name customers %q and %q, want one", customerID, str(e.conversation(first)["customerId"]))
	}

	tb.openConversation(second)
	tb.waitMessage("inbound", "And now the second one is late too")
	tb.waitTextIs("the customer's name in the panel", selPanel+` [data-test=customer-name]`, "Leela Menon")
	other := fmt.Sprintf(`%s [data-test=customer-conversations] a[data-conversation-id=%q]`, selPanel, first)
	tb.waitFor("the closed conversation among the customer's other conversations",
		fmt.Sprintf(`document.querySelector(%q)?.textContent.trim().startsWith('closed')`, other), waitTimeout)
	if n := tb.count(fmt.Sprintf(`%s [data-test=customer-conversations] a[data-conversation-id=%q]`, selPanel, second)); n != 0 {
		t.Fatal("the panel lists the open conversation among the customer's other conversations")
	}

	const name = "Leela Menon-Iyer"
	tb.click(selPanel + ` [data-test=customer-edit]`)
	form := selPanel + ` [data-test=customer-form]`
	tb.waitFor("the customer form", fmt.Sprintf(`!!document.querySelector(%q)`, form), waitTimeout)
	tb.clear(form + ` input[name=name]`)
	tb.typeInto(form+` input[name=name]`, name)
	if v := tb.eval(fmt.Sprintf(`document.querySelector(%q).value`, form+` input[name=tags]`)); v != "" {
		tb.clear(form + ` input[name=tags]`)
	}
	tb.typeInto(form+` input[name=tags]`, "vip, late-delivery")
	tb.click(form + ` [data-test=customer-save]`)

	tb.waitTextIs("the new name in the panel", selPanel+` [data-test=customer-name]`, name)
	tb.waitFor("the new tags in the panel", fmt.Sprintf(
		`JSON.stringify([...document.querySelectorAll('%s [data-test=customer-tags] li')].map(e => e.textContent.trim())) === '["vip","late-delivery"]'`, selPanel), waitTimeout)
	if tb.count(form) != 0 {
		t.Fatal("the customer form is still open after saving")
	}
	c := e.must(200, "GET", "/api/customers/"+customerID, e.adminToken(), nil)
	cust, _ := c["customer"].(map[string]any)
	var tags []string
	for _, v := range asList(cust["tags"]) {
		tags = append(tags, str(v))
	}
	slices.Sort(tags)
	if str(cust["name"]) != name || !slices.Equal(tags, []string{"late-delivery", "vip"}) {
		t.Fatalf("the API reports the customer as %q with tags %q, want %q with vip and late-delivery", cust["name"], tags, name)
	}
	if got := str(cust["waId"]); got != waID {
		t.Fatalf("the edit changed the customer's number to %q, want %q", got, waID)
	}
	tb.waitTextIs("the new name in the conversation list", convItem(second)+` [data-test=conv-name]`, name)
}

// TestSupervisorUnassignsAndClosesFromTheThread: an agent's conversation
// is unassigned by the supervisor from the thread. The engine documents
// that {} unassigns and asks the assigner for the least-loaded online
// agent: with none online (a supervisor is not assigned conversations)
// it stays unassigned, in the API and on the screen; when the agent opens
// the console the assigner gives it back to them. The supervisor then
// closes it from the thread, which offers only the template picker, the
// API says closed, and the agent's list of open conversations drops it.
func TestSupervisorUnassignsAndClosesFromTheThread(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Later Agent")
	sup := e.newUser("supervisor", "Sonal Supervisor")
	st := b.newTab("supervisor", e.consoleURL)
	st.login(sup)

	waID := newCustomer()
	e.inject(waID, "Rohan Das", "Where is my invoice?")
	id, _ := e.waitConversationOf(waID, false)
	e.must(200, "POST", "/api/whatsapp/conversations/"+id+"/assign", e.adminToken(), map[string]string{"agentId": agent.id})

	st.openConversation(id)
	st.waitMessage("inbound", "Where is my invoice?")
	st.waitFor("the thread offering unassign", fmt.Sprintf(`!!document.querySelector(%q)`, selUnassign), waitTimeout)
	st.click(selUnassign)
	st.waitFor("the list item without an assignee",
		fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-assignee-id') === ''`, convItem(id)), waitTimeout)
	st.waitFor("no unassign for an unassigned conversation", fmt.Sprintf(`!document.querySelector(%q)`, selUnassign), waitTimeout)
	if got := str(e.conversation(id)["assigneeId"]); got != "" {
		t.Fatalf("after unassigning with no agent online the API says assignee %q, want none", got)
	}

	// Back to automatic assignment: the agent comes online and is given it.
	at := b.newTab("agent", e.consoleURL)
	at.login(agent)
	eventually(t, "the assigner to give the conversation to the agent who came online", waitTimeout, func() bool {
		return str(e.conversation(id)["assigneeId"]) == agent.id
	})
	at.waitConversation(id)
	st.waitFor("the supervisor's list showing the agent again",
		fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-assignee-id') === %q`, convItem(id), agent.id), waitTimeout)

	st.waitFor("the thread offering close", fmt.Sprintf(`!!document.querySelector(%q)`, selClose), waitTimeout)
	st.click(selClose)
	st.waitFor("the thread closed", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-state') === 'closed'`, selThread), waitTimeout)
	st.waitFor("only the template picker in the closed thread",
		fmt.Sprintf(`!!document.querySelector(%q) && !document.querySelector(%q)`, selTemplatePick, selReplyInput), waitTimeout)
	for _, sel := range []string{selClose, selUnassign, selAssignSelect} {
		if st.count(sel) != 0 {
			t.Fatalf("the closed thread still offers %s", sel)
		}
	}
	if got := st.attr(selWindow, "data-open"); got != "false" {
		t.Fatalf("the closed thread's window indicator says data-open %q", got)
	}
	if got := str(e.conversation(id)["state"]); got != "closed" {
		t.Fatalf("the API says state %q after closing, want closed", got)
	}
	at.waitFor("the closed conversation gone from the agent's open list", fmt.Sprintf(`!document.querySelector(%q)`, convItem(id)), waitTimeout)
}

// TestAttachmentFromTheReplyBoxIsSentAsMedia: the agent types a caption
// and chooses a PNG in the reply box's file input; the console uploads it
// and sends it as an image: the thread shows the picture itself (read back
// from the engine, 16 pixels wide as uploaded) with its caption, the
// sandbox received an image message carrying the medium and the caption,
// and its ticks go to read.
func TestAttachmentFromTheReplyBoxIsSentAsMedia(t *testing.T) {
	b := newBrowser(t)
	e := startEngine(t, nil)
	agent := e.newUser("agent", "Attach Agent")
	tb := b.newTab("agent", e.consoleURL)
	tb.login(agent)

	waID := newCustomer()
	e.inject(waID, "Sana Iqbal", "Can you send me the shipping label?")
	id, _ := e.waitConversationOf(waID, true)
	tb.openConversation(id)
	tb.waitMessage("inbound", "Can you send me the shipping label?")

	path := filepath.Join(t.TempDir(), "label.png")
	if err := os.WriteFile(path, samples.PNG(), 0o644); err != nil {
		t.Fatal(err)
	}
	const caption = "Here is your shipping label"
	tb.typeInto(selReplyInput, caption)
	tb.do("choose the PNG in the attach input", chromedp.SetUploadFiles(chromedp.CSS(selAttachInput), []string{path}))

	v := tb.waitFor("the picture in the thread", fmt.Sprintf(`(() => {
		const m = [...document.querySelectorAll('%s %s[data-direction=outbound]')].find(m => m.querySelector('[data-test=message-media]'));
		const i = m && m.querySelector('[data-test=message-media] img');
		return i && i.complete && i.naturalWidth > 0 && { id: m.getAttribute('data-message-id'), width: i.naturalWidth, src: i.getAttribute('src'),
			text: m.querySelector('[data-test=message-text]')?.textContent || '' };
	})()`, selThread, selMessage), waitTimeout)
	m, _ := v.(map[string]any)
	if m["width"] != float64(16) || !strings.HasPrefix(str(m["src"]), "blob:") {
		t.Fatalf("the picture in the thread is %v, want the 16-pixel PNG from a blob: URL", m)
	}
	if !strings.Contains(str(m["text"]), caption) {
		t.Fatalf("the media message shows %q, want the caption %q", m["text"], caption)
	}
	if v, _ := tb.eval(fmt.Sprintf(`document.querySelector(%q)?.value`, selReplyInput)).(string); v != "" {
		t.Fatalf("the reply box still holds %q after its text went out as the caption", v)
	}

	eventually(t, "an image message at the sandbox", waitTimeout, func() bool {
		for _, s := range e.sent(waID) {
			var body struct {
				Image struct {
					ID      string `json:"id"`
					Link    string `json:"link"`
					Caption string `json:"caption"`
				} `json:"image"`
			}
			if s.Type == "image" && json.Unmarshal(s.Body, &body) == nil && (body.Image.ID != "" || body.Image.Link != "") && body.Image.Caption == caption {
				return true
			}
		}
		return false
	})
	sel := fmt.Sprintf(`%s %s[data-message-id=%q]`, selThread, selMessage, str(m["id"]))
	tb.waitFor("the image's ticks at read", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-status') === 'read'`, sel), waitTimeout)
	if v := tb.cspViolations(); len(v) != 0 {
		t.Fatalf("CSP violations: %v", v)
	}
}

// selectTab clicks the list's tab name (mine, unassigned or all) and waits
// until it is the selected one.
func (tb *tab) selectTab(name string) {
	tb.t.Helper()
	sel := `[data-test=tab-` + name + `]`
	tb.click(sel)
	tb.waitFor("the "+name+" tab selected", fmt.Sprintf(`document.querySelector(%q)?.getAttribute('aria-selected') === 'true'`, sel), waitTimeout)
}

// waitList waits until the conversation list holds exactly the
// conversations ids, in any order.
func (tb *tab) waitList(what string, ids ...string) {
	tb.t.Helper()
	want := slices.Sorted(slices.Values(ids))
	if want == nil {
		want = []string{}
	}
	raw, _ := json.Marshal(want)
	v, _ := tb.pollValue(fmt.Sprintf(`JSON.stringify([...document.querySelectorAll(%q)].map(e => e.getAttribute('data-conversation-id')).sort()) === %q`,
		selConvItem, string(raw)), waitTimeout)
	if v == nil {
		got := tb.eval(fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.getAttribute('data-conversation-id')).sort()`, selConvItem))
		tb.t.Fatalf("tab %s: waited %s for %s: the list holds %v, want %s\npage: %s", tb.name, waitTimeout, what, got, raw, tb.pageText())
	}
}

// conversation is conversation id as the admin reads it.
func (e *engine) conversation(id string) map[string]any {
	e.t.Helper()
	data := e.must(200, "GET", "/api/whatsapp/conversations/"+id, e.adminToken(), nil)
	c, _ := data["conversation"].(map[string]any)
	return c
}

// conversationOfAgent waits for a conversation of the customer waID other
// than not, assigned (by the assigner, the only online agent being
// agentID), and returns its id; it fails the test when someone else got it.
func (e *engine) conversationOfAgent(waID, not, agentID string) string {
	e.t.Helper()
	var id, assignee string
	eventually(e.t, "an assigned conversation of "+waID, waitTimeout, func() bool {
		data := e.must(200, "GET", "/api/whatsapp/conversations?limit=100", e.adminToken(), nil)
		for _, it := range asList(data["items"]) {
			c, _ := it.(map[string]any)
			if str(c["waId"]) == waID && str(c["id"]) != not && str(c["assigneeId"]) != "" {
				id, assignee = str(c["id"]), str(c["assigneeId"])
				return true
			}
		}
		return false
	})
	if assignee != agentID {
		e.t.Fatalf("conversation %s went to %q, want the only online agent %q", id, assignee, agentID)
	}
	return id
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
