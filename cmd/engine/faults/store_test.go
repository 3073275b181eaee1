//go:build faults

package faults

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/persistence/servicetest"
)

// ferretHost returns host:port of the FerretDB (SQLite handler) child
// process shared by the binary's tests (see servicetest.FerretDB).
func ferretHost(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(servicetest.FerretDB(t, servicetest.FerretSQLite))
	require.NoError(t, err)
	return u.Host
}

// Test47_StoreSlowedPastDeadline: the engine's MongoDB (FerretDB) is
// reached through a proxy that stops forwarding bytes (the store hangs,
// every operation runs past its deadline). API requests and webhooks are
// answered 503 with Retry-After within a bounded time, never 200 for a
// webhook that was not stored; /readyz names the store; the engine's
// goroutines go back to their level once the store answers again; and
// everything recovers without a restart.
func Test47_StoreSlowedPastDeadline(t *testing.T) {
	t.Parallel()
	r := covers(t, 47)
	proxy := servicetest.StartProxy(t, ferretHost(t))
	p := start(t, map[string]string{"MONGODB_URI": "mongodb://" + proxy.Addr() + "/", "MONGODB_DATABASE": fmt.Sprintf("faults47_%d", time.Now().UnixNano()),
		"CONNECT_TIMEOUT": "30s"})
	token := p.admin()
	st, body := p.api("POST", "/api/customers", token, map[string]any{"name": "Before", "phone": "+14155554701"})
	require.Equal(t, 201, st, body)
	require.Equal(t, 200, p.webhook(textBody(wcPhoneID, "14155554702", "wamid.s47.before", "before", time.Now())))
	wcWaitStored(p, token, "wamid.s47.before")
	time.Sleep(time.Second)
	baseline := p.metricValue("go_goroutines")

	proxy.Freeze()
	r.count("faults", 1)
	began := time.Now()
	require.Eventually(t, func() bool {
		st, deps := p.readyz()
		return st == 503 && strings.Contains(strings.Join(deps, ","), "store")
	}, 20*time.Second, 100*time.Millisecond, "/readyz names the store")
	r.timing("time_to_readyz_503", time.Since(began))

	// A burst of API requests and webhooks while the store hangs.
	const n = 20
	type answer struct {
		what       string
		st         int
		retryAfter string
		took       time.Duration
	}
	answers := make(chan answer, 2*n)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 60 * time.Second}
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/customers?search=x%d", p.url, i), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			a := answer{what: "api"}
			began := time.Now()
			if res, err := client.Do(req); err == nil {
				a.st, a.retryAfter = res.StatusCode, res.Header.Get("Retry-After")
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
			a.took = time.Since(began)
			answers <- a
		}(i)
		go func(i int) {
			defer wg.Done()
			b := textBody(wcPhoneID, "14155554702", fmt.Sprintf("wamid.s47.down%02d", i), "while slow", time.Now())
			req, _ := http.NewRequest("POST", p.url+"/api/whatsapp/webhook", strings.NewReader(string(b)))
			req.Header.Set("X-Hub-Signature-256", sign(b))
			a := answer{what: "webhook"}
			began := time.Now()
			if res, err := client.Do(req); err == nil {
				a.st, a.retryAfter = res.StatusCode, res.Header.Get("Retry-After")
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
			a.took = time.Since(began)
			answers <- a
		}(i)
	}
	// While the requests wait, the goroutines they hold are counted.
	time.Sleep(2 * time.Second)
	during := p.metricValue("go_goroutines")
	wg.Wait()
	close(answers)
	acked := 0
	codes := map[string]int{}
	for a := range answers {
		codes[fmt.Sprintf("%s %d", a.what, a.st)]++
		r.timing("time_to_answer_"+a.what, a.took)
		r.count("inputs", 1)
		if a.what == "webhook" && a.st == 200 {
			acked++
			continue
		}
		assert.Contains(t, []int{503, 504}, a.st, "%s while the store hangs", a.what)
		assert.NotEmpty(t, a.retryAfter, "%s: a 503 says when to retry", a.what)
		// The budgets: a webhook's inbox write 5 s, any MongoDB operation 10 s.
		budget := 12 * time.Second
		if a.what == "webhook" {
			budget = 7 * time.Second
		}
		assert.Less(t, a.took, budget, "%s: answered within the budget", a.what)
	}
	t.Logf("answers while the store hangs: %v; goroutines %v before, %v during", codes, baseline, during)

	proxy.Thaw()
	began = time.Now()
	require.Eventually(t, func() bool {
		st, _, _ := p.do("GET", "/api/customers", token, nil)
		return st == 200
	}, 60*time.Second, 200*time.Millisecond, "the API answers again without a restart")
	r.timing("time_to_recover", time.Since(began))
	st, _ = p.readyz()
	assert.Equal(t, 200, st)
	// Meta retries every webhook not answered 200: each is then stored once.
	lost := 0
	for i := 0; i < n; i++ {
		b := textBody(wcPhoneID, "14155554702", fmt.Sprintf("wamid.s47.down%02d", i), "while slow", time.Now())
		require.Eventually(t, func() bool { return p.webhook(b) == 200 }, 20*time.Second, 100*time.Millisecond)
	}
	for i := 0; i < n; i++ {
		w := fmt.Sprintf("wamid.s47.down%02d", i)
		wcWaitStored(p, token, w)
		if c := wcCount(p, token, w); c != 1 {
			lost++
			t.Errorf("%s stored %d times", w, c)
		}
	}
	r.count("lost", lost)
	r.count("acked_while_slow", acked)

	// No goroutine build-up: back near the baseline once the store answers.
	var after float64
	require.Eventually(t, func() bool {
		after = p.metricValue("go_goroutines")
		return after <= baseline+15
	}, 30*time.Second, 500*time.Millisecond, "goroutines back near %v", baseline)
	r.count("goroutines_before", int(baseline))
	r.count("goroutines_during", int(during))
	r.count("goroutines_after", int(after))
}
