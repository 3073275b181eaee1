package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/persistence/servicetest"
)

// runEngineToExit runs the engine binary with env until it exits (within
// 30s) and returns its exit code and standard error.
func runEngineToExit(t *testing.T, env map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), "ENGINE_TEST_RUN_MAIN=1", "HOST=127.0.0.1", "PORT=0", "SANDBOX_PORT=0", "SANDBOX_EXOTEL_PORT=0", "APP_ENV=development")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "the engine did not exit:\n%s", stderr.String())
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the engine must fail:\n%s", stderr.String())
	return exit.ExitCode(), stderr.String()
}

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// holdPort listens on a loopback port for the test's life.
func holdPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestStartupFailuresExitWithTheCause: every start-up failure after the
// configuration loads exits 1 with one last line, "engine: ...", naming the
// variable or dependency and the cause, and never panics.
func TestStartupFailuresExitWithTheCause(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	closed := freePort(t) // nothing listens there
	cases := []struct {
		name string
		env  func(t *testing.T) map[string]string
		// want are the parts the last line must contain.
		want []string
		// needs names a service the case needs running.
		needs string
	}{
		{name: "busy PORT", env: func(t *testing.T) map[string]string {
			return map[string]string{"PORT": fmt.Sprint(holdPort(t)), "DATA_DIR": t.TempDir()}
		}, want: []string{"listen for the API on PORT", "address already in use"}},
		{name: "busy SANDBOX_PORT", env: func(t *testing.T) map[string]string {
			return map[string]string{"SANDBOX_PORT": fmt.Sprint(holdPort(t)), "DATA_DIR": t.TempDir()}
		}, want: []string{"listen for the WhatsApp sandbox on SANDBOX_PORT", "address already in use"}},
		{name: "invalid ADMIN_EMAIL", env: func(t *testing.T) map[string]string {
			return map[string]string{"ADMIN_EMAIL": "not-an-email", "ADMIN_PASSWORD": "admin-password", "DATA_DIR": t.TempDir()}
		}, want: []string{"invalid configuration", "ADMIN_EMAIL", "not-an-email"}},
		{name: "breached ADMIN_PASSWORD", env: func(t *testing.T) map[string]string {
			return map[string]string{"ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "Password1", "DATA_DIR": t.TempDir()}
		}, want: []string{"ADMIN_PASSWORD", "common or breached password"}},
		{name: "DATA_DIR under a file", env: func(t *testing.T) map[string]string {
			return map[string]string{"DATA_DIR": filepath.Join(file, "data")}
		}, want: []string{"create DATA_DIR", "not a directory"}},
		{name: "DATA_DIR is a file", env: func(t *testing.T) map[string]string {
			return map[string]string{"DATA_DIR": file}
		}, want: []string{"DATA_DIR " + file}},
		{name: "unreachable REDIS_URL", env: func(t *testing.T) map[string]string {
			return map[string]string{"DATA_DIR": t.TempDir(), "REDIS_URL": fmt.Sprintf("redis://127.0.0.1:%d/0", closed), "CONNECT_TIMEOUT": "1s"}
		}, want: []string{"connect to REDIS_URL within CONNECT_TIMEOUT 1s", fmt.Sprintf("redis 127.0.0.1:%d", closed)}},
		{name: "unreachable RABBITMQ_URL", env: func(t *testing.T) map[string]string {
			return map[string]string{"DATA_DIR": t.TempDir(), "RABBITMQ_URL": fmt.Sprintf("amqp://guest:secret-pw@127.0.0.1:%d/", closed), "CONNECT_TIMEOUT": "1s"}
		}, want: []string{"connect to RABBITMQ_URL within CONNECT_TIMEOUT 1s", "connection refused"}},
		{name: "unreachable MONGODB_URI", env: func(t *testing.T) map[string]string {
			return map[string]string{"MONGODB_URI": fmt.Sprintf("mongodb://127.0.0.1:%d/", closed), "CONNECT_TIMEOUT": "1s"}
		}, want: []string{"connect to MONGODB_URI within CONNECT_TIMEOUT 1s"}},
		{name: "RABBITMQ_URL refusing the credentials", needs: "rabbitmq", env: func(t *testing.T) map[string]string {
			u := strings.Replace(servicetest.RabbitURL(t), "guest:guest", "guest:wrong-password", 1)
			return map[string]string{"DATA_DIR": t.TempDir(), "RABBITMQ_URL": u, "CONNECT_TIMEOUT": "5s"}
		}, want: []string{"connect to RABBITMQ_URL", "username or password not allowed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out := runEngineToExit(t, tc.env(t))
			assert.Equal(t, 1, code)
			last := lastLine(out)
			assert.True(t, strings.HasPrefix(last, "engine: "), "last line %q", last)
			for _, w := range tc.want {
				assert.Contains(t, last, w)
			}
			assert.NotContains(t, out, "panic")
			assert.NotContains(t, out, "goroutine ")
			assert.NotContains(t, out, "secret-pw", "no credentials in the message")
			assert.Less(t, time.Since(start), 15*time.Second, "a start-up failure is quick")
		})
	}
}

// TestSecondEngineOnOneDataDir: a second engine on a DATA_DIR in use exits
// at once naming the directory and the holder's pid; after the first is
// killed (SIGKILL: no cleanup at all) the lock is free again.
func TestSecondEngineOnOneDataDir(t *testing.T) {
	dir := t.TempDir()
	first := startEngine(t, map[string]string{"DATA_DIR": dir})

	start := time.Now()
	code, out := runEngineToExit(t, map[string]string{"DATA_DIR": dir})
	require.Equal(t, 1, code)
	last := lastLine(out)
	assert.Contains(t, last, "engine: DATA_DIR "+dir+" is in use by another engine")
	assert.Contains(t, last, fmt.Sprintf("(pid %d)", first.cmd.Process.Pid))
	assert.Less(t, time.Since(start), 10*time.Second)
	st, _ := first.get(t, "/readyz", "")
	require.Equal(t, 200, st, "the first engine is untouched")

	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	_ = first.wait(t, 10*time.Second)
	second := startEngine(t, map[string]string{"DATA_DIR": dir})
	st, _ = second.get(t, "/readyz", "")
	require.Equal(t, 200, st, "the lock died with the killed engine")
}

// TestFailedStartClosesWhatItOpened: newEngine failing late (the sandbox's
// port is busy) returns the cause, not a panic, and leaves the DATA_DIR
// lock, the API port and the store free.
func TestFailedStartClosesWhatItOpened(t *testing.T) {
	cfg := testConfig(t)
	cfg.Port = freePort(t)
	cfg.SandboxPort = holdPort(t)
	require.NoError(t, cfg.Validate())
	e, err := newEngine(context.Background(), cfg, zap.NewNop())
	require.Nil(t, e)
	require.ErrorContains(t, err, fmt.Sprintf("listen for the WhatsApp sandbox on SANDBOX_PORT %d: address already in use", cfg.SandboxPort))
	require.True(t, errors.Is(err, syscall.EADDRINUSE))

	lock, err := lockDataDir(cfg.DataDir)
	require.NoError(t, err, "the DATA_DIR lock was released")
	lock.release()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Port))
	require.NoError(t, err, "the API listener was closed")
	require.NoError(t, ln.Close())

	cfg.SandboxPort = 0
	startLive(t, cfg) // and the same DATA_DIR starts
}
