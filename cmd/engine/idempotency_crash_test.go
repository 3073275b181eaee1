package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/gateway/sandbox/cloudapi"
	"github.com/wacc/engine/gateway/webhook"
)

// sendGate stands before the Cloud API sandbox: it lets the first pass
// sends through and holds the others until open is closed. A held request
// whose engine dies (its connection closes) never reaches the sandbox, so
// what the sandbox records is exactly what the engines sent and saw
// answered: a send may only be counted twice if the engine sent it twice.
type sendGate struct {
	next   http.Handler
	pass   int
	open   chan struct{}
	mu     sync.Mutex
	passed int
	// held counts the sends the gate has held: each was under way to
	// WhatsApp when it was held.
	held int
}

func (g *sendGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") {
		g.mu.Lock()
		through := g.passed < g.pass
		if through {
			g.passed++
		} else {
			g.held++
		}
		g.mu.Unlock()
		if !through {
			// Read the body first: only then does the server watch the
			// connection and end the request's context when it closes.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			select {
			case <-g.open:
			case <-r.Context().Done():
				return
			}
			if r.Context().Err() != nil {
				return
			}
		}
	}
	g.next.ServeHTTP(w, r)
}

// keyedSend posts a text send with an Idempotency-Key; status 0 means no
// answer (the engine died).
func keyedSend(client *http.Client, url, token, to, text, key string) (status int, replayed bool, id string) {
	status, replayed, id, _ = keyedSendAt(client, url, token, to, text, key)
	return status, replayed, id
}

// keyedSendAt is keyedSend that also returns the message's createdAt.
func keyedSendAt(client *http.Client, url, token, to, text, key string) (status int, replayed bool, id string, created time.Time) {
	raw, _ := json.Marshal(map[string]any{"to": to, "type": "text", "text": map[string]string{"body": text}})
	req, _ := http.NewRequest("POST", url+"/api/whatsapp/messages", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	res, err := client.Do(req)
	if err != nil {
		return 0, false, "", time.Time{}
	}
	defer res.Body.Close()
	var body struct {
		Data struct {
			Message struct {
				ID        string    `json:"id"`
				CreatedAt time.Time `json:"createdAt"`
			} `json:"message"`
		} `json:"data"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, res.Header.Get("Idempotent-Replayed") == "true", body.Data.Message.ID, body.Data.Message.CreatedAt
}

// TestKilledEngineIdempotentRetries: a burst of sends, each with its own
// Idempotency-Key, and the engine SIGKILLed in the middle of it. After the
// restart the client retries every key: each retry answers 202 (the
// replayed first answer, or the request run again) at once, never 409;
// a key answered before the kill keeps its message id; every message
// stored, queued or sent before the kill or only on the retry reaches
// WhatsApp exactly once, except those whose send was under way at the
// kill: their outcome is unknown, so they are failed and dead-lettered
// instead of sent again, and an operator's re-drive sends them once.
func TestKilledEngineIdempotentRetries(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the engine")
	}
	port := freePort(t)
	engineURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The customers write to the engine directly (signed webhooks), not
	// through the sandbox, so the sandbox takes their windows as open.
	sb := cloudapi.New(cloudapi.Options{Log: zap.NewNop(), WebhookURL: engineURL + "/api/whatsapp/webhook", AppSecret: testAppSecret, AssumeWindowOpen: true,
		StatusDelay: 20 * time.Millisecond, CallbackAttempts: 30, RetryBackoff: 100 * time.Millisecond})
	const total, before = 150, 20
	gate := &sendGate{next: sb.Handler(), pass: before, open: make(chan struct{})}
	srv := httptest.NewServer(gate)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = sb.Run(ctx) }()

	env := map[string]string{
		"PORT": fmt.Sprint(port), "DATA_DIR": t.TempDir(), "APP_ENV": "test",
		"JWT_SECRET": strings.Repeat("j", 32), "JWT_REFRESH_SECRET": strings.Repeat("r", 32),
		"WHATSAPP_APP_SECRET": testAppSecret, "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_ACCESS_TOKEN": "real-looking-token",
		"WHATSAPP_API_URL": srv.URL, "WHATSAPP_MPS": "500", "WHATSAPP_PAIR_INTERVAL": "0", "WHATSAPP_PAIR_BURST": "1000",
		"ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "admin-password", "RATE_LIMIT_API_PER_MIN": "100000",
	}
	p := startEngine(t, env)
	_, body := p.post(t, "/api/auth/login", "", map[string]string{"email": "admin@example.com", "password": "admin-password"})
	token := body["data"].(map[string]any)["accessToken"].(string)
	wa := "919811380000"
	hook := textBody("100000000000001", wa, "wamid.idem.in", "hi", time.Now())
	req, _ := http.NewRequest("POST", p.url+"/api/whatsapp/webhook", bytes.NewReader(hook))
	req.Header.Set("X-Hub-Signature-256", webhook.Sign(hook, testAppSecret))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	key := func(i int) string { return fmt.Sprintf("retry-key-%03d", i) }
	text := func(i int) string { return fmt.Sprintf("idem-%03d", i) }
	// The first sends go through the gate; wait until they are recorded as
	// sent, so none is in flight to WhatsApp at the kill.
	require.Eventually(t, func() bool {
		st, body := p.get(t, "/api/whatsapp/conversations?status=new", token)
		return st == 200 && len(body["data"].(map[string]any)["items"].([]any)) == 1
	}, 5*time.Second, 20*time.Millisecond, "the conversation is open")
	firstIDs := map[int]string{}
	for i := 0; i < before; i++ {
		st, _, id := keyedSend(http.DefaultClient, p.url, token, "+"+wa, text(i), key(i))
		require.Equal(t, 202, st)
		firstIDs[i] = id
	}
	require.Eventually(t, func() bool { return len(sentTo(sb, wa)) == before }, 10*time.Second, 10*time.Millisecond, "%v", func() []string {
		var out []string
		for _, m := range sentTo(sb, wa) {
			out = append(out, string(m.Body))
		}
		return out
	}())
	require.Eventually(t, func() bool { return len(sentTo(sb, wa)) == before && countStatus(t, p, token, wa, "queued") == 0 },
		10*time.Second, 20*time.Millisecond, "the first sends are recorded as sent")

	// The burst, killed half way.
	client := &http.Client{Timeout: 10 * time.Second}
	next := make(chan int)
	var accepted atomic.Int32
	firstStatus := make([]int, total)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				st, _, id := keyedSend(client, p.url, token, "+"+wa, text(i), key(i))
				mu.Lock()
				firstStatus[i] = st
				if st == 202 {
					firstIDs[i] = id
				}
				mu.Unlock()
				if st == 202 {
					accepted.Add(1)
				}
			}
		}()
	}
	go func() {
		defer close(next)
		for i := before; i < total; i++ {
			next <- i
		}
	}()
	require.Eventually(t, func() bool { return accepted.Load() >= (total-before)/2 }, 30*time.Second, time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.wait(t, 10*time.Second)
	gate.mu.Lock()
	heldAtKill := gate.held
	gate.mu.Unlock()
	wg.Wait()
	unanswered := 0
	for i := before; i < total; i++ {
		switch firstStatus[i] {
		case 0:
			unanswered++
		case 202:
		default:
			t.Fatalf("send %d answered %d before the kill", i, firstStatus[i])
		}
	}
	t.Logf("before the kill: %d answered 202, %d never answered", total-unanswered, unanswered)
	require.Positive(t, unanswered, "the kill fell in the burst")

	restarted := time.Now()
	q := startEngine(t, env)
	replays, fresh, storedBefore := 0, 0, 0
	for i := 0; i < total; i++ {
		start := time.Now()
		st, replayed, id, created := keyedSendAt(client, q.url, token, "+"+wa, text(i), key(i))
		require.Equal(t, 202, st, "retry of %s after the restart", key(i))
		require.Less(t, time.Since(start), 5*time.Second, "answered at once")
		if prev, ok := firstIDs[i]; ok {
			require.Equal(t, prev, id, "%s names the message it named before the kill", key(i))
		}
		switch {
		case replayed:
			replays++
		case created.Before(restarted):
			// Run again, and the conversation answered with the message
			// the killed engine had stored under the same derived id.
			storedBefore++
		default:
			fresh++
		}
	}
	t.Logf("retries: %d replayed, %d found the message the killed engine stored, %d new; %s", replays, storedBefore, fresh,
		regexp.MustCompile(`unanswered Idempotency-Key claims[^\n]*`).FindString(q.stderr.String()))
	close(gate.open)

	textRE := regexp.MustCompile(`idem-\d{3}`)
	count := func() map[string]int {
		seen := map[string]int{}
		for _, m := range sentTo(sb, wa) {
			seen[textRE.FindString(string(m.Body))]++
		}
		return seen
	}
	// A send under way to WhatsApp when the engine died has an unknown
	// outcome (WhatsApp may have it: the Cloud API has no idempotency
	// key), so it is not sent again on its own: its message is failed
	// "send outcome unknown" and dead-lettered. Every other message goes
	// out once; no message is both.
	unknown := func() int { return countStatus(t, q, token, wa, "failed") }
	require.Eventually(t, func() bool { return len(count())+unknown() == total }, 60*time.Second, 50*time.Millisecond,
		"every message is sent or failed as outcome unknown")
	assert.LessOrEqual(t, unknown(), heldAtKill, "only sends under way at the kill are of unknown outcome")
	for _, n := range count() {
		require.Equal(t, 1, n, "no message sent twice")
	}
	t.Logf("%d sends under way at the kill; %d messages of unknown outcome dead-lettered", heldAtKill, unknown())

	// An operator's re-drive sends them: nothing is lost.
	if unknown() > 0 {
		st, body := q.post(t, "/api/whatsapp/dead-letters/redrive", token, map[string]any{})
		require.Equal(t, 200, st, body)
	}
	require.Eventually(t, func() bool { return len(count()) == total }, 60*time.Second, 50*time.Millisecond, "every message reaches WhatsApp")
	assert.Never(t, func() bool { return len(sentTo(sb, wa)) > total }, time.Second, 50*time.Millisecond)
	for i := 0; i < total; i++ {
		assert.Equal(t, 1, count()[text(i)], "%s sent exactly once", text(i))
	}
}

// countStatus counts the messages of the conversation with wa in status,
// through the API.
func countStatus(t *testing.T, p *engineProc, token, wa, status string) int {
	t.Helper()
	st, body := p.get(t, "/api/whatsapp/conversations?limit=100", token)
	require.Equal(t, 200, st, body)
	var convID string
	for _, c := range body["data"].(map[string]any)["items"].([]any) {
		if c.(map[string]any)["waId"] == wa {
			convID = c.(map[string]any)["id"].(string)
		}
	}
	require.NotEmpty(t, convID)
	n, cursor := 0, ""
	for {
		path := "/api/whatsapp/conversations/" + convID + "/messages?limit=100"
		if cursor != "" {
			path += "&before=" + cursor
		}
		st, body := p.get(t, path, token)
		require.Equal(t, 200, st, body)
		data := body["data"].(map[string]any)
		for _, m := range data["items"].([]any) {
			if m.(map[string]any)["status"] == status && m.(map[string]any)["direction"] == "outbound" {
				n++
			}
		}
		next, _ := data["nextCursor"].(string)
		if next == "" {
			return n
		}
		cursor = next
	}
}
