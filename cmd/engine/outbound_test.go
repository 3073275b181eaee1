package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway/media/samples"
	"github.com/wacc/engine/gateway/sandbox/cloudapi"
	"github.com/wacc/engine/persistence/servicetest"
)

// queueModes runs a test on the in-process queue and on RabbitMQ (a fresh
// queue name per test).
func queueModes(t *testing.T, run func(t *testing.T, cfg configs.Config)) {
	t.Run("in-process", func(t *testing.T) { run(t, testConfig(t)) })
	t.Run("rabbitmq", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.RabbitMQURL = servicetest.RabbitURL(t)
		b := make([]byte, 6)
		rand.Read(b)
		cfg.RabbitMQQueue = "test.outbound." + hex.EncodeToString(b)
		cfg.RabbitMQCallQueue = cfg.RabbitMQQueue + ".calls"
		t.Cleanup(func() { deleteQueues(t, cfg) })
		run(t, cfg)
	})
}

func (l *live) sandbox() *cloudapi.Sandbox {
	l.t.Helper()
	var sb *cloudapi.Sandbox
	require.Eventually(l.t, func() bool { sb = l.e.out.sandbox.Load(); return sb != nil }, 5*time.Second, 10*time.Millisecond)
	return sb
}

// sentTo returns what the sandbox accepted for a recipient.
func sentTo(sb *cloudapi.Sandbox, wa string) []cloudapi.SentMessage {
	var out []cloudapi.SentMessage
	for _, m := range sb.Sent() {
		if m.To == wa {
			out = append(out, m)
		}
	}
	return out
}

// customerWrites makes a customer write, so the service window is open.
func (l *live) customerWrites(wa string) actors.Conversation {
	l.t.Helper()
	require.Equal(l.t, 200, l.webhook(textBody(l.cfg.WhatsAppPhoneNumberID, wa, "wamid.in."+wa+"."+actors.NewID()[20:], "hello", time.Now()), ""))
	return l.conversationOf(l.cfg.WhatsAppPhoneNumberID, wa)
}

func (l *live) send(token, to, text string, headers ...string) (int, map[string]any) {
	l.t.Helper()
	return l.apiWith("POST", "/api/whatsapp/messages", token, map[string]any{"to": to, "type": "text", "text": map[string]string{"body": text}}, headers...)
}

func (l *live) messageStatus(id string) string {
	m, err := l.e.store.Message(context.Background(), id)
	if err != nil {
		return ""
	}
	return m.Status
}

func TestTextReplyEndsReadOnAgentSocket(t *testing.T) {
	t.Parallel()
	queueModes(t, func(t *testing.T, cfg configs.Config) {
		cfg.SandboxStatusDelay = 20 * time.Millisecond
		l := startLive(t, cfg)
		agentID, agentTok := l.user(actors.RoleAgent)
		ws := l.socket(agentTok)
		wa := "919811110000"
		c := l.customerWrites(wa)
		require.Eventually(t, func() bool {
			cur, _ := l.e.store.Conversation(context.Background(), c.ID)
			return cur.AssigneeID == agentID
		}, 5*time.Second, 10*time.Millisecond)

		st, body := l.send(agentTok, "+"+wa, "how can I help?")
		require.Equal(t, 202, st, body)
		msg := body["data"].(map[string]any)["message"].(map[string]any)
		id := msg["id"].(string)
		assert.Equal(t, "queued", msg["status"])
		assert.Equal(t, "outbound", msg["direction"])

		sb := l.sandbox()
		require.Eventually(t, func() bool { return len(sentTo(sb, wa)) == 1 }, 10*time.Second, 10*time.Millisecond)
		sent := sentTo(sb, wa)[0]
		assert.Equal(t, "text", sent.Type)
		assert.Contains(t, string(sent.Body), `"messaging_product":"whatsapp"`)
		assert.Contains(t, string(sent.Body), `"recipient_type":"individual"`)
		assert.Contains(t, string(sent.Body), `"how can I help?"`)

		require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusRead }, 10*time.Second, 20*time.Millisecond)
		m, err := l.e.store.Message(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, sent.WaMessageID, m.WaMessageID)
		require.Eventually(t, func() bool { return ws.has("message.status", `"status":"read"`) && ws.has("message.status", id) },
			5*time.Second, 10*time.Millisecond, "the agent's socket sees read")
	})
}

func TestWindowRefusalAndTemplateAfterExpiry(t *testing.T) {
	cfg := testConfig(t)
	cfg.ServiceWindow = 2 * time.Second
	cfg.WindowWarning = 0
	cfg.SandboxStatusDelay = 10 * time.Millisecond
	l := startLive(t, cfg)
	admin := l.admin()
	wa := "919811120000"

	// Never wrote: free-form refused, nothing queued.
	st, body := l.send(admin, "+"+wa, "hi")
	require.Equal(t, 422, st, body)
	require.Equal(t, "OUTSIDE_SERVICE_WINDOW", body["code"])

	c := l.customerWrites(wa)
	st, body = l.send(admin, "+"+wa, "inside the window")
	require.Equal(t, 202, st, body)
	require.Eventually(t, func() bool {
		cur, _ := l.e.store.Conversation(context.Background(), c.ID)
		return cur.State == actors.StateExpired
	}, 8*time.Second, 50*time.Millisecond)

	st, body = l.send(admin, "+"+wa, "too late")
	require.Equal(t, 422, st, body)
	require.Equal(t, "OUTSIDE_SERVICE_WINDOW", body["code"])

	tpl := map[string]any{"to": "+" + wa, "template": map[string]any{"name": "order_update", "language": "en_US",
		"components": []any{map[string]any{"type": "body", "parameters": []any{map[string]string{"type": "text", "text": "42"}}}}}}
	st, body = l.apiWith("POST", "/api/whatsapp/messages/template", admin, tpl)
	require.Equal(t, 202, st, body)
	sb := l.sandbox()
	require.Eventually(t, func() bool {
		for _, m := range sentTo(sb, wa) {
			if m.Type == "template" {
				return strings.Contains(string(m.Body), `"code":"en_US"`) && strings.Contains(string(m.Body), `"order_update"`)
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	msgs := sentTo(sb, wa)
	for _, m := range msgs {
		assert.NotContains(t, string(m.Body), "too late", "refused sends never reach WhatsApp")
	}

	// A template to a number that never wrote starts a conversation.
	st, body = l.apiWith("POST", "/api/whatsapp/messages/template", admin, map[string]any{"to": "+919811129999",
		"template": map[string]any{"name": "welcome", "language": map[string]string{"code": "en"}}})
	require.Equal(t, 202, st, body)
	nc := l.conversationOf(cfg.WhatsAppPhoneNumberID, "919811129999")
	require.Equal(t, actors.StateNew, nc.State)

	// Closed: free-form refused with 409.
	fresh := l.customerWrites("919811130000")
	st, _ = l.api("POST", "/api/whatsapp/conversations/"+fresh.ID+"/close", admin, nil)
	require.Equal(t, 200, st)
	st, body = l.send(admin, "+919811130000", "after close")
	require.Equal(t, 409, st, body)
	require.Equal(t, "CONVERSATION_CLOSED", body["code"])

	// Validation.
	for _, bad := range []map[string]any{
		{"to": "+" + wa, "type": "text"},
		{"to": "+" + wa, "type": "text", "text": map[string]string{"body": ""}},
		{"to": "+" + wa, "type": "image", "image": map[string]string{"mediaId": "1", "link": "https://x.example/a.png"}},
		{"to": "+" + wa, "type": "image", "image": map[string]string{"link": "http://insecure.example/a.png"}},
		{"to": "not-a-number", "type": "text", "text": map[string]string{"body": "x"}},
		{"to": "+" + wa, "type": "fax"},
		{"to": "+" + wa, "type": "text", "text": map[string]string{"body": "x"}, "status": "sent"},
	} {
		st, body := l.apiWith("POST", "/api/whatsapp/messages", admin, bad)
		require.Contains(t, []int{400, 404}, st, "%v: %v", bad, body)
	}
}

func TestInjectedFailures(t *testing.T) {
	t.Parallel()
	queueModes(t, func(t *testing.T, cfg configs.Config) {
		cfg.SendMaxAttempts = 2
		cfg.SandboxStatusDelay = 10 * time.Millisecond
		l := startLive(t, cfg)
		admin := l.admin()
		sb := l.sandbox()
		type tc struct {
			wa       string
			want     string // final message status
			wantCode int    // error code when failed
		}
		cases := []tc{
			{wa: "919811140001", want: actors.StatusFailed, wantCode: 131026},
			{wa: "919811140004", want: actors.StatusRead}, // delivered arrives before sent
			{wa: "919811140005", want: actors.StatusFailed, wantCode: 131047},
			{wa: "919811140006", want: actors.StatusRead},   // 131056 once, then accepted
			{wa: "919811140007", want: actors.StatusFailed}, // 5xx twice: dead-lettered at 2 attempts
			{wa: "919811140008", want: actors.StatusFailed, wantCode: 131051},
		}
		ids := map[string]string{}
		for _, c := range cases {
			l.customerWrites(c.wa)
			st, body := l.send(admin, "+"+c.wa, "hello "+c.wa)
			require.Equal(t, 202, st, body)
			ids[c.wa] = body["data"].(map[string]any)["message"].(map[string]any)["id"].(string)
		}
		for _, c := range cases {
			id := ids[c.wa]
			require.Eventually(t, func() bool {
				st := l.messageStatus(id)
				return st == actors.StatusFailed || st == actors.StatusRead
			}, 30*time.Second, 50*time.Millisecond, "%s settles", c.wa)
			m, err := l.e.store.Message(context.Background(), id)
			require.NoError(t, err)
			if c.want == actors.StatusRead {
				require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusRead }, 10*time.Second, 20*time.Millisecond, c.wa)
				continue
			}
			assert.Equal(t, c.want, m.Status, c.wa)
			if c.wantCode != 0 {
				require.Eventually(t, func() bool {
					m, _ := l.e.store.Message(context.Background(), id)
					return m.Error != nil && m.Error.Code == c.wantCode
				}, 5*time.Second, 20*time.Millisecond, "%s fails with %d", c.wa, c.wantCode)
			}
		}
		// 0001: 131026 (by webhook) is final.
		m1, _ := l.e.store.Message(context.Background(), ids["919811140001"])
		assert.Equal(t, actors.StatusFailed, m1.Status)
		require.NotNil(t, m1.Error)
		assert.Equal(t, 131026, m1.Error.Code)
		// 0005: accepted, then failed by a 131047 status webhook, as Meta
		// reports it; the late failure expires the conversation as an
		// answered one would.
		m5, _ := l.e.store.Message(context.Background(), ids["919811140005"])
		require.NotNil(t, m5.Error)
		assert.Equal(t, 131047, m5.Error.Code)
		require.Eventually(t, func() bool {
			c, err := l.e.store.OpenConversation(context.Background(), cfg.WhatsAppPhoneNumberID, "919811140005")
			return err == nil && c.State == actors.StateExpired
		}, 5*time.Second, 20*time.Millisecond, "a late 131047 expires the conversation")
		// 0007: 5xx twice with at most 2 attempts: dead-lettered.
		m7, _ := l.e.store.Message(context.Background(), ids["919811140007"])
		assert.Equal(t, actors.StatusFailed, m7.Status)
		st, body := l.api("GET", "/api/whatsapp/dead-letters", admin, nil)
		require.Equal(t, 200, st, body)
		items := body["data"].(map[string]any)["items"].([]any)
		found := false
		for _, it := range items {
			if it.(map[string]any)["job"].(map[string]any)["messageId"] == ids["919811140007"] {
				found = true
			}
		}
		assert.True(t, found, "dead letter listed: %v", items)
		// Meta accepts a send to an undeliverable number and reports 131026
		// by webhook: one send, never retried.
		assert.Len(t, sentTo(sb, "919811140001"), 1)
		assert.Empty(t, sentTo(sb, "919811140007"))

		// Re-drive: the sandbox's 0007 now accepts, so the message goes out.
		st, body = l.apiWith("POST", "/api/whatsapp/dead-letters/redrive", admin, map[string]any{"messageIds": []string{ids["919811140007"]}})
		require.Equal(t, 200, st, body)
		require.EqualValues(t, 1, body["data"].(map[string]any)["redriven"])
		require.Eventually(t, func() bool { return len(sentTo(sb, "919811140007")) == 1 }, 20*time.Second, 50*time.Millisecond)
		require.Eventually(t, func() bool { return l.messageStatus(ids["919811140007"]) == actors.StatusRead }, 10*time.Second, 20*time.Millisecond)
		st, body = l.api("GET", "/api/whatsapp/dead-letters", admin, nil)
		require.Equal(t, 200, st)
		for _, it := range body["data"].(map[string]any)["items"].([]any) {
			assert.NotEqual(t, ids["919811140007"], it.(map[string]any)["job"].(map[string]any)["messageId"])
		}
	})
}

func TestRetriedThenSent(t *testing.T) {
	cfg := testConfig(t)
	cfg.SandboxStatusDelay = 10 * time.Millisecond
	l := startLive(t, cfg)
	admin := l.admin()
	sb := l.sandbox()
	wa := "919811150002" // 130429 twice, then accepted
	l.customerWrites(wa)
	st, body := l.send(admin, "+"+wa, "third time lucky")
	require.Equal(t, 202, st, body)
	id := body["data"].(map[string]any)["message"].(map[string]any)["id"].(string)
	require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusRead }, 30*time.Second, 50*time.Millisecond)
	require.Len(t, sentTo(sb, wa), 1, "accepted exactly once")
}

func TestIdempotencyKey(t *testing.T) {
	l := startLive(t, testConfig(t))
	admin := l.admin()
	wa := "919811160000"
	l.customerWrites(wa)
	st1, b1 := l.send(admin, "+"+wa, "only once", "Idempotency-Key", "key-1")
	require.Equal(t, 202, st1, b1)
	st2, b2 := l.send(admin, "+"+wa, "only once", "Idempotency-Key", "key-1")
	require.Equal(t, 202, st2, b2)
	require.Equal(t, b1["data"], b2["data"], "the first answer is replayed")
	st3, b3 := l.send(admin, "+"+wa, "different body", "Idempotency-Key", "key-1")
	require.Equal(t, 422, st3, b3)
	sb := l.sandbox()
	require.Eventually(t, func() bool { return len(sentTo(sb, wa)) == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Never(t, func() bool { return len(sentTo(sb, wa)) > 1 }, 500*time.Millisecond, 50*time.Millisecond)

	// Concurrent repeats: exactly one queues.
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i], _ = l.send(admin, "+"+wa, "burst", "Idempotency-Key", "key-2")
		}(i)
	}
	wg.Wait()
	for _, c := range codes {
		require.Contains(t, []int{202, 409}, c)
	}
	require.Eventually(t, func() bool {
		n := 0
		for _, m := range sentTo(sb, wa) {
			if strings.Contains(string(m.Body), "burst") {
				n++
			}
		}
		return n == 1
	}, 10*time.Second, 10*time.Millisecond)
}

func TestRateNeverExceedsMPS(t *testing.T) {
	cfg := testConfig(t)
	cfg.WhatsAppMPS = 20
	cfg.SandboxStatusDelay = 50 * time.Millisecond
	l := startLive(t, cfg)
	admin := l.admin()
	for i := 0; i < 10; i++ {
		wa := fmt.Sprintf("9198117%05d", i*10+3000)
		l.customerWrites(wa)
		for j := 0; j < 6; j++ {
			st, body := l.send(admin, "+"+wa, fmt.Sprintf("m%d", j))
			require.Equal(t, 202, st, body)
		}
	}
	sb := l.sandbox()
	require.Eventually(t, func() bool { return len(sb.Sent()) >= 60 }, 30*time.Second, 50*time.Millisecond)
	rate := sb.Rate(cfg.WhatsAppPhoneNumberID, time.Second)
	t.Logf("max sends in any 1s window: %d (MPS %d)", rate, cfg.WhatsAppMPS)
	require.LessOrEqual(t, rate, cfg.WhatsAppMPS+1, "never above MPS as measured by the sandbox")
	require.GreaterOrEqual(t, rate, cfg.WhatsAppMPS/2, "and not needlessly slow")
}

func TestQueuedSendsSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.WhatsAppMPS = 5 // slow enough that sends are still queued at the restart
	cfg.SandboxStatusDelay = 10 * time.Millisecond
	l := startLive(t, cfg)
	admin := l.admin()
	wa := "919811180000"
	l.customerWrites(wa)
	var ids []string
	for i := 0; i < 30; i++ {
		st, body := l.send(admin, "+"+wa, fmt.Sprintf("r%d", i))
		require.Equal(t, 202, st, body)
		ids = append(ids, body["data"].(map[string]any)["message"].(map[string]any)["id"].(string))
	}
	l.restart()
	sb := l.sandbox()
	require.Eventually(t, func() bool {
		for _, id := range ids {
			if l.messageStatus(id) == actors.StatusQueued {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "every accepted send went out after the restart")
	got := map[string]int{}
	for _, m := range sentTo(sb, wa) {
		got[string(m.Body)]++
	}
	for body, n := range got {
		assert.Equal(t, 1, n, "no repeat within the new process: %s", body)
	}
}

// TestRabbitRestartMidSends has the broker close the engine's connection
// twice while 500 sends go through it: every send the API accepted (202)
// reaches the sandbox exactly once; a send refused during the outage (503)
// never does.
func TestRabbitRestartMidSends(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the broker")
	}
	cfg := testConfig(t)
	cfg.RabbitMQURL = servicetest.RabbitURL(t)
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		if servicetest.Required() {
			t.Fatal("rabbitmqctl is needed to restart the broker")
		}
		t.Skip("rabbitmqctl not installed")
	}
	b := make([]byte, 6)
	rand.Read(b)
	cfg.RabbitMQQueue = "test.restart." + hex.EncodeToString(b)
	cfg.RabbitMQCallQueue = cfg.RabbitMQQueue + ".calls"
	cfg.WhatsAppMPS = 400
	cfg.PairInterval = 0
	cfg.PairBurst = 1000
	cfg.SandboxStatusDelay = 0
	t.Cleanup(func() { deleteQueues(t, cfg) })
	l := startLive(t, cfg)
	admin := l.admin()
	const customers, per = 20, 25
	for c := 0; c < customers; c++ {
		l.customerWrites(fmt.Sprintf("91981190%02d99", c))
	}
	var mu sync.Mutex
	accepted := map[string]bool{} // message text -> accepted
	refused := map[string]bool{}
	var wg sync.WaitGroup
	restarted := make(chan struct{})
	var progress atomic.Int64
	go func() {
		defer close(restarted)
		// Stop the broker once a fifth of the sends are through.
		for progress.Load() < customers*per/5 {
			time.Sleep(5 * time.Millisecond)
		}
		// Close the engine's connection from the broker, twice, as an
		// operator or a broker restart would (only ours: the broker is
		// shared with other tests).
		for i := 0; i < 2; i++ {
			if err := closeEngineConnections(cfg.RabbitMQQueue); err != nil {
				t.Errorf("close connection: %v", err)
				return
			}
			time.Sleep(time.Second)
		}
	}()
	for c := 0; c < customers; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			wa := fmt.Sprintf("91981190%02d99", c)
			for i := 0; i < per; i++ {
				text := fmt.Sprintf("c%d-m%d", c, i)
				st, _ := l.send(admin, "+"+wa, text)
				mu.Lock()
				if st == 202 {
					accepted[text] = true
				} else {
					refused[text] = true
				}
				mu.Unlock()
				progress.Add(1)
				time.Sleep(40 * time.Millisecond)
			}
		}(c)
	}
	wg.Wait()
	<-restarted
	t.Logf("accepted %d, refused during the outage %d", len(accepted), len(refused))
	require.Greater(t, len(accepted), customers*per/2)
	sb := l.sandbox()
	count := func() map[string]int {
		seen := map[string]int{}
		for _, m := range sb.Sent() {
			body := string(m.Body)
			i := strings.Index(body, `"body":"`)
			if i < 0 {
				continue
			}
			rest := body[i+8:]
			seen[rest[:strings.IndexByte(rest, '"')]]++
		}
		return seen
	}
	require.Eventually(t, func() bool {
		seen := count()
		for text := range accepted {
			if seen[text] == 0 {
				return false
			}
		}
		return true
	}, 60*time.Second, 200*time.Millisecond, "every accepted send reaches WhatsApp: missing %v", func() []string {
		seen := count()
		var missing []string
		for text := range accepted {
			if seen[text] == 0 {
				missing = append(missing, text)
			}
		}
		return missing
	}())
	seen := count()
	for text, n := range seen {
		assert.Equal(t, 1, n, "%s sent exactly once", text)
		assert.False(t, refused[text], "%s was refused yet sent", text)
	}
}

// closeEngineConnections has the broker close the engine's connections to
// the queue named queue (their client-provided name says so).
func closeEngineConnections(queue string) error {
	want := "engine outbound " + queue
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.Command("rabbitmqctl", "-q", "list_connections", "pid", "client_properties").Output()
		if err != nil {
			return err
		}
		closed := 0
		for _, line := range strings.Split(string(out), "\n") {
			fields := strings.SplitN(line, "\t", 2)
			if len(fields) == 2 && strings.Contains(fields[1], `"`+want+`"`) {
				if out, err := exec.Command("rabbitmqctl", "-q", "close_connection", fields[0], "test").CombinedOutput(); err != nil {
					return fmt.Errorf("%v: %s", err, out)
				}
				closed++
			}
		}
		if closed > 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no connection named %q", want)
}

// TestEveryMessageTypeReachesWhatsApp sends each free-form type the API
// takes; the sandbox validates bodies as the Cloud API does and accepts
// only well-formed ones, so each must end sent.
func TestEveryMessageTypeReachesWhatsApp(t *testing.T) {
	cfg := testConfig(t)
	cfg.SandboxStatusDelay = 10 * time.Millisecond
	cfg.PairBurst = 100
	l := startLive(t, cfg)
	admin := l.admin()
	wa := "919811220000"
	l.customerWrites(wa)
	// mediaId names our media: files uploaded to the engine (sent to
	// WhatsApp's media endpoint first).
	all := samples.Accepted()
	bodies := []map[string]any{
		{"type": "image", "image": map[string]string{"link": "https://cdn.example.com/a.png", "caption": "look"}},
		{"type": "document", "document": map[string]string{"mediaId": l.upload(admin, all["pdf"]), "filename": "invoice.pdf", "caption": "your invoice"}},
		{"type": "audio", "audio": map[string]string{"mediaId": l.upload(admin, all["ogg-opus"])}},
		{"type": "video", "video": map[string]string{"link": "https://cdn.example.com/v.mp4"}},
		{"type": "sticker", "sticker": map[string]string{"mediaId": l.upload(admin, all["webp"])}},
		{"type": "interactive", "interactive": map[string]any{"type": "button", "body": map[string]string{"text": "Pick one"},
			"action": map[string]any{"buttons": []any{map[string]any{"type": "reply", "reply": map[string]string{"id": "yes", "title": "Yes"}}}}}},
		{"type": "reaction", "reaction": map[string]string{"messageId": "wamid.in.x", "emoji": "👍"}},
		{"type": "text", "text": map[string]string{"body": "a reply"}, "context": map[string]string{"messageId": "wamid.in.x"}},
	}
	var ids []string
	for _, b := range bodies {
		b["to"] = "+" + wa
		st, body := l.apiWith("POST", "/api/whatsapp/messages", admin, b)
		require.Equal(t, 202, st, "%v: %v", b["type"], body)
		ids = append(ids, body["data"].(map[string]any)["message"].(map[string]any)["id"].(string))
	}
	for i, id := range ids {
		require.Eventually(t, func() bool {
			st := l.messageStatus(id)
			return st == actors.StatusSent || st == actors.StatusDelivered || st == actors.StatusRead
		}, 15*time.Second, 20*time.Millisecond, "%v accepted by the Cloud API emulator (status %s)", bodies[i]["type"], l.messageStatus(id))
	}
	sb := l.sandbox()
	var sawContext bool
	for _, m := range sentTo(sb, wa) {
		if strings.Contains(string(m.Body), `"context":{"message_id":"wamid.in.x"}`) {
			sawContext = true
		}
		assert.Contains(t, string(m.Body), `"messaging_product":"whatsapp"`)
	}
	assert.True(t, sawContext, "reply context sent as context.message_id")
}

// TestSendByPhoneFollowsCustomerChanges: a send names its customer by
// phone, answered from the gateway's memory once seen (a phone index
// checked against the read cache). When the customer's phone moves to
// another number and a new customer takes the old one, a send to the old
// number is the new customer's: here the one whose WhatsApp id has the
// open conversation (the moved customer's new number has none, which
// would be refused).
func TestSendByPhoneFollowsCustomerChanges(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	admin := l.admin()
	oldWa, newWa := "919811170000", "919811170001"
	conv := l.customerWrites(oldWa)
	st, body := l.send(admin, "+"+oldWa, "to the first customer")
	require.Equal(t, 202, st, body)
	assert.Equal(t, conv.ID, body["data"].(map[string]any)["message"].(map[string]any)["conversationId"])

	st, body = l.api("PUT", "/api/customers/"+conv.CustomerID, admin, map[string]any{"name": "Moved", "phone": "+" + newWa})
	require.Equal(t, 200, st, body)
	st, body = l.api("POST", "/api/customers", admin, map[string]any{"name": "Second", "phone": "+" + oldWa})
	require.Equal(t, 201, st, body)

	st, body = l.send(admin, "+"+oldWa, "to the second customer")
	require.Equal(t, 202, st, body)
	assert.Equal(t, conv.ID, body["data"].(map[string]any)["message"].(map[string]any)["conversationId"])
	st, body = l.send(admin, "+"+newWa, "to the moved customer")
	require.Equal(t, 422, st, body)
	assert.Equal(t, "OUTSIDE_SERVICE_WINDOW", body["code"])
}
