package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/gateway/sandbox/cloudapi"
	"github.com/wacc/engine/gateway/webhook"
)

// freePort returns a loopback port free at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestKilledEngineLosesNoSend: 100 sends accepted, the engine killed with
// SIGKILL while they go out; after a restart every one reaches WhatsApp (a
// sandbox outliving the engine), and a send arrives twice only if its
// request was in flight at the kill.
func TestKilledEngineLosesNoSend(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the engine")
	}
	port := freePort(t)
	engineURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The customers write to the engine directly (signed webhooks), not
	// through the sandbox, so the sandbox takes their windows as open.
	sb := cloudapi.New(cloudapi.Options{Log: zap.NewNop(), WebhookURL: engineURL + "/api/whatsapp/webhook", AppSecret: testAppSecret, AssumeWindowOpen: true,
		StatusDelay: 20 * time.Millisecond, CallbackAttempts: 20, RetryBackoff: 100 * time.Millisecond})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = sb.Run(ctx) }()

	env := map[string]string{
		"PORT": fmt.Sprint(port), "DATA_DIR": t.TempDir(), "APP_ENV": "test",
		"JWT_SECRET": strings.Repeat("j", 32), "JWT_REFRESH_SECRET": strings.Repeat("r", 32),
		"WHATSAPP_APP_SECRET": testAppSecret, "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_ACCESS_TOKEN": "real-looking-token",
		"WHATSAPP_API_URL": srv.URL, "WHATSAPP_MPS": "20", "WHATSAPP_PAIR_INTERVAL": "0", "WHATSAPP_PAIR_BURST": "1000",
		"ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "admin-password",
		"RATE_LIMIT_API_PER_MIN": "100000",
	}
	p := startEngine(t, env)
	_, body := p.post(t, "/api/auth/login", "", map[string]string{"email": "admin@example.com", "password": "admin-password"})
	token := body["data"].(map[string]any)["accessToken"].(string)

	wa := "919811210000"
	hook := textBody("100000000000001", wa, "wamid.crash.in", "hi", time.Now())
	req, _ := http.NewRequest("POST", p.url+"/api/whatsapp/webhook", strings.NewReader(string(hook)))
	req.Header.Set("X-Hub-Signature-256", webhook.Sign(hook, testAppSecret))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.Eventually(t, func() bool {
		st, _ := p.get(t, "/api/whatsapp/conversations?status=new", token)
		return st == 200
	}, 5*time.Second, 20*time.Millisecond)

	const total = 100
	for i := 0; i < total; i++ {
		var st int
		require.Eventually(t, func() bool {
			st, body = p.post(t, "/api/whatsapp/messages", token, map[string]any{"to": "+" + wa, "type": "text", "text": map[string]string{"body": fmt.Sprintf("crash-%03d", i)}})
			return st != 422 // the conversation may still be opening
		}, 5*time.Second, 20*time.Millisecond)
		require.Equal(t, 202, st, body)
	}
	require.Eventually(t, func() bool { return len(sentTo(sb, wa)) >= total/3 }, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_ = p.wait(t, 10*time.Second)
	atKill := len(sentTo(sb, wa))
	require.Less(t, atKill, total, "killed while sends were still going out")

	startEngine(t, env)
	distinct := func() map[string]int {
		seen := map[string]int{}
		for _, m := range sentTo(sb, wa) {
			s := string(m.Body)
			i := strings.Index(s, "crash-")
			seen[s[i:i+9]]++
		}
		return seen
	}
	require.Eventually(t, func() bool { return len(distinct()) == total }, 60*time.Second, 50*time.Millisecond, "every accepted send reaches WhatsApp after the restart")
	repeats := len(sentTo(sb, wa)) - total
	t.Logf("sent before the kill: %d; repeats after the restart: %d", atKill, repeats)
	// Only a request in flight at the kill can be repeated; at 20 MPS at
	// most one or two are.
	require.LessOrEqual(t, repeats, 2)
}
