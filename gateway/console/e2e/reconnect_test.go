//go:build browser

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCutSocketCatchesUpOnWhatWasSentMeanwhile: the network between the
// console and the engine drops (the proxy closes every connection and
// refuses new ones); the console says it is not connected; meanwhile the
// open conversation's customer writes again, the agent's reply (sent from
// elsewhere) goes out and is read, and a new customer writes for the first
// time; when the network is back the console reconnects by itself and
// shows all of it, in order and once, without a reload. Run against an
// engine keeping its socket events in process (the console re-reads the
// API on reconnecting) and one sharing them through Redis
// (CLUSTER_EVENTS: the socket resumes from its cursor and the engine
// replays what it missed).
func TestCutSocketCatchesUpOnWhatWasSentMeanwhile(t *testing.T) {
	t.Run("in-process events", func(t *testing.T) {
		testCutSocketCatchesUp(t, nil)
	})
	t.Run("redis event stream", func(t *testing.T) {
		requireRedis(t)
		testCutSocketCatchesUp(t, map[string]string{
			"REDIS_URL": "redis://127.0.0.1:6379/0", "CLUSTER_EVENTS": "true",
			"REDIS_PREFIX": fmt.Sprintf("console-e2e-%d:", time.Now().UnixNano()),
		})
	})
}

func testCutSocketCatchesUp(t *testing.T, env map[string]string) {
	b := newBrowser(t)
	e := startEngine(t, env)
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

	// Everything below is in the engine before the network comes back:
	// the console can only learn of it by catching up.
	e.inject(first, "Deepa Iyer", "Second question during the outage")
	e.waitMessageStored(id, "Second question during the outage", "")
	const reply = "Answered from my phone during the outage"
	tok := e.login(agent.email, userPassword).token
	e.must(202, "POST", "/api/whatsapp/messages", tok, map[string]any{"to": "+" + first, "type": "text", "text": map[string]string{"body": reply}})
	e.waitMessageStored(id, reply, "read")
	second := newCustomer()
	e.inject(second, "Tarun Das", "A new customer during the outage")
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
	m := tb.waitMessage("outbound", reply)
	tb.waitFor("the reply sent during the outage at read", fmt.Sprintf(`document.querySelector('%s %s[data-message-id=%q]')?.getAttribute('data-status') === 'read'`, selThread, selMessage, m["id"]), waitTimeout)
	want := []string{"First question before the outage", "Second question during the outage", reply}
	if got := tb.threadTexts(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after catching up the thread shows %q, want %q", got, want)
	}
	tb.waitConversation(secondID)
	tb.waitText(convItem(secondID)+` [data-test=conv-name]`, "Tarun Das")
	if got := tb.eval(`performance.getEntriesByType('navigation').length`); got != loads {
		t.Fatal("the page reloaded to catch up")
	}
	// How it tried to catch up: with the event stream the sockets it
	// opened after the first one asked to resume from a cursor (the
	// console gives the cursor up after a few failed attempts, so whether
	// the last one still carries it depends on how long the outage
	// lasted); without it, none could.
	urls := tb.socketURLs()
	if len(urls) < 2 {
		t.Fatalf("the console opened %d socket(s), want a reconnect", len(urls))
	}
	resumed := false
	for _, u := range urls[1:] {
		resumed = resumed || strings.Contains(u, "cursor=")
	}
	if streamed := env != nil; resumed != streamed {
		t.Fatalf("a reconnecting socket asked to resume from a cursor: %v, want %v (event stream: %v)", resumed, streamed, streamed)
	}
	if env == nil {
		tb.screenshot("reconnected")
	}
}

// waitMessageStored waits until conversation id has a message whose text
// is text, with status (any when "").
func (e *engine) waitMessageStored(id, text, status string) {
	e.t.Helper()
	eventually(e.t, fmt.Sprintf("message %q stored with status %q", text, status), waitTimeout, func() bool {
		data := e.must(200, "GET", "/api/whatsapp/conversations/"+id+"/messages?limit=50", e.adminToken(), nil)
		items, _ := data["items"].([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			raw, _ := json.Marshal(m["content"])
			if strings.Contains(string(raw), text) && (status == "" || m["status"] == status) {
				return true
			}
		}
		return false
	})
}

// requireRedis skips the test, loudly, without Redis on 127.0.0.1:6379,
// and fails it when ENGINE_REQUIRE_SERVICES=1.
func requireRedis(t *testing.T) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 2*time.Second)
	if err == nil {
		_ = c.Close()
		return
	}
	msg := "REDIS: no Redis on 127.0.0.1:6379 (" + err.Error() + "); the socket's cursor resume was NOT tested"
	if os.Getenv("ENGINE_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "!!! "+msg)
	t.Skip(msg)
}
