package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/wacc/engine/bench/sockets"
	"github.com/wacc/engine/gateway/webhook"
)

func TestNodeCacheKey(t *testing.T) {
	pkg := []byte(`{"dependencies":{"express":"5.1.0"}}`)
	base := nodeCacheKey(pkg, "v20.20.2\n")
	require.Len(t, base, 16)
	tests := []struct {
		name    string
		pkg     []byte
		version string
		same    bool
	}{
		{"same package.json and Node", pkg, "v20.20.2\n", true},
		{"the version's surrounding spaces do not count", pkg, "  v20.20.2 ", true},
		{"another package.json", []byte(`{"dependencies":{"express":"5.1.1"}}`), "v20.20.2", false},
		{"another Node (another native ABI)", pkg, "v22.1.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nodeCacheKey(tt.pkg, tt.version)
			if tt.same {
				assert.Equal(t, base, got)
			} else {
				assert.NotEqual(t, base, got)
			}
		})
	}
}

func TestNodeCacheRootFollowsXDGCacheHome(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	root, err := nodeCacheRoot()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "wacc-bench", "node"), root)
}

func TestEmbeddedPeersArePresent(t *testing.T) {
	pkg, err := nodePeerFiles.ReadFile("nodepeer/package.json")
	require.NoError(t, err)
	assert.Contains(t, string(pkg), `"better-sqlite3": "12.`, "v13 crashes on Node 20")
	assert.Contains(t, string(pkg), `"express"`)
	assert.Contains(t, string(pkg), `"socket.io": "4.`)
	for _, script := range []string{expressPeers[0].Script, expressPeers[1].Script, socketIOPeerScript} {
		b, err := nodePeerFiles.ReadFile("nodepeer/" + script)
		require.NoError(t, err, script)
		assert.Contains(t, string(b), "process.env.PORT", script)
	}
}

func TestInstallNodePeersWithoutNPMSaysSo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	env := &Env{Progress: io.Discard, Tmp: t.TempDir()}
	_, err := env.installNodePeers(context.Background())
	require.ErrorIs(t, err, errNoNPM)

	res := &Result{}
	env.runExpressPeers(context.Background(), res, Run{Rate: 1}, "s", nil)
	assert.Empty(t, res.Runs)
	require.Len(t, res.Notes, 1)
	assert.Contains(t, res.Notes[0], "skipped: npm is not on PATH")

	np, _, note := env.startSocketIOPeer(context.Background())
	assert.Nil(t, np)
	assert.Contains(t, note, "Socket.IO peer skipped: npm is not on PATH")
}

// installedNodePeers answers the cache folder of the Node peers, skipping
// the test loudly when npm or node is absent or the peers are not
// installed yet (a cold install builds better-sqlite3 for a minute or
// more, too slow for a unit test).
func installedNodePeers(t *testing.T, ctx context.Context, env *Env) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("SKIPPED: npm is not on PATH: the Node peers (Express, Socket.IO) cannot be installed; install Node 20 and npm to run this test")
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		t.Skip("SKIPPED: node is not on PATH: the Node peers cannot run")
	}
	pkg, err := nodePeerFiles.ReadFile("nodepeer/package.json")
	require.NoError(t, err)
	root, err := nodeCacheRoot()
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(root, nodeCacheKey(pkg, string(out)), installedMarker)); err != nil {
		t.Skip("SKIPPED: the Node peers are not installed yet: run `make bench-quick BENCH_ARGS=fanout` (or ingest) once")
	}
	dir, err := env.installNodePeers(ctx)
	require.NoError(t, err)
	return dir
}

// TestExpressPeersVerifyAndStore runs both peers from an existing install
// (a cold install builds better-sqlite3 for a minute or more, so the test
// skips until `go run . run ingest` has filled the cache).
func TestExpressPeersVerifyAndStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := &Env{Opts: Options{Conns: 2}, Progress: io.Discard, Tmp: t.TempDir()}
	dir := installedNodePeers(t, ctx, env)

	const secret = "test-secret"
	body := textWebhook(1, "t", 1, "hello")
	post := func(url, sig string) int {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/whatsapp/webhook", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set(webhook.SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	hello, err := env.startNodePeer(ctx, dir, "express-hello.js", secret)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, post(hello.URL, ""), "hello-world answers every POST")
	require.NoError(t, hello.Stop())

	before, _ := filepath.Glob(filepath.Join(env.Tmp, "node-*"))
	hmac, err := env.startNodePeer(ctx, dir, "express-hmac-sqlite.js", secret)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, post(hmac.URL, webhook.Sign(body, secret)))
	assert.Equal(t, http.StatusUnauthorized, post(hmac.URL, webhook.Sign(body, "other-secret")))
	assert.Equal(t, http.StatusUnauthorized, post(hmac.URL, ""))
	assert.Equal(t, http.StatusOK, post(hmac.URL, webhook.Sign(body, secret)))
	require.NoError(t, hmac.Stop())

	after, _ := filepath.Glob(filepath.Join(env.Tmp, "node-*"))
	require.Len(t, after, len(before)+1)
	dbDir := after[len(after)-1]
	for _, d := range after {
		if !slices.Contains(before, d) {
			dbDir = d
		}
	}
	db, err := sql.Open("sqlite", filepath.Join(dbDir, "webhooks.db"))
	require.NoError(t, err)
	defer db.Close()
	var n int
	var stored []byte
	require.NoError(t, db.QueryRow(`SELECT count(*), max(body) FROM webhooks`).Scan(&n, &stored))
	assert.Equal(t, 2, n, "only the two correctly signed webhooks are stored")
	assert.Equal(t, body, stored)
	var mode string
	require.NoError(t, db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode)
}

// TestSocketIOPeerFansOut starts the real Socket.IO peer with a ping every
// 100 ms and runs a small fan-out on it: every inject reaches its agent's
// sockets and the supervisor's, the Go clients answer the peer's pings
// (a client that did not would be dropped after 500 ms), and a token
// signed with another secret is refused by the peer's middleware.
func TestSocketIOPeerFansOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := &Env{Opts: Options{Conns: 2}, Progress: io.Discard, Tmp: t.TempDir()}
	dir := installedNodePeers(t, ctx, env)
	np, err := env.startNodePeer(ctx, dir, socketIOPeerScript, socketIOSecret, "PING_INTERVAL_MS=100", "PING_TIMEOUT_MS=500")
	require.NoError(t, err)
	defer func() { _ = np.Stop() }()
	peer := sockets.SocketIOPeer{BaseURL: np.URL, Secret: socketIOSecret, PID: enginePID(np)}

	res, err := sockets.FanoutSocketIO(ctx, peer, sockets.FanoutOptions{Agents: 4, Users: 2, Rate: 50,
		Duration: time.Second, Warmup: 300 * time.Millisecond, Senders: 2, ConnectConcurrency: 2, Drain: 10 * time.Second}, nil)
	require.NoError(t, err)
	x := res.Extra
	require.Greater(t, x["sent"], 0.0)
	assert.Zero(t, x["sockets_failed"])
	assert.Zero(t, x["lost_frames"])
	assert.Zero(t, x["sockets_closed_by_server"], "pings answered in time")
	assert.Equal(t, 3*x["sent"], x["expected_frames"], "each message to its agent's 2 sockets and the supervisor's")
	assert.Equal(t, int64(x["expected_frames"]), res.Ops)
	assert.Greater(t, x["engine_cpu_seconds"], 0.0, "the Node process's CPU is read from /proc")

	var stats struct {
		Sockets, Pongs, Injected int
	}
	resp, err := http.Get(np.URL + "/stats")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&stats))
	resp.Body.Close()
	assert.Positive(t, stats.Pongs)
	assert.GreaterOrEqual(t, stats.Injected, int(x["sent"]))

	forged, err := sockets.SocketIOSockets(ctx, sockets.SocketIOPeer{BaseURL: np.URL, Secret: "not-the-secret"},
		sockets.SocketsOptions{Sockets: 2, ConnectConcurrency: 2, Hold: 10 * time.Millisecond}, nil)
	require.NoError(t, err)
	assert.Equal(t, 2.0, forged.Extra["sockets_failed"], "refused by the peer's token check")
	assert.Zero(t, forged.Ops)
}
