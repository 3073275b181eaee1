package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// TestOperationsListener: /metrics and the detailed /readyz are served
// without a token on METRICS_ADDR only; the API port keeps a plain /readyz
// and gives /metrics to admins alone.
func TestOperationsListener(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	require.NotEmpty(t, l.e.opsAddr)
	host, _, err := net.SplitHostPort(l.e.opsAddr)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEqual(t, strings.TrimPrefix(l.url, "http://"), l.e.opsAddr)

	get := func(url string) (int, string) {
		res, err := l.client.Get(url)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(raw)
	}
	st, body := get("http://" + l.e.opsAddr + "/metrics")
	require.Equal(t, 200, st)
	assert.Contains(t, body, "engine_webhooks_accepted_total")
	assert.Contains(t, body, "engine_fenced_writes_total", "exposed at 0 on one node too")
	assert.Contains(t, body, "go_goroutines")
	st, body = get("http://" + l.e.opsAddr + "/readyz")
	require.Equal(t, 200, st)
	assert.Contains(t, body, `"dependencies"`)
	assert.Contains(t, body, `"pingMs"`)

	// The API port: no detail, no metrics without an admin token.
	st, ready := l.api("GET", "/readyz", "", nil)
	require.Equal(t, 200, st)
	assert.NotContains(t, ready["data"], "dependencies")
	st, _ = l.api("GET", "/metrics", "", nil)
	assert.Equal(t, 401, st)
	req, _ := http.NewRequest("GET", l.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+l.admin())
	res, err := l.client.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, 200, res.StatusCode, "admins still read /metrics on the API port")
}

// TestOperationsListenerOffAndBusy: METRICS_ADDR=off opens no listener; an
// explicit address that is busy fails the start naming METRICS_ADDR.
func TestOperationsListenerOffAndBusy(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.MetricsAddr = "off"
	l := startLive(t, cfg)
	assert.Empty(t, l.e.opsAddr)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	cfg = testConfig(t)
	cfg.MetricsAddr = busy.Addr().String()
	_, err = newEngine(context.Background(), cfg, zap.NewNop())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "METRICS_ADDR")
}
