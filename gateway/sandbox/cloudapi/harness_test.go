package cloudapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/webhook"
)

const (
	testSecret  = "test-app-secret"
	testPhoneID = "1122334455667"
	testToken   = "test-token"
	waitFor     = 5 * time.Second
	tick        = 5 * time.Millisecond
)

// receiver is a fake engine webhook: it checks the signature with
// webhook.VerifySignature, parses with webhook.Parse and records what came.
type receiver struct {
	t      *testing.T
	secret string
	// hold, when set before the first post, is called at the start of
	// every post (to keep the sandbox's workers busy); held counts the
	// posts inside it.
	hold func()
	held atomic.Int32

	mu        sync.Mutex
	failNext  int // answer 500 to this many more valid posts
	failAll   bool
	posts     int // every valid post, answered 200 or not
	badSig    int
	malformed int
	bodies    [][]byte
	headers   []http.Header
	batches   []actors.WebhookBatch
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	hold := rc.hold
	rc.mu.Unlock()
	if hold != nil {
		rc.held.Add(1)
		hold()
		rc.held.Add(-1)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
		!webhook.VerifySignature(body, r.Header.Get(webhook.SignatureHeader), rc.secret) {
		rc.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	batch, err := webhook.Parse(body)
	if err != nil {
		rc.malformed++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.posts++
	if rc.failAll || rc.failNext > 0 {
		rc.failNext--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rc.bodies = append(rc.bodies, body)
	rc.headers = append(rc.headers, r.Header.Clone())
	rc.batches = append(rc.batches, batch)
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) setFail(next int, all bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.failNext, rc.failAll = next, all
}

// statuses returns the accepted status updates for wamid, in arrival order.
func (rc *receiver) statuses(wamid string) []actors.StatusUpdate {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []actors.StatusUpdate
	for _, b := range rc.batches {
		for _, s := range b.Statuses {
			if s.WaMessageID == wamid {
				out = append(out, s)
			}
		}
	}
	return out
}

func statusNames(us []actors.StatusUpdate) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Status
	}
	return out
}

func (rc *receiver) messages() []actors.InboundMessage {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []actors.InboundMessage
	for _, b := range rc.batches {
		out = append(out, b.Messages...)
	}
	return out
}

// others returns the raw changes of every field but "messages" (template
// events), in arrival order.
func (rc *receiver) others() []json.RawMessage {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []json.RawMessage
	for _, b := range rc.batches {
		out = append(out, b.Other...)
	}
	return out
}

func (rc *receiver) setHold(f func()) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hold = f
}

// waiting is the number of posts held right now.
func (rc *receiver) waiting() int { return int(rc.held.Load()) }

// header returns the headers of the i-th accepted body.
func (rc *receiver) header(i int) http.Header {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.headers[i]
}

// allBodies returns a copy of the accepted bodies.
func (rc *receiver) allBodies() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...)
}

func (rc *receiver) counts() (posts, badSig, malformed int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.posts, rc.badSig, rc.malformed
}

type harness struct {
	sb  *Sandbox
	srv *httptest.Server
	rcv *receiver
}

// newHarness starts a fake engine webhook, a sandbox posting to it (unless
// noWebhook) served on a real listener, and Run; everything stops in
// t.Cleanup, and Run must return nil.
func newHarness(t *testing.T, opts Options, noWebhook bool) *harness {
	t.Helper()
	rcv := &receiver{t: t, secret: testSecret}
	engine := httptest.NewServer(rcv)
	t.Cleanup(engine.Close)
	if !noWebhook {
		opts.WebhookURL = engine.URL + "/api/whatsapp/webhook"
	}
	if opts.AppSecret == "" {
		opts.AppSecret = testSecret
	}
	if opts.Log == nil {
		opts.Log = zaptest.NewLogger(t)
	}
	if opts.TimeoutHold == 0 {
		opts.TimeoutHold = 2 * time.Second // a test that trips 0003 by mistake fails fast
	}
	if opts.RetryBackoff == 0 {
		opts.RetryBackoff = time.Millisecond
	}
	sb := New(opts)
	srv := httptest.NewServer(sb.Handler())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(waitFor):
			t.Error("Run did not return after its context ended")
		}
		srv.Close()
	})
	return &harness{sb: sb, srv: srv, rcv: rcv}
}

// apiResult is one HTTP answer, decoded when it is JSON.
type apiResult struct {
	status int
	raw    []byte
	json   map[string]any
}

func (r apiResult) errorObject(t *testing.T) map[string]any {
	t.Helper()
	e, ok := r.json["error"].(map[string]any)
	require.True(t, ok, "answer has no error object: %s", r.raw)
	return e
}

func (h *harness) do(t *testing.T, method, path, token string, body []byte, contentType string) apiResult {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := h.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	res := apiResult{status: resp.StatusCode, raw: raw}
	if len(raw) > 0 && json.Valid(raw) {
		require.NoError(t, json.Unmarshal(raw, &res.json))
	}
	return res
}

// send posts a message body (a JSON string) as the engine would.
func (h *harness) send(t *testing.T, body string) apiResult {
	t.Helper()
	return h.do(t, http.MethodPost, "/v21.0/"+testPhoneID+"/messages", testToken, []byte(body), "application/json")
}

// inbound simulates a customer's message (a JSON body for POST
// /sandbox/whatsapp/inbound) and returns the answer.
func (h *harness) inbound(t *testing.T, body string) apiResult {
	t.Helper()
	return h.do(t, http.MethodPost, "/sandbox/whatsapp/inbound", "", []byte(body), "application/json")
}

// customerWrites simulates a text from waID to the test business number,
// which opens their customer service window, and waits until the engine
// (the receiver) has it.
func (h *harness) customerWrites(t *testing.T, waID string) {
	t.Helper()
	before := len(h.rcv.messages())
	res := h.inbound(t, `{"from":"`+waID+`","text":"hello","phoneNumberId":"`+testPhoneID+`"}`)
	require.Equal(t, http.StatusAccepted, res.status, "inbound: %s", res.raw)
	require.Eventually(t, func() bool { return len(h.rcv.messages()) > before }, waitFor, tick)
}

// sendText sends a valid text message to to and returns the answer.
func (h *harness) sendText(t *testing.T, to string) apiResult {
	t.Helper()
	return h.send(t, `{"messaging_product":"whatsapp","to":"`+to+`","type":"text","text":{"body":"hello"}}`)
}

// wamidOf returns messages[0].id of a successful send.
func wamidOf(t *testing.T, r apiResult) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "send answer: %s", r.raw)
	msgs, ok := r.json["messages"].([]any)
	require.True(t, ok, "answer has no messages: %s", r.raw)
	require.Len(t, msgs, 1)
	id, _ := msgs[0].(map[string]any)["id"].(string)
	require.NotEmpty(t, id)
	return id
}

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
