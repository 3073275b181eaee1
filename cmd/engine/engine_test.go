package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/persistence/servicetest"
)

// TestMain lets tests run the real engine binary: the test binary re-executes
// itself with ENGINE_TEST_RUN_MAIN=1 and behaves as `engine`.
func TestMain(m *testing.M) {
	if os.Getenv("ENGINE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	if err := servicetest.StopFerretDB(); err != nil {
		fmt.Fprintln(os.Stderr, "engine: stop FerretDB:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func TestLoadConfigNamesBadVariables(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantVar string // "" means valid
	}{
		{name: "empty environment is valid", env: map[string]string{}},
		{name: "days duration", env: map[string]string{"JWT_REFRESH_EXPIRES_IN": "30d"}},
		{name: "bad port", env: map[string]string{"PORT": "eighty"}, wantVar: "PORT"},
		{name: "bad duration", env: map[string]string{"JWT_EXPIRES_IN": "soon"}, wantVar: "JWT_EXPIRES_IN"},
		{name: "production without secrets", env: map[string]string{"APP_ENV": "production"}, wantVar: "JWT_SECRET"},
		{name: "bad redis url", env: map[string]string{"REDIS_URL": "localhost:6379"}, wantVar: "REDIS_URL"},
		{name: "bad proxies", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,foo"}, wantVar: "TRUSTED_PROXIES"},
		{name: "rehydration off", env: map[string]string{"REHYDRATE_ON_START": "false"}},
		{name: "bad boolean", env: map[string]string{"REHYDRATE_ON_START": "sometimes"}, wantVar: "REHYDRATE_ON_START"},
		{name: "negative rehydration limit", env: map[string]string{"REHYDRATE_MAX": "-1"}, wantVar: "REHYDRATE_MAX"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tc.env[k] })
			if tc.wantVar == "" {
				require.NoError(t, err)
				if v := tc.env["JWT_REFRESH_EXPIRES_IN"]; v != "" {
					require.Equal(t, 30*24*time.Hour, cfg.JWTRefreshExpiresIn)
				}
				return
			}
			require.ErrorContains(t, err, tc.wantVar)
		})
	}
}

// TestEveryVariableDocumented keeps the README and the example file in step
// with the configuration struct.
func TestEveryVariableDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	example, err := os.ReadFile("../../configs/engine.example.env")
	require.NoError(t, err)
	for _, name := range envNames() {
		assert.Contains(t, string(readme), "`"+name+"`", "README documents %s", name)
		assert.Contains(t, string(example), name+"=", "example env has %s", name)
	}
}

// engineProc is the engine running as a child process.
type engineProc struct {
	cmd *exec.Cmd
	url string
	// listenLine is the start-up line naming the address and backends.
	listenLine string
	stderr     *syncBuffer
	// done is closed when the process has exited; err is then its result.
	done chan struct{}
	err  error
}

// wait returns the exit result, or fails t after timeout.
func (p *engineProc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("engine did not exit within %s", timeout)
		return nil
	}
}

var listenRE = regexp.MustCompile(`"addr": ?"([^"]+)"`)

func startEngine(t *testing.T, env map[string]string, args ...string) *engineProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ENGINE_TEST_RUN_MAIN=1", "HOST=127.0.0.1", "PORT=0", "SANDBOX_PORT=0", "SANDBOX_EXOTEL_PORT=0", "APP_ENV=development")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	pr, pw := io.Pipe()
	buf := &syncBuffer{}
	cmd.Stderr = io.MultiWriter(pw, buf)
	cmd.Stdout = buf
	require.NoError(t, cmd.Start())
	p := &engineProc{cmd: cmd, stderr: buf, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); pw.Close(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("engine output:\n%s", buf.String())
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "engine listening") {
				if listenRE.MatchString(sc.Text()) {
					found <- sc.Text()
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case line := <-found:
		p.listenLine = line
		p.url = "http://" + listenRE.FindStringSubmatch(line)[1]
	case <-p.done:
		t.Fatalf("engine exited before listening: %v\n%s", p.err, buf.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("engine did not start:\n%s", buf.String())
	}
	return p
}

func (p *engineProc) post(t *testing.T, path, token string, body any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", p.url+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doJSON(t, req)
}

func (p *engineProc) get(t *testing.T, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doJSON(t, req)
}

func doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"DATA_DIR": dir, "ADMIN_EMAIL": "root@example.com", "ADMIN_PASSWORD": "admin-password",
		"JWT_SECRET": strings.Repeat("j", 32), "JWT_REFRESH_SECRET": strings.Repeat("r", 32),
	}
	p := startEngine(t, env)
	st, body := p.post(t, "/api/auth/login", "", map[string]string{"email": "root@example.com", "password": "admin-password"})
	require.Equal(t, 200, st, body)
	data := body["data"].(map[string]any)
	token, refresh := data["accessToken"].(string), data["refreshToken"].(string)
	st, body = p.post(t, "/api/customers", token, map[string]any{"name": "Kept", "phone": "+919812345678"})
	require.Equal(t, 201, st, body)
	id := body["data"].(map[string]any)["customer"].(map[string]any)["id"].(string)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p.wait(t, 20*time.Second), "graceful exit status 0")
	assert.Contains(t, p.stderr.String(), "shutting down")
	assert.Contains(t, p.stderr.String(), "http server stopped")

	q := startEngine(t, env)
	// The admin is not created twice, the token and the refresh token still
	// work (same secrets), the customer is there.
	st, body = q.get(t, "/api/customers/"+id, token)
	require.Equal(t, 200, st, body)
	assert.Equal(t, "Kept", body["data"].(map[string]any)["customer"].(map[string]any)["name"])
	st, body = q.post(t, "/api/auth/refresh-token", "", map[string]string{"refreshToken": refresh})
	require.Equal(t, 200, st, body)
	st, body = q.get(t, "/api/audit?action=customers.create", token)
	require.Equal(t, 200, st, body)
	assert.EqualValues(t, 1, body["data"].(map[string]any)["total"], "audit record flushed before the first shutdown")
	assert.NotContains(t, q.stderr.String(), "first admin created")
}

func TestStartupLineAndDevSecretsWarning(t *testing.T) {
	p := startEngine(t, map[string]string{"DATA_DIR": t.TempDir()})
	assert.Contains(t, p.stderr.String(), "JWT_SECRET/JWT_REFRESH_SECRET not set")
	assert.Contains(t, p.stderr.String(), "ENCRYPTION AT REST IS OFF", "a loud warning without DATA_ENCRYPTION_KEYS")
	assert.Contains(t, p.listenLine, "store=sqlite")
	assert.Contains(t, p.listenLine, "shared=in-process")
	st, _ := p.get(t, "/readyz", "")
	require.Equal(t, 200, st)
}

func TestBadConfigStopsWithVariableName(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "ENGINE_TEST_RUN_MAIN=1", "APP_ENV=production", "PORT=4000")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "JWT_SECRET")
	assert.Contains(t, string(out), "JWT_REFRESH_SECRET")
}

func TestAdminCreateCommand(t *testing.T) {
	dir := t.TempDir()
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "ENGINE_TEST_RUN_MAIN=1", "DATA_DIR="+dir, "LOG_LEVEL=warn", "SANDBOX_PORT=0", "SANDBOX_EXOTEL_PORT=0")
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("short\n", "admin", "create", "--email", "boss@example.com", "--password-stdin")
	require.Error(t, err, out)
	assert.Contains(t, out, "8 to 128")
	out, err = run("iloveyou1\n", "admin", "create", "--email", "boss@example.com", "--password-stdin")
	require.Error(t, err, out)
	assert.Contains(t, out, "common or breached password")
	out, err = run("", "admin", "create", "--email", "boss@example.com")
	require.Error(t, err, out)
	assert.Contains(t, out, "--password-stdin")
	out, err = run("boss-password\n", "admin", "create", "--email", "boss@example.com", "--password-stdin")
	require.NoError(t, err, out)
	assert.Contains(t, out, "admin boss@example.com created")
	out, err = run("boss-password\n", "admin", "create", "--email", "BOSS@example.com", "--password-stdin")
	require.Error(t, err, out)
	assert.Contains(t, out, "already exists")

	p := startEngine(t, map[string]string{"DATA_DIR": dir})
	st, body := p.post(t, "/api/auth/login", "", map[string]string{"email": "boss@example.com", "password": "boss-password"})
	require.Equal(t, 200, st, body)
	assert.Equal(t, "admin", body["data"].(map[string]any)["user"].(map[string]any)["role"])
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// envNames lists every configuration variable, in struct order.
func envNames() []string {
	t := reflect.TypeOf(configs.Config{})
	out := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("env"); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// TestSecondSignalExitsAtOnce: while the first SIGTERM's drain waits for a
// request that never finishes, a second signal ends the process at once.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	p := startEngine(t, map[string]string{"DATA_DIR": t.TempDir(), "SHUTDOWN_TIMEOUT": "60s"})
	// A request whose body never completes keeps the drain waiting.
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("POST /api/auth/login HTTP/1.1\r\nHost: engine\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"))
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // let the server start reading it

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
		t.Fatal("the drain should still be waiting for the open request")
	case <-time.After(time.Second):
	}
	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	err = p.wait(t, 5*time.Second)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 2, exit.ExitCode())
	require.Less(t, time.Since(start), 5*time.Second)
	require.Contains(t, p.stderr.String(), "second signal")
}

// TestProductionLogsAreJSON: in production every log line is one JSON
// object (the request line carries request id, method, route, status,
// duration), and the sandbox never starts.
func TestProductionLogsAreJSON(t *testing.T) {
	p := startEngine(t, map[string]string{
		"APP_ENV": "production", "DATA_DIR": t.TempDir(),
		"JWT_SECRET": strings.Repeat("j", 32), "JWT_REFRESH_SECRET": strings.Repeat("r", 32),
		"WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_ACCESS_TOKEN": "t",
		"WHATSAPP_API_URL":     "http://127.0.0.1:1",
		"DATA_ENCRYPTION_KEYS": "k1:" + strings.Repeat("A", 43) + "=", "DATA_HASH_KEY": strings.Repeat("B", 43) + "=",
	})
	assert.Contains(t, p.stderr.String(), `"encryption at rest on"`)
	var listening map[string]any
	require.NoError(t, json.Unmarshal([]byte(p.listenLine), &listening), p.listenLine)
	require.Equal(t, "engine listening", listening["msg"])
	require.NotContains(t, listening["backends"], "sandbox")
	st, _ := p.get(t, "/healthz", "")
	require.Equal(t, 200, st)
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), `"route":"/healthz"`) }, 5*time.Second, 20*time.Millisecond)
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		var obj map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &obj), "not JSON: %s", line)
		if obj["msg"] == "request" && obj["route"] == "/healthz" {
			for _, k := range []string{"request_id", "method", "status", "duration"} {
				require.Contains(t, obj, k)
			}
		}
	}
}
