//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/gateway/sandbox/cloudapi"
)

// armSend arms a send fault for the recipient waID at the WhatsApp
// sandbox (POST /sandbox/whatsapp/sends/faults).
func armSend(t *testing.T, sandboxURL, waID, fault string, count, delayMs int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"to": waID, "fault": fault, "count": count, "delayMs": delayMs})
	res, err := http.Post(sandboxURL+"/sandbox/whatsapp/sends/faults", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode, "arm %s for %s", fault, waID)
}

// sendAttempts is when each send to waID reached the sandbox since a
// fault was first armed for it, oldest first.
func sendAttempts(t *testing.T, sandboxURL, waID string) []time.Time {
	t.Helper()
	res, err := http.Get(sandboxURL + "/sandbox/whatsapp/sends/faults?to=" + waID)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	var out struct {
		Data struct {
			Attempts []time.Time `json:"attempts"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out.Data.Attempts
}

// maxPerWindow is the largest number of instants within any window of
// length w.
func maxPerWindow(at []time.Time, w time.Duration) int {
	sorted := append([]time.Time(nil), at...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Before(sorted[j]) })
	best, lo := 0, 0
	for hi := range sorted {
		for sorted[hi].Sub(sorted[lo]) >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// deadLetters is the engine's dead-letter list: message id -> reason.
func deadLetters(t *testing.T, p *proc, token string) map[string]string {
	t.Helper()
	st, body := p.api("GET", "/api/whatsapp/dead-letters?limit=100", token, nil)
	require.Equal(t, 200, st, body)
	out := map[string]string{}
	for _, it := range body["data"].(map[string]any)["items"].([]any) {
		item := it.(map[string]any)
		out[item["job"].(map[string]any)["messageId"].(string)] = item["reason"].(string)
	}
	return out
}

// sendTextID posts a free-form text and returns the answer's status and,
// when accepted, the message's id and conversation id.
func sendTextID(t *testing.T, p *proc, token, to, text string) (status int, id, convID string) {
	t.Helper()
	st, body := p.api("POST", "/api/whatsapp/messages", token, map[string]any{"to": to, "type": "text", "text": map[string]string{"body": text}})
	if st != 202 {
		return st, "", ""
	}
	m := body["data"].(map[string]any)["message"].(map[string]any)
	return st, m["id"].(string), m["conversationId"].(string)
}

// messageOf returns the engine's view of message id in conversation
// convID (nil when absent).
func messageOf(t *testing.T, p *proc, token, convID, id string) map[string]any {
	t.Helper()
	st, body := p.api("GET", "/api/whatsapp/conversations/"+convID+"/messages?limit=100", token, nil)
	require.Equal(t, 200, st, body)
	data := body["data"].(map[string]any)
	items, _ := data["items"].([]any)
	if items == nil {
		items, _ = data["messages"].([]any)
	}
	for _, it := range items {
		if m := it.(map[string]any); m["id"] == id {
			return m
		}
	}
	return nil
}

// Test42_WhatsAppServerErrors: the sandbox answers 500 (131000) or 503
// (code 2) to every attempt of a send, times one out, or refuses one with
// a permanent 400 (code 100). Transient errors are retried with jittered
// exponential backoff for SEND_MAX_ATTEMPTS attempts, then dead-lettered
// with the reason; a send that fails transiently fewer times goes out
// once; the permanent error goes straight to the dead-letter list.
func Test42_WhatsAppServerErrors(t *testing.T) {
	t.Parallel()
	r := covers(t, 42)
	sbPort := freePort(t)
	sandbox := fmt.Sprintf("http://127.0.0.1:%d", sbPort)
	const maxAttempts = 4
	env := queueEnv(t, nil, sbPort)
	env["SEND_MAX_ATTEMPTS"] = fmt.Sprint(maxAttempts)
	p := start(t, env)
	was := map[string]string{ // fault -> wa_id
		"server_error": "919814200101", "unavailable": "919814200102", "rejected": "919814200103",
		"unavailable_then_ok": "919814200104", "timeout_then_ok": "919814200105",
	}
	var list []string
	for _, wa := range was {
		list = append(list, wa)
	}
	customersWrite(t, p, list)
	token := p.admin()
	armSend(t, sandbox, was["server_error"], "server_error", 100, 0)
	armSend(t, sandbox, was["unavailable"], "unavailable", 100, 0)
	armSend(t, sandbox, was["rejected"], "rejected", 1, 0)
	armSend(t, sandbox, was["unavailable_then_ok"], "unavailable", 2, 0)
	armSend(t, sandbox, was["timeout_then_ok"], "timeout", 1, 0)

	ids, convs := map[string]string{}, map[string]string{}
	for fault, wa := range was {
		st, id, conv := sendTextID(t, p, token, "+"+wa, "t42-"+fault)
		require.Equal(t, 202, st, fault)
		ids[fault], convs[fault] = id, conv
	}
	r.count("inputs", len(was))

	// Permanent: one attempt, dead-lettered at once with Meta's reason.
	var dead map[string]string
	require.Eventually(t, func() bool {
		dead = deadLetters(t, p, token)
		_, ok := dead[ids["rejected"]]
		return ok
	}, 20*time.Second, 100*time.Millisecond, "the permanent refusal is dead-lettered")
	assert.Contains(t, dead[ids["rejected"]], "100 invalid parameter")
	assert.Len(t, sendAttempts(t, sandbox, was["rejected"]), 1, "a permanent error is not retried")
	m := messageOf(t, p, token, convs["rejected"], ids["rejected"])
	require.NotNil(t, m)
	assert.Equal(t, "failed", m["status"])
	assert.EqualValues(t, 100, m["error"].(map[string]any)["code"])

	// Transient every time: maxAttempts attempts, growing gaps, then the
	// dead-letter list with the last reason.
	for _, fault := range []string{"server_error", "unavailable"} {
		require.Eventually(t, func() bool {
			dead = deadLetters(t, p, token)
			_, ok := dead[ids[fault]]
			return ok
		}, 60*time.Second, 200*time.Millisecond, "%s is dead-lettered after its attempts", fault)
		assert.Contains(t, dead[ids[fault]], fmt.Sprintf("attempts exhausted (%d of %d)", maxAttempts, maxAttempts), fault)
		want := map[string]string{"server_error": "131000", "unavailable": "2 api service unavailable"}[fault]
		assert.Contains(t, dead[ids[fault]], want)
		at := sendAttempts(t, sandbox, was[fault])
		require.Len(t, at, maxAttempts, "%s: exactly SEND_MAX_ATTEMPTS attempts", fault)
		for i := 1; i < len(at); i++ {
			r.timing(fmt.Sprintf("%s_gap_%d", fault, i), at[i].Sub(at[i-1]))
		}
		// Full jitter: attempt n waits a random [0, 2^(n-1) s]; the gaps
		// stay within the ceilings (plus scheduling slack).
		for i := 1; i < len(at); i++ {
			ceiling := time.Duration(1<<(i-1)) * time.Second
			assert.LessOrEqual(t, at[i].Sub(at[i-1]), ceiling+time.Second, "%s gap %d", fault, i)
		}
		m := messageOf(t, p, token, convs[fault], ids[fault])
		require.NotNil(t, m)
		assert.Equal(t, "failed", m["status"], fault)
	}

	// Transient a few times: sent exactly once in the end.
	for _, fault := range []string{"unavailable_then_ok", "timeout_then_ok"} {
		require.Eventually(t, func() bool { return sentTexts(t, sandbox)["t42-"+fault] >= 1 }, 60*time.Second, 200*time.Millisecond, fault)
		_, listed := deadLetters(t, p, token)[ids[fault]]
		assert.False(t, listed, fault)
	}
	time.Sleep(time.Second) // a late duplicate would show up
	sent := sentTexts(t, sandbox)
	accepted := map[string]bool{"t42-unavailable_then_ok": true, "t42-timeout_then_ok": true}
	b, _ := account(accepted, nil, sent)
	r.buckets(b)
	assert.Zero(t, b.lost)
	assert.Zero(t, b.unexpected, "a dead-lettered send went out: %v", sent)
	assert.Zero(t, b.duplicated)
	assert.Len(t, sendAttempts(t, sandbox, was["unavailable_then_ok"]), 3)
	assert.Len(t, sendAttempts(t, sandbox, was["timeout_then_ok"]), 2)
	// Faults injected: every attempt the sandbox refused or dropped.
	injected := 0
	for fault, wa := range was {
		n := len(sendAttempts(t, sandbox, wa))
		if strings.HasSuffix(fault, "_then_ok") {
			n-- // the last one was accepted
		}
		injected += n
	}
	r.count("faults", injected)
}

// Test43_WhatsAppRateLimits: 130429 (the number's throughput) and 131056
// (the pair rate) from the sandbox. The engine backs off: after a 130429
// every send of the number holds for Meta's second, after a 131056 every
// send to that recipient holds for its six seconds (the breaker), no
// retry storm reaches the sandbox, and every queued message goes out
// later, once.
func Test43_WhatsAppRateLimits(t *testing.T) {
	t.Parallel()
	r := covers(t, 43)
	sbPort := freePort(t)
	sandbox := fmt.Sprintf("http://127.0.0.1:%d", sbPort)
	env := queueEnv(t, nil, sbPort)
	env["WHATSAPP_MPS"] = "20"
	p := start(t, env)
	throughput, pair := "919814300201", "919814300202"
	others := []string{"919814300203", "919814300204", "919814300205"}
	customersWrite(t, p, append([]string{throughput, pair}, others...))
	token := p.admin()
	armSend(t, sandbox, throughput, "rate_limit", 3, 0)
	armSend(t, sandbox, pair, "pair_rate_limit", 1, 0)
	for _, wa := range others { // timed, never refused: slow by 1 ms
		armSend(t, sandbox, wa, "slow", 1000, 1)
	}
	r.count("faults", 4)

	const per = 4
	accepted := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, wa := range append([]string{throughput, pair}, others...) {
		wg.Add(1)
		go func(wa string) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				text := fmt.Sprintf("t43-%s-%d", wa, i)
				if st := sendText(p, token, "+"+wa, text); st == 202 {
					mu.Lock()
					accepted[text] = true
					mu.Unlock()
				}
			}
		}(wa)
	}
	wg.Wait()
	r.count("inputs", 5*per)
	require.Len(t, accepted, 5*per)

	// Late duplicates, if any, show up in the linger too.
	b, missing := settledAccount(accepted, nil, func() map[string]int { return sentTexts(t, sandbox) }, 60*time.Second, 1*time.Second)
	r.buckets(b)
	assert.Zero(t, b.lost, "queued messages go out later: missing %v", missing)
	assert.Zero(t, b.unexpected)
	assert.Zero(t, b.duplicated)

	// The pair breaker: after the 131056, nothing to that recipient for
	// about six seconds.
	pa := sendAttempts(t, sandbox, pair)
	require.Len(t, pa, per+1, "one refusal, then each message once")
	r.timing("pair_breaker_open", pa[1].Sub(pa[0]))
	assert.GreaterOrEqual(t, pa[1].Sub(pa[0]), 5500*time.Millisecond, "the recipient was held back after 131056")

	// The throughput limit: three refusals, each message once, and no
	// storm: at most a few attempts to that recipient in any second.
	ta := sendAttempts(t, sandbox, throughput)
	require.Len(t, ta, per+3)
	storm := maxPerWindow(ta, time.Second)
	r.count("max_attempts_per_second_429_recipient", storm)
	assert.LessOrEqual(t, storm, per, "no retry storm")

	// The number's hold after a 130429: sends of the other recipients keep
	// off the number for most of the second after each refusal (those
	// already past the shaper may land at once).
	var all []time.Time
	for _, wa := range others {
		all = append(all, sendAttempts(t, sandbox, wa)...)
	}
	all = append(all, ta...)
	held := 0
	for _, refused := range ta[:3] {
		for _, at := range all {
			if at.After(refused.Add(250*time.Millisecond)) && at.Before(refused.Add(850*time.Millisecond)) {
				held++
			}
		}
	}
	r.count("sends_during_number_hold", held)
	assert.Zero(t, held, "sends of the number went out while it was held after a 130429")
	total := len(all) + len(pa)
	r.count("attempts_at_sandbox", total)
	r.count("max_attempts_per_second_number", maxPerWindow(append(all, pa...), time.Second))
	assert.LessOrEqual(t, maxPerWindow(append(all, pa...), time.Second), 20, "WHATSAPP_MPS paces the number")
}

// outsideSandbox is a WhatsApp sandbox served by the test process, so it
// outlives the engine it serves (the built-in one dies with it): it posts
// its callbacks to the engine's fixed port.
func outsideSandbox(t *testing.T, enginePort int) (*cloudapi.Sandbox, string) {
	t.Helper()
	sb := cloudapi.New(cloudapi.Options{Log: zap.NewNop(), WebhookURL: fmt.Sprintf("http://127.0.0.1:%d/api/whatsapp/webhook", enginePort),
		AppSecret: appSecret, StatusDelay: 50 * time.Millisecond, AssumeWindowOpen: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = srv.Serve(ln); done <- struct{}{} }()
	go func() { _ = sb.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
		<-done
		<-done
	})
	return sb, "http://" + ln.Addr().String()
}

// Test41_KilledBetweenCallAndAck: the sandbox accepts a send but answers
// it only seconds later; the engine is killed (SIGKILL) in between, after
// WhatsApp has the message and before the sender recorded it or acked its
// job. Restarted, the engine gets the job again (RabbitMQ redelivers it,
// the start-up recovery publishes it again) and its send claim, left by
// the dead process, stops a second send: the sandbox saw the message
// once, the message is failed as "send outcome unknown" and dead-lettered
// for an operator; later sends go out as usual.
func Test41_KilledBetweenCallAndAck(t *testing.T) {
	t.Parallel()
	r := covers(t, 41)
	node := startRabbit(t)
	port := freePort(t)
	sb, sandbox := outsideSandbox(t, port)
	p := start(t, map[string]string{"PORT": fmt.Sprint(port), "RABBITMQ_URL": node.url(), "WHATSAPP_API_URL": sandbox,
		"WHATSAPP_ACCESS_TOKEN": "faults-token", "WHATSAPP_PAIR_INTERVAL": "0"})
	wa := "919814100411"
	customersWrite(t, p, []string{wa})
	token := p.admin()
	require.NoError(t, sb.FailSends(wa, 1, cloudapi.SendSlow, 10*time.Second))
	r.count("faults", 1)

	st, id, convID := sendTextID(t, p, token, "+"+wa, "t41-killed")
	require.Equal(t, 202, st)
	require.Eventually(t, func() bool { return sentTexts(t, sandbox)["t41-killed"] == 1 }, 20*time.Second, 10*time.Millisecond,
		"WhatsApp has the message")
	_ = p.kill(syscall.SIGKILL) // its exit status is the kill's
	r.count("sigkill", 1)

	restarted := time.Now()
	p.restart()
	token = p.admin()
	var reason string
	require.Eventually(t, func() bool {
		r, ok := deadLetters(t, p, token)[id]
		reason = r
		return ok
	}, 60*time.Second, 100*time.Millisecond, "the redelivered job is settled")
	r.timing("time_to_settle_after_restart", time.Since(restarted))
	assert.Contains(t, reason, "send outcome unknown")
	m := messageOf(t, p, token, convID, id)
	require.NotNil(t, m)
	assert.Equal(t, "failed", m["status"])
	assert.Equal(t, "send outcome unknown", m["error"].(map[string]any)["title"])

	st, _, _ = sendTextID(t, p, token, "+"+wa, "t41-after")
	require.Equal(t, 202, st)
	require.Eventually(t, func() bool { return sentTexts(t, sandbox)["t41-after"] == 1 }, 20*time.Second, 50*time.Millisecond)
	time.Sleep(2 * time.Second) // a second send of the killed one would show by now
	sent := sentTexts(t, sandbox)
	calls := sent["t41-killed"]
	r.count("mock_calls_killed_message", calls)
	assert.Equal(t, 1, calls, "the idempotency record suppressed the second send")
	b, _ := account(map[string]bool{"t41-killed": true, "t41-after": true}, nil, sent)
	r.buckets(b)
	assert.Zero(t, b.lost)
	assert.Zero(t, b.unexpected)
	assert.Zero(t, b.duplicated)
}
