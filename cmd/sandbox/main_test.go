package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
	cases := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string // a variable the error must name
	}{
		{name: "defaults", env: map[string]string{},
			want: config{port: 4010, statusDelay: cloudapi.DefaultStatusDelay, logLevel: zapcore.InfoLevel}},
		{name: "everything set", env: map[string]string{"SANDBOX_PORT": "5000", "SANDBOX_WEBHOOK_URL": "http://127.0.0.1:8080/api/whatsapp/webhook",
			"WHATSAPP_APP_SECRET": "s3cret", "SANDBOX_STATUS_DELAY": "1s", "LOG_LEVEL": "debug"},
			want: config{port: 5000, webhookURL: "http://127.0.0.1:8080/api/whatsapp/webhook", appSecret: "s3cret", statusDelay: time.Second, logLevel: zapcore.DebugLevel}},
		{name: "delay in milliseconds", env: map[string]string{"SANDBOX_STATUS_DELAY": "250"},
			want: config{port: 4010, statusDelay: 250 * time.Millisecond, logLevel: zapcore.InfoLevel}},
		{name: "no delay", env: map[string]string{"SANDBOX_STATUS_DELAY": "0"},
			want: config{port: 4010, statusDelay: 0, logLevel: zapcore.InfoLevel}},
		{name: "bad port", env: map[string]string{"SANDBOX_PORT": "http"}, wantErr: "SANDBOX_PORT"},
		{name: "port out of range", env: map[string]string{"SANDBOX_PORT": "70000"}, wantErr: "SANDBOX_PORT"},
		{name: "bad delay", env: map[string]string{"SANDBOX_STATUS_DELAY": "soon"}, wantErr: "SANDBOX_STATUS_DELAY"},
		{name: "negative delay", env: map[string]string{"SANDBOX_STATUS_DELAY": "-1s"}, wantErr: "SANDBOX_STATUS_DELAY"},
		{name: "webhook not a URL", env: map[string]string{"SANDBOX_WEBHOOK_URL": "localhost:8080"}, wantErr: "SANDBOX_WEBHOOK_URL"},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "loud"}, wantErr: "LOG_LEVEL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tc.env[k] })
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

func TestRunServesAndStops(t *testing.T) {
	const secret = "cmd-secret"
	var signed atomic.Int32
	engine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if webhook.VerifySignature(body, r.Header.Get(webhook.SignatureHeader), secret) {
			if _, err := webhook.Parse(body); err == nil {
				signed.Add(1)
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(engine.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	cfg := config{webhookURL: engine.URL, appSecret: secret, statusDelay: 0, logLevel: zapcore.InfoLevel}
	go func() { done <- run(ctx, cfg, zaptest.NewLogger(t), ln) }()

	req, err := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/v21.0/123/messages",
		strings.NewReader(`{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":"hi"}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool { return signed.Load() == 3 }, 5*time.Second, 5*time.Millisecond,
		"sent, delivered and read posted, signed with WHATSAPP_APP_SECRET")

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
