package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/gatewaytest"
	"github.com/wacc/engine/gateway/webhook"
)

const testAppSecret = "test-app-secret"

// live is a whole engine running in the test process on a loopback port,
// over SQLite in a temporary DATA_DIR.
type live struct {
	t      *testing.T
	cfg    configs.Config
	e      *engine
	url    string
	cancel context.CancelFunc
	done   chan error
	client *http.Client
	// log, when set, is the engine's logger instead of the test's.
	log *zap.Logger
}

func testConfig(t *testing.T) configs.Config {
	cfg := configs.Defaults()
	cfg.AppEnv = configs.EnvTest
	cfg.Host, cfg.Port = "127.0.0.1", 0
	cfg.DataDir = t.TempDir()
	cfg.JWTSecret = strings.Repeat("j", 32)
	cfg.JWTRefreshSecret = strings.Repeat("r", 32)
	cfg.WhatsAppAppSecret = testAppSecret
	cfg.WhatsAppVerifyToken = "verify-me"
	cfg.AdminEmail, cfg.AdminPassword = "admin@example.com", "admin-password"
	cfg.RateLimitAPIPerMin, cfg.RateLimitAuthPerMin = 1000000, 1000000
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.ConversationShards = 4
	cfg.SandboxPort = 0
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.SandboxExotelPort = 0
	// The tests post customers' messages to the engine's webhook directly,
	// not through the sandbox, so the sandbox cannot see them open the
	// customer service window: it treats a customer it never saw write as
	// inside it (one who wrote through the sandbox is still measured).
	cfg.SandboxAssumeWindow = true
	cfg.PairInterval = 50 * time.Millisecond
	return cfg
}

func startLive(t *testing.T, cfg configs.Config) *live {
	t.Helper()
	require.NoError(t, cfg.Validate())
	l := &live{t: t, cfg: cfg, client: &http.Client{Timeout: 15 * time.Second}}
	l.start()
	t.Cleanup(l.stop)
	return l
}

func (l *live) start() {
	l.t.Helper()
	log := l.log
	if log == nil {
		log = zaptest.NewLogger(l.t, zaptest.Level(zap.WarnLevel))
	}
	ctx, cancel := context.WithCancel(context.Background())
	e, err := newEngine(ctx, l.cfg, log)
	if err != nil {
		cancel()
		require.NoError(l.t, err)
	}
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, ready) }()
	select {
	case a := <-ready:
		l.url = "http://" + a.String()
	case err := <-done:
		cancel()
		l.t.Fatalf("engine stopped before listening: %v", err)
	}
	l.e, l.cancel, l.done = e, cancel, done
}

func (l *live) stop() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	select {
	case err := <-l.done:
		require.NoError(l.t, err)
	case <-time.After(20 * time.Second):
		l.t.Error("engine did not stop")
	}
	l.cancel = nil
}

// restart stops the engine and starts a new one on the same DATA_DIR.
func (l *live) restart() {
	l.t.Helper()
	l.stop()
	l.start()
}

// api calls the engine; body is JSON-encoded unless nil.
func (l *live) api(method, path, token string, body any) (int, map[string]any) {
	l.t.Helper()
	return l.apiWith(method, path, token, body)
}

// apiWith is api with extra headers as name/value pairs.
func (l *live) apiWith(method, path, token string, body any, headers ...string) (int, map[string]any) {
	l.t.Helper()
	status, _, raw := gatewaytest.Call(l.t, l.client, method, l.url+path, token, body, headers...)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return status, out
}

// webhook posts a body signed with the app secret (or with signature as
// given when not empty).
func (l *live) webhook(body []byte, signature string) int {
	l.t.Helper()
	req, err := http.NewRequest("POST", l.url+"/api/whatsapp/webhook", bytes.NewReader(body))
	require.NoError(l.t, err)
	req.Header.Set("Content-Type", "application/json")
	if signature == "" {
		signature = webhook.Sign(body, testAppSecret)
	}
	if signature != "-" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	res, err := l.client.Do(req)
	require.NoError(l.t, err)
	res.Body.Close()
	return res.StatusCode
}

func (l *live) login(email, password string) string {
	l.t.Helper()
	st, body := l.api("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password})
	require.Equal(l.t, 200, st, body)
	return body["data"].(map[string]any)["accessToken"].(string)
}

func (l *live) admin() string { return l.login("admin@example.com", "admin-password") }

// agent creates a user of role and returns its id and token.
func (l *live) user(role actors.Role) (string, string) {
	l.t.Helper()
	email := fmt.Sprintf("%s-%s@example.com", role, actors.NewID()[20:])
	u, err := l.e.conv.app.CreateUser(context.Background(), app.NewUser{Email: email, Password: "user-password", Name: string(role), Role: role})
	require.NoError(l.t, err)
	return u.ID, l.login(email, "user-password")
}

// textBody is a realistic single-message webhook body.
func textBody(phoneNumberID, waID, wamid, text string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},"contacts":[{"profile":{"name":"Customer %s"},"wa_id":%q}],`+
		`"messages":[{"from":%q,"id":%q,"timestamp":"%d","text":{"body":%q},"type":"text"}]},"field":"messages"}]}]}`,
		phoneNumberID, waID, waID, waID, wamid, at.Unix(), text))
}

// statusBody is a single-status webhook body.
func statusBody(phoneNumberID, waID, wamid, status string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},`+
		`"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q}]},"field":"messages"}]}]}`,
		phoneNumberID, wamid, status, at.Unix(), waID))
}

// conversationOf waits for the open conversation of (phone, waID) and
// returns it from the store.
func (l *live) conversationOf(phone, waID string) actors.Conversation {
	l.t.Helper()
	var c actors.Conversation
	require.Eventually(l.t, func() bool {
		var err error
		c, err = l.e.store.OpenConversation(context.Background(), phone, waID)
		// Version 1 is the bare row; the first message's save follows.
		return err == nil && c.Version >= 2
	}, 10*time.Second, 10*time.Millisecond, "conversation %s/%s appears", phone, waID)
	return c
}

func (l *live) messages(convID string) []actors.Message {
	l.t.Helper()
	var all []actors.Message
	cursor := ""
	for {
		ms, next, err := l.e.store.ListMessages(context.Background(), convID, cursor, 100)
		require.NoError(l.t, err)
		all = append(all, ms...)
		if next == "" {
			return all
		}
		cursor = next
	}
}
