//go:build faults

package faults

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queueEnv is the environment of an engine whose sends go through node,
// paced loosely enough that a burst is limited by the queue, not by the
// shaper.
func queueEnv(t *testing.T, node *rabbitNode, sandboxPort int) map[string]string {
	env := map[string]string{
		"SANDBOX_PORT": strconv.Itoa(sandboxPort), "WHATSAPP_MPS": "2000", "WHATSAPP_PAIR_INTERVAL": "0",
		"WHATSAPP_PAIR_BURST": "1000", "SANDBOX_STATUS_DELAY": "500ms",
	}
	if node != nil {
		env["RABBITMQ_URL"] = node.url()
	}
	return env
}

// customersWrite has each wa_id write once, so its window is open.
func customersWrite(t *testing.T, p *proc, was []string) {
	t.Helper()
	for _, wa := range was {
		require.Equal(t, 200, p.webhook(textBody("100000000000001", wa, "wamid.in."+wa, "hello", time.Now())))
	}
	// The inbox is applied asynchronously: wait until each customer exists.
	token := p.admin()
	require.Eventually(t, func() bool {
		st, body := p.api("GET", "/api/customers?limit=100", token, nil)
		return st == 200 && int(body["data"].(map[string]any)["total"].(float64)) >= len(was)
	}, 30*time.Second, 100*time.Millisecond)
}

// sendText posts a free-form text; status 0 means no answer (the
// outcome is unknown).
func sendText(p *proc, token, to, text string) int {
	body := fmt.Sprintf(`{"to":%q,"type":"text","text":{"body":%q}}`, to, text)
	req, _ := newRequest(p.url+"/api/whatsapp/messages", token, body)
	res, err := p.client.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	return res.StatusCode
}

// Test39_RabbitRestartMidBurst: the engine's own RabbitMQ node is stopped
// (stop_app) and started again while 1000 sends go through it. Every send
// the API accepted (202) reaches the WhatsApp sandbox exactly once; a send
// refused during the outage (503) never does; a send whose request failed
// without an answer may go out once (recovered). A publish whose confirm
// was lost in the stop is accepted (its job may be queued), kept queued
// and published again once the broker is back; the sender sends it once.
func Test39_RabbitRestartMidBurst(t *testing.T) {
	t.Parallel()
	r := covers(t, 39)
	const customers, per = 20, 50
	node, sandbox, p, was, token := burstSetup(t, "139", customers)

	var mu sync.Mutex
	accepted, unknown, refused := map[string]bool{}, map[string]bool{}, map[string]bool{}
	acceptedAt := map[string]time.Time{}
	var progress atomic.Int64
	var outageStart, outageEnd time.Time
	restarted := make(chan struct{})
	// over is set once the fault has ended (or failed to be made): each
	// customer keeps sending until it has sent a few after it, however
	// long the fault took on a loaded machine.
	var over atomic.Bool
	go func() {
		defer close(restarted)
		defer over.Store(true)
		for progress.Load() < customers*per/5 {
			time.Sleep(5 * time.Millisecond)
		}
		outageStart = time.Now()
		if _, err := node.ctl("stop_app"); err != nil {
			t.Error(err)
			return
		}
		r.count("faults", 1)
		// Longer than the engine's publish timeout (5 s), as a real
		// broker restart is.
		time.Sleep(5 * time.Second)
		if _, err := node.ctl("start_app"); err != nil {
			t.Error(err)
			return
		}
		outageEnd = time.Now()
	}()
	var wg sync.WaitGroup
	for _, wa := range was {
		wg.Add(1)
		go func(wa string) {
			defer wg.Done()
			sinceOver := 0
			for i := 0; i < 20*per && (i < per || sinceOver < 5); i++ {
				if over.Load() {
					sinceOver++
				}
				text := fmt.Sprintf("%s-m%d", wa, i)
				st := sendText(p, token, "+"+wa, text)
				mu.Lock()
				switch st {
				case 202:
					accepted[text] = true
					acceptedAt[text] = time.Now()
				case 0:
					unknown[text] = true
				default:
					refused[text] = true
				}
				mu.Unlock()
				progress.Add(1)
				time.Sleep(100 * time.Millisecond)
			}
		}(wa)
	}
	wg.Wait()
	<-restarted
	r.count("inputs", int(progress.Load()))
	require.False(t, outageEnd.IsZero(), "the broker came back")
	t.Logf("accepted %d, refused %d, unknown %d; outage %v", len(accepted), len(refused), len(unknown), outageEnd.Sub(outageStart))
	require.Greater(t, len(accepted), customers*per/2)
	// time_to_recover: from the end of the fault to the first send
	// accepted after it.
	r.recoveredAfter(acceptedAt, outageEnd, "sends are accepted again after the broker's return")
	r.timing("outage", outageEnd.Sub(outageStart))

	// Late duplicates, if any, show up in the linger too.
	b, missing := settledAccount(accepted, unknown, func() map[string]int { return sentTexts(t, sandbox) }, 90*time.Second, 2*time.Second)
	r.buckets(b)
	// Publishes whose confirm was lost in the restart: accepted, kept
	// queued and published again by the relay.
	unconfirmed := strings.Count(p.out.String(), "outbound queue did not confirm a message; kept queued")
	r.count("publish_outcome_unknown", unconfirmed)
	t.Logf("buckets %+v; accepted with an unknown publish outcome: %d", b, unconfirmed)
	assert.Zero(t, b.lost, "accepted, never sent: %v", missing)
	if !assert.Zero(t, b.unexpected, "sent without being accepted") {
		sent := sentTexts(t, sandbox)
		for text := range refused {
			if sent[text] > 0 {
				t.Logf("refused yet sent: %s", text)
				debugMessages(t, p, token, text)
			}
		}
	}
	assert.Zero(t, b.duplicated, "sent more than once")
}

// debugMessages logs the engine's view of the messages whose text is text.
func debugMessages(t *testing.T, p *proc, token, text string) {
	_, body := p.api("GET", "/api/whatsapp/conversations?limit=100", token, nil)
	raw, _ := json.Marshal(body)
	var cs struct {
		Data struct{ Items []struct{ ID, WaID string } }
	}
	_ = json.Unmarshal(raw, &cs)
	for _, c := range cs.Data.Items {
		if !strings.HasPrefix(text, c.WaID) {
			continue
		}
		_, _, mb := p.do("GET", "/api/whatsapp/conversations/"+c.ID+"/messages?limit=100", token, nil)
		for _, line := range strings.Split(string(mb), "},{") {
			if strings.Contains(line, text+`"`) {
				t.Logf("message: %s", line)
			}
		}
	}
}
