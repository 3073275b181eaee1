//go:build faults

package faults

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sendTimed posts a free-form text like sendText and also returns the
// answer's Retry-After and how long the answer took.
func sendTimed(p *proc, token, to, text string) (status int, retryAfter string, took time.Duration) {
	body := fmt.Sprintf(`{"to":%q,"type":"text","text":{"body":%q}}`, to, text)
	req, _ := newRequest(p.url+"/api/whatsapp/messages", token, body)
	began := time.Now()
	res, err := p.client.Do(req)
	took = time.Since(began)
	if err != nil {
		return 0, "", took
	}
	defer res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After"), took
}

// Test39_RabbitBlockedMidBurst: the engine's own RabbitMQ node raises a
// memory alarm (connection.blocked) while sends go through it, then clears
// it. While blocked, sends answer 503 with Retry-After at once (the publish
// is not even written, so it is surely not queued) and /readyz names
// rabbitmq; the publish that was written as the block came is accepted
// with an unknown outcome and kept queued. Every accepted send reaches the
// WhatsApp sandbox exactly once, and no refused one does.
func Test39_RabbitBlockedMidBurst(t *testing.T) {
	t.Parallel()
	r := covers(t, 39)
	const customers, per = 10, 60
	node, sandbox, p, was, token := burstSetup(t, "239", customers)

	var mu sync.Mutex
	accepted, unknown, refused := map[string]bool{}, map[string]bool{}, map[string]bool{}
	acceptedAt := map[string]time.Time{}
	var to503 []time.Duration
	var noRetryAfter int
	var progress atomic.Int64
	var alarmStart, alarmEnd time.Time
	var readyzNamed atomic.Bool
	cleared := make(chan struct{})
	// over is set once the fault has ended (or failed to be made): each
	// customer keeps sending until it has sent a few after it, however
	// long the fault took on a loaded machine.
	var over atomic.Bool
	go func() {
		defer close(cleared)
		defer over.Store(true)
		for progress.Load() < customers*per/5 {
			time.Sleep(5 * time.Millisecond)
		}
		alarmStart = time.Now()
		if _, err := node.ctl("set_vm_memory_high_watermark", "0.0000001"); err != nil {
			t.Error(err)
			return
		}
		r.count("faults", 1)
		// Longer than the engine's publish timeout (5 s), so the publish
		// written as the block came runs out of time unconfirmed.
		for time.Since(alarmStart) < 7*time.Second {
			if res, err := p.client.Get(p.url + "/readyz"); err == nil {
				raw, _ := io.ReadAll(res.Body)
				_ = res.Body.Close()
				if res.StatusCode == 503 && strings.Contains(string(raw), `"rabbitmq"`) {
					readyzNamed.Store(true)
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		if _, err := node.ctl("set_vm_memory_high_watermark", "0.4"); err != nil {
			t.Error(err)
			return
		}
		alarmEnd = time.Now()
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
				text := fmt.Sprintf("%s-b%d", wa, i)
				st, retry, took := sendTimed(p, token, "+"+wa, text)
				mu.Lock()
				switch st {
				case 202:
					accepted[text] = true
					acceptedAt[text] = time.Now()
				case 0:
					unknown[text] = true
				default:
					refused[text] = true
					if st == 503 {
						to503 = append(to503, took)
						if retry == "" {
							noRetryAfter++
						}
					}
				}
				mu.Unlock()
				progress.Add(1)
				time.Sleep(100 * time.Millisecond)
			}
		}(wa)
	}
	wg.Wait()
	<-cleared
	r.count("inputs", int(progress.Load()))
	require.False(t, alarmEnd.IsZero(), "the alarm was cleared")
	t.Logf("accepted %d, refused %d (503: %d), unknown %d; alarm %v", len(accepted), len(refused), len(to503), len(unknown), alarmEnd.Sub(alarmStart))
	r.count("refused_503", len(to503))
	require.NotEmpty(t, to503, "sends during the block answer 503")
	assert.Len(t, to503, len(refused), "every refusal is a 503")
	assert.Zero(t, noRetryAfter, "every 503 carries Retry-After")
	sort.Slice(to503, func(i, j int) bool { return to503[i] < to503[j] })
	r.timing("time_to_503_median", to503[len(to503)/2])
	r.timing("time_to_503_max", to503[len(to503)-1])
	assert.True(t, readyzNamed.Load(), "/readyz named rabbitmq while blocked")
	log := p.out.String()
	assert.Contains(t, log, "outbound queue blocked by broker")
	assert.Contains(t, log, "outbound queue unblocked by broker")

	// time_to_recover: from the end of the fault to the first send
	// accepted after it.
	r.recoveredAfter(acceptedAt, alarmEnd, "sends are accepted again once the alarm clears")
	r.timing("blocked", alarmEnd.Sub(alarmStart))

	// Late duplicates, if any, show up in the linger too.
	b, missing := settledAccount(accepted, unknown, func() map[string]int { return sentTexts(t, sandbox) }, 90*time.Second, 2*time.Second)
	r.buckets(b)
	unconfirmed := strings.Count(log, "outbound queue did not confirm a message; kept queued")
	r.count("publish_outcome_unknown", unconfirmed)
	t.Logf("buckets %+v; accepted with an unknown publish outcome: %d; time to 503 median %v max %v",
		b, unconfirmed, to503[len(to503)/2], to503[len(to503)-1])
	assert.Zero(t, b.lost, "accepted, never sent: %v", missing)
	assert.Zero(t, b.unexpected, "sent without being accepted")
	assert.Zero(t, b.duplicated, "sent more than once")
}
