//go:build browser

package e2e

import (
	"bufio"
	"bytes"
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Fixed secrets of the engines the suite starts.
const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-123"
	userPassword  = "console-password-1"
	// phoneNumberID is the business number the sandbox's customers write to
	// (the engine's default WHATSAPP_PHONE_NUMBER_ID).
	phoneNumberID = "100000000000001"
)

// The engine binary, built once per run by engineBinary.
var (
	buildOnce sync.Once
	buildDir  string
	engineBin string
	buildErr  error
)

// engineBinary builds cmd/engine once for the run (without -race: the
// engine is the system under test here, the browser the client) and
// returns its path; TestMain removes it.
func engineBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "console-e2e-")
		if buildErr != nil {
			return
		}
		engineBin = filepath.Join(buildDir, "engine")
		cmd := exec.Command("go", "build", "-o", engineBin, "github.com/wacc/engine/cmd/engine")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("build the engine: %w\n%s", err, out.String())
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return engineBin
}

// engine is one engine process with its sandbox, reached by the browser
// through proxy.
type engine struct {
	t testing.TB
	// url is the engine's own address (the tests' API calls go there, so
	// a cut proxy does not stop them).
	url string
	// consoleURL is the proxy's: the origin the browser loads the
	// console from.
	consoleURL string
	// sandboxURL is the built-in WhatsApp sandbox's.
	sandboxURL string
	proxy      *proxy
	client     *http.Client
	out        *lockedBuffer

	adminMu sync.Mutex
	admin   string
	adminAt time.Time
}

var (
	listenRE  = regexp.MustCompile(`"addr": ?"([^"]+)"`)
	sandboxRE = regexp.MustCompile(`whatsapp=sandbox\(([^)]+)\)`)
)

// startEngine runs the engine on free loopback ports with SQLite in a
// temporary DATA_DIR and the built-in sandbox (statuses every 200ms),
// env over those defaults, behind a fresh proxy; it is killed when the
// test ends (its output logged when the test failed).
func startEngine(t testing.TB, env map[string]string) *engine {
	t.Helper()
	bin := engineBinary(t)
	px := startProxy(t)
	all := map[string]string{
		"APP_ENV": "development", "HOST": "127.0.0.1", "PORT": "0", "SANDBOX_PORT": "0", "SANDBOX_EXOTEL_PORT": "0",
		"DATA_DIR": t.TempDir(), "LOG_LEVEL": "info",
		"JWT_SECRET": strings.Repeat("j", 40), "JWT_REFRESH_SECRET": strings.Repeat("r", 40),
		"WHATSAPP_APP_SECRET": "console-app-secret", "WHATSAPP_VERIFY_TOKEN": "verify-me",
		"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": adminPassword,
		"RATE_LIMIT_API_PER_MIN": "1000000", "RATE_LIMIT_AUTH_PER_MIN": "1000000",
		"SANDBOX_STATUS_DELAY": "200ms",
		// The browser's origin is the proxy's.
		"ALLOWED_ORIGINS": "http://" + px.addr(),
		"MONGODB_URI":     "", "REDIS_URL": "", "RABBITMQ_URL": "", "WHATSAPP_ACCESS_TOKEN": "", "EXOTEL_API_TOKEN": "",
		"METRICS_ADDR": "off",
	}
	for k, v := range env {
		all[k] = v
	}
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range all {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	e := &engine{t: t, proxy: px, client: &http.Client{Timeout: 20 * time.Second}, out: &lockedBuffer{}}
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(pw, e.out)
	cmd.Stderr = io.MultiWriter(pw, e.out)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the engine: %v", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); _ = pw.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("engine output (tail):\n%s", tail(e.out.String(), 8000))
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); strings.Contains(line, "engine listening") && listenRE.MatchString(line) {
				select {
				case found <- line:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case line := <-found:
		e.url = "http://" + listenRE.FindStringSubmatch(line)[1]
		m := sandboxRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("the engine's listening line names no WhatsApp sandbox: %s", line)
		}
		e.sandboxURL = "http://" + m[1]
	case <-done:
		t.Fatalf("engine exited before listening: %v\n%s", waitErr, tail(e.out.String(), 8000))
	case <-time.After(90 * time.Second):
		t.Fatalf("engine did not start:\n%s", tail(e.out.String(), 8000))
	}
	px.point(strings.TrimPrefix(e.url, "http://"))
	e.consoleURL = "http://" + px.addr()
	return e
}

// do sends a JSON request to base+path and returns the status and the
// decoded answer.
func (e *engine) do(base, method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			e.t.Fatalf("encode %s %s: %v", method, path, err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// api is a request to the engine's API (not through the proxy).
func (e *engine) api(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	return e.do(e.url, method, path, token, body)
}

// must is api that fails the test unless the answer is want.
func (e *engine) must(want int, method, path, token string, body any) map[string]any {
	e.t.Helper()
	st, out := e.api(method, path, token, body)
	if st != want {
		e.t.Fatalf("%s %s: %d, want %d: %v", method, path, st, want, out)
	}
	data, _ := out["data"].(map[string]any)
	return data
}

// adminToken is an access token of the first admin, logged in again
// every few seconds so that it outlives a short JWT_EXPIRES_IN.
func (e *engine) adminToken() string {
	e.t.Helper()
	e.adminMu.Lock()
	defer e.adminMu.Unlock()
	if e.admin == "" || time.Since(e.adminAt) > 3*time.Second {
		e.admin, e.adminAt = e.login(adminEmail, adminPassword).token, time.Now()
	}
	return e.admin
}

// session is a logged-in user as the API sees it.
type session struct {
	token string
	user  user
}

// user is an account the test made.
type user struct {
	id, email, name, role string
}

func (e *engine) login(email, password string) session {
	e.t.Helper()
	data := e.must(200, "POST", "/api/auth/login", "", map[string]string{"email": email, "password": password})
	u, _ := data["user"].(map[string]any)
	tok, _ := data["accessToken"].(string)
	return session{token: tok, user: user{id: str(u["id"]), email: email, name: str(u["name"]), role: str(u["role"])}}
}

var userSeq atomic.Int64

// newUser registers an account (password userPassword) and gives it role
// (agent, supervisor or admin) with the admin's token.
func (e *engine) newUser(role, name string) user {
	e.t.Helper()
	email := fmt.Sprintf("%s-%d-%d@example.com", role, time.Now().UnixNano(), userSeq.Add(1))
	data := e.must(201, "POST", "/api/auth/register", "", map[string]string{"email": email, "password": userPassword, "name": name})
	u, _ := data["user"].(map[string]any)
	id := str(u["id"])
	if role != "agent" {
		e.must(200, "PATCH", "/api/users/"+id+"/role", e.adminToken(), map[string]string{"role": role})
	}
	return user{id: id, email: email, name: name, role: role}
}

// inject has the customer waID (digits, no '+') named name write text to
// the business number through the sandbox, which posts Meta's signed
// webhook to the engine; it returns the message's wamid.
func (e *engine) inject(waID, name, text string) string {
	e.t.Helper()
	return e.injectMessage(map[string]any{"from": waID, "name": name, "text": text})
}

// injectMessage posts a simulated customer message (the sandbox's
// InboundRequest: from, name, text or type with its object) to the
// business number and returns its wamid.
func (e *engine) injectMessage(msg map[string]any) string {
	e.t.Helper()
	msg["phoneNumberId"] = phoneNumberID
	st, out := e.do(e.sandboxURL, "POST", "/sandbox/whatsapp/inbound", "", msg)
	if st != http.StatusAccepted {
		e.t.Fatalf("inject a message from %v: %d %v", msg["from"], st, out)
	}
	data, _ := out["data"].(map[string]any)
	return str(data["waMessageId"])
}

// sentMessage is one send the sandbox accepted.
type sentMessage struct {
	To   string          `json:"to"`
	Type string          `json:"type"`
	Body json.RawMessage `json:"body"`
	// WaMessageID is the wamid the sandbox gave it.
	WaMessageID string `json:"wamid"`
}

// sent lists what the sandbox accepted for the customer waID.
func (e *engine) sent(waID string) []sentMessage {
	e.t.Helper()
	res, err := e.client.Get(e.sandboxURL + "/sandbox/whatsapp/sent?to=" + waID)
	if err != nil {
		e.t.Fatalf("list the sandbox's sends: %v", err)
	}
	defer res.Body.Close()
	var out struct {
		Items []sentMessage `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		e.t.Fatalf("decode the sandbox's sends: %v", err)
	}
	return out.Items
}

// conversationOf is the id of the customer waID's latest conversation, as
// the admin sees it ("" when none yet).
func (e *engine) conversationOf(waID string) (id, assignee string) {
	e.t.Helper()
	data := e.must(200, "GET", "/api/whatsapp/conversations?limit=100", e.adminToken(), nil)
	items, _ := data["items"].([]any)
	for _, it := range items {
		c, _ := it.(map[string]any)
		if str(c["waId"]) == waID {
			return str(c["id"]), str(c["assigneeId"])
		}
	}
	return "", ""
}

var phoneSeq atomic.Int64

// newCustomer is a fresh customer number (wa_id digits) whose last four
// digits stay clear of the sandbox's scripted faults (0001-0008).
func newCustomer() string {
	return fmt.Sprintf("9190%04d%04d", time.Now().UnixNano()%10000, 1000+phoneSeq.Add(1))
}

func str(v any) string {
	s, _ := v.(string)
	return s
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

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// eventually calls ok every 100ms until it is true, failing the test
// after timeout; what names what it waits for.
func eventually(t testing.TB, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
