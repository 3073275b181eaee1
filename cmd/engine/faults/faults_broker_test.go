//go:build faults

package faults

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The engine's outbound topology (configs defaults, rabbitqueue's
// exchange).
const (
	outboundQueue    = "whatsapp.outbound"
	outboundExchange = "engine.direct"
)

// brokerChannel is an AMQP channel of the test's own on node.
func brokerChannel(t *testing.T, node *rabbitNode) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(node.url())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	return ch
}

// textsOf is the engine's messages of conversation convID by text:
// status and error message.
func textsOf(t *testing.T, p *proc, token, convID string) map[string]map[string]any {
	t.Helper()
	st, body := p.api("GET", "/api/whatsapp/conversations/"+convID+"/messages?limit=100", token, nil)
	require.Equal(t, 200, st, body)
	out := map[string]map[string]any{}
	for _, it := range body["data"].(map[string]any)["items"].([]any) {
		m := it.(map[string]any)
		if text, _ := m["text"].(string); text != "" {
			out[text] = m
		}
	}
	return out
}

// Test40_UnroutablePublish: the engine's main queue is unbound from its
// exchange, then deleted, under a live engine. A send published meanwhile
// comes back from the broker (mandatory) and is answered 503, its message
// failed "not queued", and it is never sent; the engine declares its
// topology again at once, so the sends after it go out, each once.
func Test40_UnroutablePublish(t *testing.T) {
	t.Parallel()
	r := covers(t, 40)
	node := startRabbit(t)
	sbPort := freePort(t)
	sandbox := fmt.Sprintf("http://127.0.0.1:%d", sbPort)
	p := start(t, queueEnv(t, node, sbPort))
	wa := "919814000401"
	customersWrite(t, p, []string{wa})
	token := p.admin()
	ch := brokerChannel(t, node)

	accepted, refused := map[string]bool{}, map[string]bool{}
	send := func(text string) int {
		st := sendText(p, token, "+"+wa, text)
		if st == 202 {
			accepted[text] = true
		} else {
			refused[text] = true
		}
		return st
	}
	st, _, convID := sendTextID(t, p, token, "+"+wa, "t40-before")
	require.Equal(t, 202, st)
	accepted["t40-before"] = true
	require.Eventually(t, func() bool { return sentTexts(t, sandbox)["t40-before"] == 1 }, 20*time.Second, 50*time.Millisecond)

	// Unbound: the publish is returned.
	require.NoError(t, ch.QueueUnbind(outboundQueue, outboundQueue, outboundExchange, nil))
	r.count("faults", 1)
	start := time.Now()
	require.Equal(t, 503, send("t40-unbound"), "an unroutable publish is an error, not a send")
	r.timing("time_to_503", time.Since(start))
	// ... and the engine bound it again.
	require.Equal(t, 202, send("t40-after-unbind"))

	// Deleted (with the consumer on it): refused or accepted while the
	// engine declares it again, never accepted and lost.
	_, err := ch.QueueDelete(outboundQueue, false, false, false)
	require.NoError(t, err)
	r.count("faults", 1)
	for i := 0; i < 10; i++ {
		send(fmt.Sprintf("t40-deleted-%d", i))
		time.Sleep(20 * time.Millisecond)
	}
	r.count("inputs", len(accepted)+len(refused))
	r.count("refused_unroutable", len(refused))
	t.Logf("accepted %d, refused %d", len(accepted), len(refused))

	// Late duplicates, if any, show up in the linger too.
	b, missing := settledAccount(accepted, nil, func() map[string]int { return sentTexts(t, sandbox) }, 30*time.Second, 1*time.Second)
	r.buckets(b)
	assert.Zero(t, b.lost, "accepted, never sent: %v", missing)
	assert.Zero(t, b.unexpected, "a refused send went out")
	assert.Zero(t, b.duplicated)

	// Every refusal is recorded as failed, never counted as sent.
	msgs := textsOf(t, p, token, convID)
	for text := range refused {
		m := msgs[text]
		require.NotNil(t, m, "refused %s is recorded", text)
		assert.Equal(t, "failed", m["status"], text)
		raw, _ := json.Marshal(m["error"])
		assert.Contains(t, string(raw), "not queued", text)
	}
	for text := range accepted {
		assert.NotEqual(t, "failed", msgs[text]["status"], text)
	}
	// The queue is back, bound.
	q, err := ch.QueueDeclarePassive(outboundQueue, true, false, false, false, amqp.Table{"x-max-priority": int32(9)})
	require.NoError(t, err, "the engine declared its queue again")
	assert.Equal(t, 1, q.Consumers, "and consumes from it")
}

// Test44_PoisonJobs: jobs the sender cannot handle are put straight on the
// engine's queue: bodies that are not jobs, a job of an unknown message,
// and a job that makes the handler panic (a kind only the faults build
// knows). Each reaches the dead-letter list with its reason (the panicking
// one after SEND_MAX_ATTEMPTS attempts), the engine stays up, and good
// sends around them go out once.
func Test44_PoisonJobs(t *testing.T) {
	t.Parallel()
	r := covers(t, 44)
	node := startRabbit(t)
	sbPort := freePort(t)
	sandbox := fmt.Sprintf("http://127.0.0.1:%d", sbPort)
	env := queueEnv(t, node, sbPort)
	env["SEND_MAX_ATTEMPTS"] = "3"
	p := start(t, env)
	wa := "919814000441"
	customersWrite(t, p, []string{wa})
	token := p.admin()
	ch := brokerChannel(t, node)

	accepted := map[string]bool{}
	good := func(text string) {
		require.Equal(t, 202, sendText(p, token, "+"+wa, text), text)
		accepted[text] = true
	}
	good("t44-before")
	publish := func(body string) {
		require.NoError(t, ch.Publish(outboundExchange, outboundQueue, true, false,
			amqp.Publishing{ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: []byte(body)}))
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	poison := []string{
		`not json {`,
		`{"messageId":""}`,
		`{"messageId":"poison-unknown","conversationId":"c","phoneNumberId":"100000000000001","to":"` + wa + `","body":{},"attempt":1,"enqueuedAt":"` + now + `"}`,
		`{"kind":"faults.panic","messageId":"poison-panic","conversationId":"c","phoneNumberId":"100000000000001","to":"` + wa + `","body":{},"attempt":1,"enqueuedAt":"` + now + `"}`,
	}
	for _, body := range poison {
		publish(body)
	}
	r.count("faults", len(poison))
	for i := 0; i < 5; i++ {
		good(fmt.Sprintf("t44-after-%d", i))
	}
	r.count("inputs", len(poison)+len(accepted))

	type dead struct{ id, reason string }
	list := func() []dead {
		st, body := p.api("GET", "/api/whatsapp/dead-letters?limit=100", token, nil)
		require.Equal(t, 200, st, body)
		var out []dead
		for _, it := range body["data"].(map[string]any)["items"].([]any) {
			item := it.(map[string]any)
			id, _ := item["job"].(map[string]any)["messageId"].(string)
			out = append(out, dead{id, item["reason"].(string)})
		}
		return out
	}
	var got []dead
	start := time.Now()
	require.Eventually(t, func() bool { got = list(); return len(got) >= len(poison) }, 60*time.Second, 200*time.Millisecond,
		"every poison job is dead-lettered")
	r.timing("time_to_dead_letter_all", time.Since(start))
	reasons := map[string][]string{}
	for _, d := range got {
		reasons[d.id] = append(reasons[d.id], d.reason)
	}
	t.Logf("dead letters: %v", reasons)
	assert.Len(t, got, len(poison), "each poison job once")
	undecodable := strings.Join(reasons[""], " | ")
	assert.Len(t, reasons[""], 2, "both undecodable bodies")
	assert.Contains(t, undecodable, "undecodable job")
	assert.Equal(t, []string{"message not found"}, reasons["poison-unknown"])
	require.Len(t, reasons["poison-panic"], 1)
	assert.Contains(t, reasons["poison-panic"][0], "attempts exhausted (3 of 3)")
	assert.Contains(t, reasons["poison-panic"][0], "handler panicked")
	assert.Equal(t, 3, strings.Count(p.out.String(), "send handler panicked"), "each of its attempts panicked once, and was caught")

	// The queue kept flowing and the engine is up.
	good("t44-last")
	require.Eventually(t, func() bool { b, _ := account(accepted, nil, sentTexts(t, sandbox)); return b.lost == 0 },
		30*time.Second, 100*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	b, _ := account(accepted, nil, sentTexts(t, sandbox))
	r.buckets(b)
	assert.Zero(t, b.unexpected)
	assert.Zero(t, b.duplicated)
	select {
	case <-p.done:
		t.Fatalf("the engine exited: %v", p.err)
	default:
	}
}
