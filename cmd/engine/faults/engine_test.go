//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/persistence/servicetest"
)

// Fixed secrets of the engines the suite starts.
const (
	appSecret     = "faults-app-secret"
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-123"
)

// engineBin is the engine binary built once by TestMain.
var engineBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "engine-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	engineBin = filepath.Join(dir, "engine")
	// The faults tag adds only the hooks some tests fire: an actor that
	// panics on a magic text (actors/conversation/faulthook_faults.go) and
	// the poison job kind the sender panics on
	// (gateway/outbound/sender/faultshook_faults.go).
	build := exec.Command("go", "build", "-tags", "faults", "-o", engineBin, "github.com/wacc/engine/cmd/engine")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: build the engine:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := writeReport(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: write the report:", err)
		code = 1
	}
	if err := servicetest.StopFerretDB(); err != nil {
		fmt.Fprintln(os.Stderr, "faults: stop FerretDB:", err)
		code = 1
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// proc is an engine running as a child process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	env    map[string]string
	out    *lockedBuffer
	done   chan struct{}
	err    error
	client *http.Client
	// ops is the address of the engine's METRICS_ADDR listener, read
	// off its log.
	ops *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listenRE = regexp.MustCompile(`"addr": ?"([^"]+)"`)

// baseEnv is what every engine of the suite runs with; env overrides it.
func baseEnv(t *testing.T) map[string]string {
	return map[string]string{
		"APP_ENV": "development", "HOST": "127.0.0.1", "PORT": "0", "SANDBOX_PORT": "0", "SANDBOX_EXOTEL_PORT": "0",
		"DATA_DIR": t.TempDir(), "LOG_LEVEL": "info", "METRICS_ADDR": "127.0.0.1:0",
		"JWT_SECRET": strings.Repeat("j", 40), "JWT_REFRESH_SECRET": strings.Repeat("r", 40),
		"WHATSAPP_APP_SECRET": appSecret, "WHATSAPP_VERIFY_TOKEN": "verify-me",
		"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": adminPassword,
		"RATE_LIMIT_API_PER_MIN": "1000000", "RATE_LIMIT_AUTH_PER_MIN": "1000000",
		"SANDBOX_ASSUME_WINDOW_OPEN": "true", "SANDBOX_STATUS_DELAY": "20ms",
		"MONGODB_URI": "", "REDIS_URL": "", "RABBITMQ_URL": "", "WHATSAPP_ACCESS_TOKEN": "", "EXOTEL_API_TOKEN": "",
	}
}

// start runs the engine with env (over baseEnv) until the test ends.
func start(t *testing.T, env map[string]string) *proc {
	t.Helper()
	all := baseEnv(t)
	for k, v := range env {
		all[k] = v
	}
	p := &proc{t: t, env: all, client: &http.Client{Timeout: 20 * time.Second}}
	p.run()
	t.Cleanup(func() {
		_ = p.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("engine output:\n%s", tail(p.out.String(), 8000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// run starts the process and waits for its listening line.
func (p *proc) run() {
	t := p.t
	t.Helper()
	cmd := exec.Command(engineBin)
	cmd.Env = os.Environ()
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	pr, pw := io.Pipe()
	p.out = &lockedBuffer{}
	ops := &lockedBuffer{}
	p.ops = ops
	cmd.Stdout = io.MultiWriter(pw, p.out)
	cmd.Stderr = io.MultiWriter(pw, p.out)
	require.NoError(t, cmd.Start())
	p.cmd, p.done, p.err = cmd, make(chan struct{}), nil
	done := p.done
	go func() { p.err = cmd.Wait(); _ = pw.Close(); close(done) }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "metrics listening") && listenRE.MatchString(sc.Text()) {
				_, _ = ops.Write([]byte(listenRE.FindStringSubmatch(sc.Text())[1]))
			}
			if strings.Contains(sc.Text(), "engine listening") && listenRE.MatchString(sc.Text()) {
				select {
				case found <- sc.Text():
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case l := <-found:
		p.url = "http://" + listenRE.FindStringSubmatch(l)[1]
	case <-done:
		t.Fatalf("engine exited before listening: %v\n%s", p.err, tail(p.out.String(), 8000))
	case <-time.After(60 * time.Second):
		t.Fatalf("engine did not start:\n%s", tail(p.out.String(), 8000))
	}
}

// kill sends sig and waits for the exit (SIGKILL after 30 s).
func (p *proc) kill(sig syscall.Signal) error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.err
}

// restart starts the engine again with the same environment (DATA_DIR
// included); its address may change.
func (p *proc) restart() {
	p.t.Helper()
	p.run()
}

// do sends a request; body is JSON-encoded unless it is []byte or nil.
func (p *proc) do(method, path, token string, body any, headers ...string) (int, http.Header, []byte) {
	p.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(p.t, err)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, p.url+path, r)
	require.NoError(p.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := p.client.Do(req)
	require.NoError(p.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, raw
}

// api is do with the JSON answer decoded.
func (p *proc) api(method, path, token string, body any, headers ...string) (int, map[string]any) {
	p.t.Helper()
	st, _, raw := p.do(method, path, token, body, headers...)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return st, out
}

func (p *proc) login(email, password string) string {
	p.t.Helper()
	st, body := p.api("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password})
	require.Equal(p.t, 200, st, body)
	return body["data"].(map[string]any)["accessToken"].(string)
}

func (p *proc) admin() string { return p.login(adminEmail, adminPassword) }

// sign is Meta's X-Hub-Signature-256 of body.
func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// webhook posts a body signed with the app secret.
func (p *proc) webhook(body []byte) int {
	p.t.Helper()
	st, _, _ := p.do("POST", "/api/whatsapp/webhook", "", body, "X-Hub-Signature-256", sign(body))
	return st
}

// textBody is a realistic single-message webhook body.
func textBody(phoneNumberID, waID, wamid, text string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},"contacts":[{"profile":{"name":"Customer %s"},"wa_id":%q}],`+
		`"messages":[{"from":%q,"id":%q,"timestamp":"%d","text":{"body":%q},"type":"text"}]},"field":"messages"}]}]}`,
		phoneNumberID, waID, waID, waID, wamid, at.Unix(), text))
}
