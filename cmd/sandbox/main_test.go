package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/gateway/sandbox/cloudapi"
	"github.com/wacc/engine/gateway/webhook"
)

func TestLoadConfig(t *testing.T) {
	with := func(change func(*config)) config {
		c := defaultConfig()
		change(&c)
		return c
	}
	cases := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string // a variable the error must name
	}{
		{name: "defaults: loopback, PMP, 24h window", env: map[string]string{},
			want: config{host: "127.0.0.1", port: 4010, statusDelay: cloudapi.DefaultStatusDelay, logLevel: zapcore.InfoLevel,
				wabaID: "100000000000002", pricing: "PMP", window: 24 * time.Hour, reviewDelay: time.Second, mediaURLLife: 5 * time.Minute,
				exotel: exotelConfig{sid: "sandbox1", apiKey: "sandbox-key", apiToken: "sandbox-token", callerIDs: []string{"08047112233"},
					ringDelay: 6 * time.Second, talkDelay: 20 * time.Second}}},
		{name: "everything set", env: map[string]string{"SANDBOX_HOST": "0.0.0.0", "SANDBOX_PORT": "5000", "SANDBOX_WEBHOOK_URL": "http://127.0.0.1:8080/api/whatsapp/webhook",
			"WHATSAPP_APP_SECRET": "s3cret", "SANDBOX_STATUS_DELAY": "1s", "LOG_LEVEL": "debug", "SANDBOX_WABA_ID": "555", "SANDBOX_PRICING": "cbp",
			"SANDBOX_WINDOW": "2m", "SANDBOX_ASSUME_WINDOW_OPEN": "true", "SANDBOX_TEMPLATE_REVIEW_DELAY": "5s", "SANDBOX_MEDIA_URL_LIFE": "30s"},
			want: config{host: "0.0.0.0", port: 5000, webhookURL: "http://127.0.0.1:8080/api/whatsapp/webhook", appSecret: "s3cret", statusDelay: time.Second,
				logLevel: zapcore.DebugLevel, wabaID: "555", pricing: "CBP", window: 2 * time.Minute, assumeWindowOpen: true, reviewDelay: 5 * time.Second, mediaURLLife: 30 * time.Second,
				exotel: defaultConfig().exotel}},
		{name: "exotel set", env: map[string]string{"SANDBOX_EXOTEL_SID": "acme1", "SANDBOX_EXOTEL_API_KEY": "k", "SANDBOX_EXOTEL_API_TOKEN": "t",
			"SANDBOX_EXOTEL_CALLER_IDS": "08047000000, +918047000001", "SANDBOX_EXOTEL_RING_DELAY": "100ms", "SANDBOX_EXOTEL_TALK_DELAY": "2s"},
			want: with(func(c *config) {
				c.exotel = exotelConfig{sid: "acme1", apiKey: "k", apiToken: "t", callerIDs: []string{"08047000000", "+918047000001"},
					ringDelay: 100 * time.Millisecond, talkDelay: 2 * time.Second}
			})},
		{name: "bad exotel sid", env: map[string]string{"SANDBOX_EXOTEL_SID": "a/b"}, wantErr: "SANDBOX_EXOTEL_SID"},
		{name: "bad exotel caller id", env: map[string]string{"SANDBOX_EXOTEL_CALLER_IDS": "08047000000,exophone"}, wantErr: "SANDBOX_EXOTEL_CALLER_IDS"},
		{name: "zero exotel ring delay", env: map[string]string{"SANDBOX_EXOTEL_RING_DELAY": "0"}, wantErr: "SANDBOX_EXOTEL_RING_DELAY"},
		{name: "bad exotel talk delay", env: map[string]string{"SANDBOX_EXOTEL_TALK_DELAY": "long"}, wantErr: "SANDBOX_EXOTEL_TALK_DELAY"},
		{name: "host set empty: every interface", env: map[string]string{"SANDBOX_HOST": ""},
			want: with(func(c *config) { c.host = "" })},
		{name: "delay in milliseconds", env: map[string]string{"SANDBOX_STATUS_DELAY": "250"},
			want: with(func(c *config) { c.statusDelay = 250 * time.Millisecond })},
		{name: "no delay", env: map[string]string{"SANDBOX_STATUS_DELAY": "0"},
			want: with(func(c *config) { c.statusDelay = 0 })},
		{name: "bad pricing", env: map[string]string{"SANDBOX_PRICING": "free"}, wantErr: "SANDBOX_PRICING"},
		{name: "zero window", env: map[string]string{"SANDBOX_WINDOW": "0"}, wantErr: "SANDBOX_WINDOW"},
		{name: "zero media URL life", env: map[string]string{"SANDBOX_MEDIA_URL_LIFE": "0"}, wantErr: "SANDBOX_MEDIA_URL_LIFE"},
		{name: "bad window open flag", env: map[string]string{"SANDBOX_ASSUME_WINDOW_OPEN": "maybe"}, wantErr: "SANDBOX_ASSUME_WINDOW_OPEN"},
		{name: "bad review delay", env: map[string]string{"SANDBOX_TEMPLATE_REVIEW_DELAY": "later"}, wantErr: "SANDBOX_TEMPLATE_REVIEW_DELAY"},
		{name: "bad WABA id", env: map[string]string{"SANDBOX_WABA_ID": "a/b"}, wantErr: "SANDBOX_WABA_ID"},
		{name: "bad port", env: map[string]string{"SANDBOX_PORT": "http"}, wantErr: "SANDBOX_PORT"},
		{name: "port out of range", env: map[string]string{"SANDBOX_PORT": "70000"}, wantErr: "SANDBOX_PORT"},
		{name: "bad delay", env: map[string]string{"SANDBOX_STATUS_DELAY": "soon"}, wantErr: "SANDBOX_STATUS_DELAY"},
		{name: "negative delay", env: map[string]string{"SANDBOX_STATUS_DELAY": "-1s"}, wantErr: "SANDBOX_STATUS_DELAY"},
		{name: "webhook not a URL", env: map[string]string{"SANDBOX_WEBHOOK_URL": "localhost:8080"}, wantErr: "SANDBOX_WEBHOOK_URL"},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "loud"}, wantErr: "LOG_LEVEL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg)
		})
	}
}

func TestListensOnLoopbackByDefault(t *testing.T) {
	cfg, err := loadConfig(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.port = 0
	ln, err := listen(cfg)
	require.NoError(t, err)
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	require.True(t, ok)
	assert.True(t, addr.IP.IsLoopback(), "listening on %s", addr)
}

func TestRunServesAndStops(t *testing.T) {
	const secret = "cmd-secret"
	var mu sync.Mutex
	var messages, statuses int
	var types []string
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if webhook.VerifySignature(body, r.Header.Get(webhook.SignatureHeader), secret) {
			if b, err := webhook.Parse(body); err == nil {
				mu.Lock()
				messages += len(b.Messages)
				statuses += len(b.Statuses)
				for _, m := range b.Messages {
					types = append(types, m.Type)
				}
				mu.Unlock()
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(engine.Close)
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return messages, statuses
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	cfg := defaultConfig()
	cfg.webhookURL, cfg.appSecret, cfg.statusDelay = engine.URL, secret, 0
	cfg.exotel.ringDelay, cfg.exotel.talkDelay = 10*time.Millisecond, 10*time.Millisecond
	go func() { done <- run(ctx, cfg, zaptest.NewLogger(t), ln) }()
	base := "http://" + ln.Addr().String()
	post := func(path, token, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}

	// The customer shares a location, which opens the service window ...
	resp := post("/sandbox/whatsapp/inbound", "", `{"from":"919876543210","phoneNumberId":"123","type":"location","location":{"latitude":12.97,"longitude":77.59}}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Eventually(t, func() bool { m, _ := counts(); return m == 1 }, 5*time.Second, 5*time.Millisecond, "the inbound location is posted")
	// ... so the reply is delivered.
	resp = post("/v21.0/123/messages", "t", `{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":"hi"}}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool { _, s := counts(); return s == 3 }, 5*time.Second, 5*time.Millisecond,
		"sent, delivered and read posted, signed with WHATSAPP_APP_SECRET")
	mu.Lock()
	assert.Equal(t, []string{"location"}, types)
	mu.Unlock()

	// The template endpoints answer for SANDBOX_WABA_ID.
	req, err := http.NewRequest(http.MethodGet, base+"/v21.0/"+cfg.wabaID+"/message_templates?fields=name", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer t")
	tr, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(tr.Body)
	tr.Body.Close()
	require.Equal(t, http.StatusOK, tr.StatusCode, "templates: %s", raw)
	assert.Contains(t, string(raw), `"name":"hello_world"`)

	// The Exotel sandbox answers on the same listener, with its
	// credentials, and posts its callbacks.
	var exoMu sync.Mutex
	var exoCallbacks []map[string]any
	exoHook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cb map[string]any
		if json.NewDecoder(r.Body).Decode(&cb) == nil {
			exoMu.Lock()
			exoCallbacks = append(exoCallbacks, cb)
			exoMu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(exoHook.Close)
	form := url.Values{"From": {"+919800000001"}, "To": {"+919812340005"}, "CallerId": {"08047112233"},
		"StatusCallback": {exoHook.URL}, "StatusCallbackEvents[0]": {"terminal"}, "StatusCallbackContentType": {"application/json"}}
	connect := func(key string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, base+"/v1/Accounts/"+cfg.exotel.sid+"/Calls/connect.json", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(key, cfg.exotel.apiToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	st, body := connect("wrong")
	require.Equal(t, http.StatusUnauthorized, st, body)
	assert.Contains(t, body, `"RestException"`)
	st, body = connect(cfg.exotel.apiKey)
	require.Equal(t, http.StatusOK, st, body)
	assert.Contains(t, body, `"Status":"in-progress"`)
	require.Eventually(t, func() bool { exoMu.Lock(); defer exoMu.Unlock(); return len(exoCallbacks) == 1 }, 5*time.Second, 5*time.Millisecond,
		"the busy call's terminal callback")
	exoMu.Lock()
	assert.Equal(t, "busy", exoCallbacks[0]["Status"])
	exoMu.Unlock()

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	assert.Error(t, err, "the listener is closed")
}
