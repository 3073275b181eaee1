//go:build faults

package faults

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/gateway/sandbox/cloudapi"
)

// ownSandbox is a WhatsApp sandbox in the test process, so its log of
// sends outlives the engines it serves; it posts no callbacks.
func ownSandbox(t *testing.T) (*cloudapi.Sandbox, string) {
	t.Helper()
	sb := cloudapi.New(cloudapi.Options{Log: zap.NewNop(), AssumeWindowOpen: true})
	srv := httptest.NewServer(sb.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sb.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return sb, srv.URL
}

// sandboxEnv points the engine's sends at a sandbox of the test's own.
func sandboxEnv(sandboxURL string, workers int) map[string]string {
	return map[string]string{"WHATSAPP_ACCESS_TOKEN": "faults-token", "WHATSAPP_API_URL": sandboxURL,
		"WHATSAPP_MPS": "40", "WHATSAPP_PAIR_INTERVAL": "0", "WHATSAPP_PAIR_BURST": "1000",
		"SEND_WORKERS": strconv.Itoa(workers)}
}

// sentByText counts the sandbox's accepted text sends by their body.
func sentByText(sb *cloudapi.Sandbox) map[string]int {
	out := map[string]int{}
	for _, m := range sb.Sent() {
		s := string(m.Body)
		if i := strings.Index(s, `"body":"`); i >= 0 {
			rest := s[i+len(`"body":"`):]
			out[rest[:strings.IndexByte(rest, '"')]]++
		}
	}
	return out
}

// inboundBuckets accounts inbound webhooks: acked (answered 200), unknown
// (no answer), and how many times each wamid is stored.
func inboundBuckets(acked, unknown map[string]bool, stored map[string]int) (b buckets, missing []string) {
	for w := range acked {
		if stored[w] == 0 {
			b.lost++
			missing = append(missing, w)
		}
	}
	for w, n := range stored {
		switch {
		case acked[w]:
		case unknown[w]:
			b.recovered++
		default:
			b.unexpected++
		}
		if n > 1 {
			b.duplicated += n - 1
		}
	}
	return b, missing
}

// storedWamids counts stored messages by waMessageId among the wamids
// with prefix.
func storedWamids(p *proc, token, prefix string) map[string]int {
	out := map[string]int{}
	for _, ms := range wcMessages(p, token) {
		for _, m := range ms {
			if w, _ := m["waMessageId"].(string); strings.HasPrefix(w, prefix) {
				out[w]++
			}
		}
	}
	return out
}

// Test48_SIGKILLMidConversation: customers write and agents answer, both
// at once, when the engine is killed with SIGKILL; restarted on the same
// DATA_DIR, every webhook answered 200 is stored once (the unanswered ones
// are retried, as Meta does), and every send answered 202 reaches WhatsApp
// (a sandbox of the test's own, which outlives the engine) — twice at most
// for the sends whose request to WhatsApp was in flight at the kill.
func Test48_SIGKILLMidConversation(t *testing.T) {
	t.Parallel()
	r := covers(t, 48)
	sb, sbURL := ownSandbox(t)
	const workers = 4
	p := start(t, sandboxEnv(sbURL, workers))
	const customers, rounds = 8, 30
	was := make([]string, customers)
	for c := range was {
		was[c] = fmt.Sprintf("9198148%02d001", c)
	}
	customersWrite(t, p, was)
	token := p.admin()

	var mu sync.Mutex
	acked, inUnknown := map[string]bool{}, map[string]bool{}
	accepted, outUnknown := map[string]bool{}, map[string]bool{}
	bodies := map[string][]byte{}
	var progress atomic.Int64
	var killed atomic.Bool
	var wg sync.WaitGroup
	url := p.url
	client := &http.Client{Timeout: 10 * time.Second}
	for _, wa := range was {
		wg.Add(1)
		go func(wa string) {
			defer wg.Done()
			for i := 0; i < rounds && !killed.Load(); i++ {
				wamid := fmt.Sprintf("wamid.k48.%s.%02d", wa, i)
				body := textBody(wcPhoneID, wa, wamid, fmt.Sprintf("in %d", i), time.Now())
				req, _ := http.NewRequest("POST", url+"/api/whatsapp/webhook", strings.NewReader(string(body)))
				req.Header.Set("X-Hub-Signature-256", sign(body))
				res, err := client.Do(req)
				mu.Lock()
				bodies[wamid] = body
				if err == nil && res.StatusCode == 200 {
					acked[wamid] = true
				} else {
					inUnknown[wamid] = true // Meta retries anything not answered 200
				}
				mu.Unlock()
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
				}
				text := fmt.Sprintf("k48-%s-%02d", wa, i)
				req, _ = newRequest(url+"/api/whatsapp/messages", token, fmt.Sprintf(`{"to":"+%s","type":"text","text":{"body":%q}}`, wa, text))
				res, err = client.Do(req)
				mu.Lock()
				switch {
				case err != nil:
					outUnknown[text] = true
				case res.StatusCode == 202:
					accepted[text] = true
				}
				mu.Unlock()
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
				}
				progress.Add(1)
			}
		}(wa)
	}
	for progress.Load() < customers*rounds/3 {
		time.Sleep(5 * time.Millisecond)
	}
	sentAtKill := len(sb.Sent())
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	killed.Store(true)
	<-p.done
	wg.Wait()
	r.count("faults", 1)
	r.count("inputs", 2*int(progress.Load()))
	t.Logf("at the kill: %d webhooks acked, %d unknown; %d sends accepted, %d unknown; %d already sent",
		len(acked), len(inUnknown), len(accepted), len(outUnknown), sentAtKill)
	require.NotEmpty(t, accepted)
	require.Less(t, sentAtKill, len(accepted), "killed while accepted sends were still queued")

	began := time.Now()
	p.restart()
	// Meta retries every webhook not answered 200.
	for w := range inUnknown {
		require.Eventually(t, func() bool { return p.webhook(bodies[w]) == 200 }, 20*time.Second, 100*time.Millisecond)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := account(accepted, outUnknown, sentByText(sb))
		ib, _ := inboundBuckets(acked, inUnknown, storedWamids(p, token, "wamid.k48."))
		if (b.lost == 0 && ib.lost == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.timing("time_to_recover", time.Since(began))
	time.Sleep(time.Second) // late duplicates show too
	out, missing := account(accepted, outUnknown, sentByText(sb))
	in, inMissing := inboundBuckets(acked, inUnknown, storedWamids(p, token, "wamid.k48."))
	t.Logf("outbound %+v; inbound %+v", out, in)
	r.buckets(buckets{lost: out.lost + in.lost, recovered: out.recovered + in.recovered,
		unexpected: out.unexpected + in.unexpected, duplicated: out.duplicated + in.duplicated})
	r.count("outbound_duplicated", out.duplicated)
	r.count("inbound_duplicated", in.duplicated)
	assert.Zero(t, in.lost, "webhooks answered 200, never stored: %v", inMissing)
	assert.Zero(t, in.unexpected)
	assert.Zero(t, in.duplicated, "a webhook stored twice")
	assert.Zero(t, out.lost, "sends answered 202, never sent: %v", missing)
	assert.Zero(t, out.unexpected)
	assert.LessOrEqual(t, out.duplicated, workers, "only the sends in flight to WhatsApp at the kill (SEND_WORKERS) may go twice")
}

// Test49_SIGTERM: SIGTERM while a request is being read, a socket is open
// and sends are queued: the listener stops accepting at once, the request
// in flight completes, the socket is closed with 1001, the engine exits 0
// before SHUTDOWN_TIMEOUT, and the queued sends go out after a restart,
// each once.
func Test49_SIGTERM(t *testing.T) {
	t.Parallel()
	r := covers(t, 49)
	sb, sbURL := ownSandbox(t)
	env := sandboxEnv(sbURL, 2)
	env["WHATSAPP_MPS"] = "2" // sends stay queued at the signal
	env["SHUTDOWN_TIMEOUT"] = "10s"
	p := start(t, env)
	wa := "919814900001"
	customersWrite(t, p, []string{wa})
	token := p.admin()

	accepted := map[string]bool{}
	for i := 0; i < 20; i++ {
		text := fmt.Sprintf("t49-%02d", i)
		require.Equal(t, 202, sendText(p, token, "+"+wa, text))
		accepted[text] = true
	}
	_, frames, closed := abSocket(t, p, token)
	abNext(t, frames, "hello")

	// A request whose body trickles in: in flight when the signal comes.
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", p.url+"/api/customers", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	inflight := make(chan int, 1)
	go func() {
		res, err := p.client.Do(req)
		if err != nil {
			t.Logf("in-flight request: %v", err)
			inflight <- 0
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		inflight <- res.StatusCode
	}()
	_, err = pw.Write([]byte(`{"name":"In flight",`))
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)

	addr := strings.TrimPrefix(p.url, "http://")
	began := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	r.count("faults", 1)
	// New connections are refused once the listener is closed.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	}, 5*time.Second, 20*time.Millisecond, "the listener still accepts after SIGTERM")
	r.timing("time_to_refuse", time.Since(began))
	time.Sleep(300 * time.Millisecond)
	_, err = pw.Write([]byte(`"phone":"+14155554949"}`))
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	assert.Equal(t, 201, <-inflight, "the request in flight at SIGTERM completes")

	select {
	case code := <-closed:
		assert.Equal(t, websocket.StatusGoingAway, code, "sockets are closed with 1001")
	case <-time.After(15 * time.Second):
		t.Error("the socket was not closed")
	}
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the engine did not exit within SHUTDOWN_TIMEOUT")
	}
	took := time.Since(began)
	r.timing("time_to_exit", took)
	assert.NoError(t, p.err, "exit code 0")
	assert.Less(t, took, 10*time.Second, "exit before SHUTDOWN_TIMEOUT")
	assert.Contains(t, p.out.String(), "http server stopped")
	sentAtStop := len(sb.Sent())
	t.Logf("exit after %v; %d of %d sends out before the stop", took, sentAtStop, len(accepted))

	// The queued sends were kept: they go out after a restart, each once.
	p.restart()
	require.Eventually(t, func() bool {
		b, _ := account(accepted, nil, sentByText(sb))
		return b.lost == 0
	}, 60*time.Second, 200*time.Millisecond)
	time.Sleep(time.Second)
	b, missing := account(accepted, nil, sentByText(sb))
	r.buckets(b)
	r.count("inputs", len(accepted)+2)
	assert.Zero(t, b.lost, "%v", missing)
	assert.Zero(t, b.duplicated, "a graceful stop sends nothing twice")
	assert.Zero(t, b.unexpected)
	st, body := p.api("GET", "/api/customers?search=%2B14155554949", token, nil)
	require.Equal(t, 200, st)
	assert.Len(t, body["data"].(map[string]any)["items"], 1, "the in-flight create was stored")
}
