package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway/sandbox/cloudapi"
)

// cloudAPI is a fake WhatsApp Cloud API: it answers the errors a test asks
// for in Meta's exact shape and status, and hands every other send to a
// sandbox (which validates it as Meta does and accepts it). It records
// every send it is asked for, in arrival order.
type cloudAPI struct {
	t   *testing.T
	srv *httptest.Server
	sb  *cloudapi.Sandbox

	mu          sync.Mutex
	tokenBroken bool            // every send: HTTP 401, code 190
	spam        map[string]bool // wa_id -> every send: HTTP 400, code 131048
	calls       []cloudCall
}

// cloudCall is one send the fake was asked for.
type cloudCall struct {
	to   string
	body string
	// arrived is when the request reached the fake; answered when its
	// error answer was about to be written (zero when passed on).
	arrived, answered time.Time
	code              int // Meta's error code answered, 0 when passed on
}

func newCloudAPI(t *testing.T) *cloudAPI {
	t.Helper()
	f := &cloudAPI{t: t, spam: map[string]bool{},
		sb: cloudapi.New(cloudapi.Options{Log: zap.NewNop()})} // no webhook URL: no status callbacks
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *cloudAPI) serve(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/messages") {
		f.sb.Handler().ServeHTTP(w, r)
		return
	}
	var req struct {
		To string `json:"to"`
	}
	_ = json.Unmarshal(raw, &req)
	to := strings.TrimPrefix(req.To, "+")

	f.mu.Lock()
	call := cloudCall{to: to, body: string(raw), arrived: arrived}
	var status int
	var answer map[string]any
	switch {
	case f.tokenBroken:
		// Graph's expired-session answer: HTTP 401, OAuthException 190/463.
		status, call.code = http.StatusUnauthorized, 190
		answer = map[string]any{"message": "Error validating access token: Session has expired on Tuesday, 01-Jul-25 10:00:00 PDT. The current time is Tuesday, 01-Jul-25 11:00:00 PDT.",
			"type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUvW"}
	case f.spam[to]:
		// Cloud API's spam rate limit: HTTP 400, code 131048.
		status, call.code = http.StatusBadRequest, 131048
		answer = map[string]any{"message": "(#131048) Spam rate limit hit", "type": "OAuthException", "code": 131048,
			"error_data": map[string]any{"messaging_product": "whatsapp",
				"details": "Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam."},
			"fbtrace_id": "AbCdEfGhIjKlMnOpQrStUvW"}
	}
	if answer != nil {
		call.answered = time.Now()
	}
	f.calls = append(f.calls, call)
	f.mu.Unlock()

	if answer == nil {
		f.sb.Handler().ServeHTTP(w, r)
		return
	}
	if call.code == 190 {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "Error validating access token: Session has expired"`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": answer})
}

func (f *cloudAPI) breakToken(broken bool) {
	f.mu.Lock()
	f.tokenBroken = broken
	f.mu.Unlock()
}

func (f *cloudAPI) flagSpam(waID string) {
	f.mu.Lock()
	f.spam[waID] = true
	f.mu.Unlock()
}

func (f *cloudAPI) log() []cloudCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cloudCall(nil), f.calls...)
}

func (f *cloudAPI) callsTo(waID string) int {
	n := 0
	for _, c := range f.log() {
		if c.to == waID {
			n++
		}
	}
	return n
}

// acceptedWith counts the accepted sends whose body holds text.
func (f *cloudAPI) acceptedWith(text string) int {
	n := 0
	for _, m := range f.sb.Sent() {
		if strings.Contains(string(m.Body), text) {
			n++
		}
	}
	return n
}

// pauseConfig is an engine sending to the fake Cloud API instead of its
// own sandbox, one send at a time so each send starts after the previous
// one's outcome (and any pause it set) is settled.
func pauseConfig(t *testing.T, cfg configs.Config, api *cloudAPI) configs.Config {
	t.Helper()
	cfg.WhatsAppAccessToken = "token-under-test"
	cfg.WhatsAppAPIURL = api.srv.URL
	cfg.SendWorkers = 1
	return cfg
}

// startObserved is startLive with the engine's warnings and errors also
// kept for the test to read.
func startObserved(t *testing.T, cfg configs.Config) (*live, *observer.ObservedLogs) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core(), core))
	l := &live{t: t, cfg: cfg, client: &http.Client{Timeout: 15 * time.Second}, log: log}
	l.start()
	t.Cleanup(l.stop)
	return l, logs
}

// metric reads one sample of GET /metrics (on the METRICS_ADDR listener); series is the name with its
// labels as Prometheus prints them, e.g. engine_sends_total{outcome="held"}.
// A series not yet exported reads 0.
func (l *live) metric(series string) float64 {
	l.t.Helper()
	res, err := l.client.Get("http://" + l.e.opsAddr + "/metrics")
	require.NoError(l.t, err)
	defer res.Body.Close()
	require.Equal(l.t, http.StatusOK, res.StatusCode)
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			require.NoError(l.t, err, sc.Text())
			return n
		}
	}
	require.NoError(l.t, sc.Err())
	return 0
}

func (l *live) sendID(token, wa, text string) string {
	l.t.Helper()
	st, body := l.send(token, "+"+wa, text)
	require.Equal(l.t, http.StatusAccepted, st, body)
	return body["data"].(map[string]any)["message"].(map[string]any)["id"].(string)
}

// TestTokenErrorPausesTheNumber: a 190 from the Cloud API pauses the
// business number. The error log and the metric appear; sends to that
// number asked for during the pause are held back untried (no request
// reaches the Cloud API before the pause is over), none is lost, and all go
// out once the token works again.
func TestTokenErrorPausesTheNumber(t *testing.T) {
	t.Parallel()
	queueModes(t, func(t *testing.T, cfg configs.Config) {
		api := newCloudAPI(t)
		cfg = pauseConfig(t, cfg, api)
		cfg.NumberPause = 2 * time.Second
		api.breakToken(true)
		l, logs := startObserved(t, cfg)
		admin := l.admin()
		waA, waB := "919811410000", "919811420000"
		l.customerWrites(waA)
		l.customerWrites(waB)

		first := l.sendID(admin, waA, "pause-first")
		require.Eventually(t, func() bool { return l.metric(`engine_sender_paused_total{scope="number"}`) >= 1 },
			10*time.Second, 20*time.Millisecond, "the number's pause is counted")
		require.Eventually(t, func() bool {
			return logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("sends paused").FilterField(zap.Int("code", 190)).Len() >= 1
		}, 5*time.Second, 20*time.Millisecond, "an error log names code 190")
		entry := logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("sends paused").All()[0]
		assert.Equal(t, cfg.WhatsAppPhoneNumberID, entry.ContextMap()["phone_number_id"])
		assert.Equal(t, first, entry.ContextMap()["message_id"])

		// Sends asked for while the number is paused, to another recipient
		// and to the same one: held back untried.
		heldBefore := l.metric(`engine_sends_total{outcome="held"}`)
		second := l.sendID(admin, waB, "pause-second")
		third := l.sendID(admin, waA, "pause-third")
		require.Eventually(t, func() bool { return l.metric(`engine_sends_total{outcome="held"}`) >= heldBefore+2 },
			20*time.Second, 20*time.Millisecond, "both later sends are held back")
		for _, id := range []string{first, second, third} {
			assert.Equal(t, actors.StatusQueued, l.messageStatus(id), "still queued during the pause")
		}

		api.breakToken(false)
		for _, id := range []string{first, second, third} {
			require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusSent },
				30*time.Second, 20*time.Millisecond, "message %s goes out after the pause", id)
		}
		for _, text := range []string{"pause-first", "pause-second", "pause-third"} {
			assert.Equal(t, 1, api.acceptedWith(text), "%s accepted exactly once", text)
		}

		// No request reached the Cloud API while a pause was running: the
		// engine paused the number after the 190 was written, so every
		// next request arrives at least the pause later.
		calls := api.log()
		require.GreaterOrEqual(t, len(calls), 4)
		for i := 0; i+1 < len(calls); i++ {
			if calls[i].code != 190 {
				continue
			}
			gap := calls[i+1].arrived.Sub(calls[i].answered)
			assert.GreaterOrEqual(t, gap, cfg.NumberPause, "request %d (to %s) came %s after the 190 answered to request %d", i+1, calls[i+1].to, gap, i)
		}
		assert.Equal(t, 0, logs.FilterMessageSnippet("dead-lettered").Len(), "no send was dead-lettered")
	})
}

// TestSpamLimitPausesOnlyThatRecipient: a 131048 for one recipient holds
// that recipient back for hours while another recipient on the same
// business number still gets every message; the held messages stay queued.
func TestSpamLimitPausesOnlyThatRecipient(t *testing.T) {
	api := newCloudAPI(t)
	cfg := pauseConfig(t, testConfig(t), api)
	require.Zero(t, cfg.RecipientPause, "the default: Meta's hours")
	l, logs := startObserved(t, cfg)
	admin := l.admin()
	waSpam, waOK := "919811430000", "919811440000"
	api.flagSpam(waSpam)
	l.customerWrites(waSpam)
	l.customerWrites(waOK)

	first := l.sendID(admin, waSpam, "spam-first")
	require.Eventually(t, func() bool { return l.metric(`engine_sender_paused_total{scope="recipient"}`) >= 1 },
		10*time.Second, 20*time.Millisecond, "the recipient's pause is counted")
	require.Eventually(t, func() bool {
		return logs.FilterMessageSnippet("recipient paused").FilterField(zap.Int("code", 131048)).Len() == 1
	}, 5*time.Second, 20*time.Millisecond, "a warning names code 131048")

	heldBefore := l.metric(`engine_sends_total{outcome="held"}`)
	second := l.sendID(admin, waSpam, "spam-second")
	var others []string
	for i := range 3 {
		others = append(others, l.sendID(admin, waOK, fmt.Sprintf("other-%d", i)))
	}
	for _, id := range others {
		require.Eventually(t, func() bool { return l.messageStatus(id) == actors.StatusSent },
			20*time.Second, 20*time.Millisecond, "the other recipient's message %s goes out", id)
	}
	require.Eventually(t, func() bool { return l.metric(`engine_sends_total{outcome="held"}`) >= heldBefore+1 },
		20*time.Second, 20*time.Millisecond, "the paused recipient's next send is held back")

	assert.Equal(t, 1, api.callsTo(waSpam), "the paused recipient was not tried again")
	assert.Equal(t, 3, api.callsTo(waOK))
	for _, id := range []string{first, second} {
		assert.Equal(t, actors.StatusQueued, l.messageStatus(id), "held, not failed or lost")
	}
	assert.Zero(t, l.metric(`engine_sender_paused_total{scope="number"}`), "the number itself was not paused")
}

// TestHeldSendUsesNoAttempt: a send held back by a pause is not a failed
// attempt. With one attempt allowed, the send that met the 190 is
// dead-lettered and failed, but a send held while the number is paused
// stays queued however often it is held, and goes out once the pause ends.
func TestHeldSendUsesNoAttempt(t *testing.T) {
	api := newCloudAPI(t)
	cfg := pauseConfig(t, testConfig(t), api)
	cfg.SendMaxAttempts = 1
	cfg.NumberPause = 3 * time.Second
	api.breakToken(true)
	l, _ := startObserved(t, cfg)
	admin := l.admin()
	wa := "919811450000"
	l.customerWrites(wa)

	first := l.sendID(admin, wa, "last-first")
	require.Eventually(t, func() bool { return l.messageStatus(first) == actors.StatusFailed },
		10*time.Second, 20*time.Millisecond, "190 on the only attempt: dead-lettered")
	heldBefore := l.metric(`engine_sends_total{outcome="held"}`)
	second := l.sendID(admin, wa, "last-second")
	// Held without using its only attempt: wait for the hold itself (the
	// sender took the job, found the number paused and put it back), not
	// for some time to pass.
	require.Eventually(t, func() bool { return l.metric(`engine_sends_total{outcome="held"}`) >= heldBefore+1 },
		10*time.Second, 20*time.Millisecond, "the send is held back")
	assert.Equal(t, actors.StatusQueued, l.messageStatus(second), "held on its only attempt: still queued")
	assert.Equal(t, 1, api.callsTo(wa), "the held send has not reached the Cloud API")
	api.breakToken(false)
	require.Eventually(t, func() bool { return l.messageStatus(second) == actors.StatusSent },
		10*time.Second, 20*time.Millisecond, "sent once the pause ended")
	assert.Equal(t, 2, api.callsTo(wa))

	st, body := l.api("GET", "/api/whatsapp/dead-letters", admin, nil)
	require.Equal(t, http.StatusOK, st, body)
	listed := map[string]bool{}
	for _, it := range body["data"].(map[string]any)["items"].([]any) {
		listed[it.(map[string]any)["job"].(map[string]any)["messageId"].(string)] = true
	}
	assert.Equal(t, map[string]bool{first: true}, listed, "only the send that failed is a dead letter")
}
