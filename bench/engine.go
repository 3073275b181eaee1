package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wacc/engine/gateway/webhook"
)

// engine is the engine a scenario drives: a child process the bench
// started, or the --target.
type engine struct {
	URL        string
	SandboxURL string
	// ExotelURL is the engine child's Exotel sandbox (empty for a target
	// engine: Options.ExotelSandboxURL names it).
	ExotelURL string
	AppSecret string
	Email     string
	Password  string
	cmd       *exec.Cmd
	exited    chan struct{}
	// sandbox is the WhatsApp sandbox's own process (nil: the engine
	// serves its built-in sandbox, or a target).
	sandbox *sandboxProc
	stderr  *bytes.Buffer
	Client  *http.Client
}

// Child secrets: fixed, the child lives only for the scenario.
const (
	childAppSecret = "bench-app-secret"
	childEmail     = "bench-admin@example.com"
	childPassword  = "bench-admin-password"
)

// buildEngine builds cmd/engine once per set of build tags into the
// temporary directory.
func (e *Env) buildEngine(ctx context.Context, tags string) (string, error) {
	if bin, ok := e.engineBins[tags]; ok {
		return bin, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(e.Tmp, "engine")
	args := []string{"build", "-o", bin}
	if tags != "" {
		bin += "-" + strings.NewReplacer(",", "-", " ", "-").Replace(tags)
		args = []string{"build", "-tags", tags, "-o", bin}
	}
	fmt.Fprintf(e.Progress, "   building cmd/engine%s\n", map[bool]string{true: " -tags " + tags}[tags != ""])
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/engine")...)
	cmd.Dir = root
	if strings.Contains(tags, "sqlite_cgo") {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build cmd/engine: %w: %s", err, out)
	}
	if e.engineBins == nil {
		e.engineBins = map[string]string{}
	}
	e.engineBins[tags] = bin
	return bin, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	// The bench is a module of its own beside the engine's; the engine's
	// directory is where its replace directive points.
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/wacc/engine").Output()
	if err != nil {
		return "", fmt.Errorf("find the engine's module: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("find the engine's module: run the bench inside bench/ (make bench)")
	}
	return dir, nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startEngine returns the --target, or starts a fresh engine child with
// the default embedded configuration plus env (KEY=value), and waits until
// it is ready. The caller stops it.
func (e *Env) startEngine(ctx context.Context, env ...string) (*engine, error) {
	return e.startEngineTagged(ctx, e.Opts.EngineTags, env...)
}

// startEngineTagged is startEngine with the engine built with tags.
func (e *Env) startEngineTagged(ctx context.Context, tags string, env ...string) (*engine, error) {
	return e.startChild(ctx, tags, false, env)
}

// startEngineOwnSandbox is startEngine with the WhatsApp sandbox run as a
// process of its own (cmd/sandbox), the engine pointed at it as at Meta's
// Cloud API, unless --sandbox-in-engine asks for the engine's built-in one.
func (e *Env) startEngineOwnSandbox(ctx context.Context, env ...string) (*engine, error) {
	return e.startChild(ctx, e.Opts.EngineTags, !e.Opts.SandboxInEngine, env)
}

func (e *Env) startChild(ctx context.Context, tags string, ownSandbox bool, env []string) (*engine, error) {
	client := newClient(e.Opts.Conns)
	if e.Opts.Target != "" {
		return &engine{URL: strings.TrimRight(e.Opts.Target, "/"), SandboxURL: strings.TrimRight(e.Opts.SandboxURL, "/"),
			AppSecret: e.Opts.AppSecret, Email: e.Opts.AdminEmail, Password: e.Opts.AdminPassword, Client: client}, nil
	}
	bin, err := e.buildEngine(ctx, tags)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	sport, err := freePort()
	if err != nil {
		return nil, err
	}
	xport, err := freePort()
	if err != nil {
		return nil, err
	}
	data, err := os.MkdirTemp(e.Tmp, "data-")
	if err != nil {
		return nil, fmt.Errorf("start engine: %w", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"APP_ENV=development", "HOST=127.0.0.1", "PORT="+strconv.Itoa(port), "SANDBOX_PORT="+strconv.Itoa(sport),
		"SANDBOX_EXOTEL_PORT="+strconv.Itoa(xport),
		"DATA_DIR="+data, "LOG_LEVEL=warn", "MONGODB_URI=", "REDIS_URL=", "RABBITMQ_URL=", "WHATSAPP_ACCESS_TOKEN=",
		"JWT_SECRET=bench-jwt-secret-0123456789abcdef0123456789", "JWT_REFRESH_SECRET=bench-refresh-secret-0123456789abcdef01234",
		"ADMIN_EMAIL="+childEmail, "ADMIN_PASSWORD="+childPassword, "WHATSAPP_APP_SECRET="+childAppSecret,
		"RATE_LIMIT_API_PER_MIN=100000000", "RATE_LIMIT_AUTH_PER_MIN=100000",
		// The socket scenarios hold up to 100 sockets per user.
		"WS_MAX_SOCKETS_PER_USER=1000",
		// The scenarios post customers' messages to the engine's webhook,
		// not through the sandbox, which therefore cannot see them open the
		// customer service window.
		"SANDBOX_ASSUME_WINDOW_OPEN=true",
	)
	var sb *sandboxProc
	if ownSandbox {
		if sb, err = e.startSandbox(ctx, sport, port); err != nil {
			return nil, err
		}
		// A token makes the engine send to WHATSAPP_API_URL instead of
		// starting its own sandbox (the last of a repeated key wins).
		cmd.Env = append(cmd.Env, "WHATSAPP_ACCESS_TOKEN=bench-token", "WHATSAPP_API_URL=http://127.0.0.1:"+strconv.Itoa(sport))
	}
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &limitedWriter{b: &stderr, max: 64 << 10}
	if err := cmd.Start(); err != nil {
		if sb != nil {
			sb.stop()
		}
		return nil, fmt.Errorf("start engine: %w", err)
	}
	g := &engine{sandbox: sb, URL: "http://127.0.0.1:" + strconv.Itoa(port), SandboxURL: "http://127.0.0.1:" + strconv.Itoa(sport),
		ExotelURL: "http://127.0.0.1:" + strconv.Itoa(xport),
		AppSecret: childAppSecret, Email: childEmail, Password: childPassword, cmd: cmd, exited: make(chan struct{}), stderr: &stderr, Client: client}
	go func() { _ = cmd.Wait(); close(g.exited) }()
	ready := func(status int) bool { return status == http.StatusOK }
	if err := awaitChild(ctx, client, g.URL+"/readyz", "start engine", g.exited, &stderr, 100*time.Millisecond, time.Minute, ready); err != nil {
		_ = g.Stop() // and its sandbox
		return nil, err
	}
	return g, nil
}

// Stop ends a child engine (SIGTERM, then SIGKILL after 20 s).
func (g *engine) Stop() error {
	g.Client.CloseIdleConnections()
	if g.cmd == nil {
		return nil
	}
	if g.sandbox != nil {
		defer g.sandbox.stop()
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(20 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
		return errors.New("stop engine: killed after 20 s")
	}
	return nil
}

// Child reports whether the engine is a child process of the bench.
func (g *engine) Child() bool { return g.cmd != nil }

// CPU is the child's user+system CPU time so far (zero for a --target).
func (g *engine) CPU() time.Duration {
	if g.cmd == nil {
		return 0
	}
	d, err := procCPU(g.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return d
}

// procCPU reads utime+stime of pid from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu time of %d: %w", pid, err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15, in clock ticks of
// 1/100 s) from a /proc/<pid>/stat line.
func parseStatCPU(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("parse /proc stat: no command name")
	}
	f := strings.Fields(stat[end+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("parse /proc stat: too few fields")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("parse /proc stat: bad utime or stime")
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(u+s) * tick, nil
}

// loadWithCPU runs spec against g and fills the run's engine CPU figures
// over the measurement (spec's own OnMeasure still runs).
func (e *Env) loadWithCPU(ctx context.Context, g *engine, spec loadSpec) Run {
	var cpu0, sb0 time.Duration
	var t0 time.Time
	onMeasure := spec.OnMeasure
	spec.OnMeasure = func() {
		if onMeasure != nil {
			onMeasure()
		}
		cpu0, t0 = g.CPU(), time.Now()
		if g.sandbox != nil {
			sb0 = g.sandbox.cpu()
		}
	}
	run := e.load(ctx, spec)
	if g.Child() && run.Ops > 0 {
		used := g.CPU() - cpu0
		run.EngineCPUPerOp = float64(used.Microseconds()) / float64(run.Ops)
		run.EngineCPUCores = used.Seconds() / time.Since(t0).Seconds()
		if g.sandbox != nil {
			if run.Extra == nil {
				run.Extra = map[string]float64{}
			}
			run.Extra[sandboxCPUKey] = float64((g.sandbox.cpu() - sb0).Microseconds()) / float64(run.Ops)
		}
	}
	return run
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, MaxConnsPerHost: conns * 2,
			IdleConnTimeout: time.Minute, DisableCompression: true,
		},
	}
}

// login answers an admin access token.
func (g *engine) login(ctx context.Context) (string, error) {
	var out struct {
		Data struct {
			AccessToken string `json:"accessToken"`
		} `json:"data"`
	}
	body, _ := json.Marshal(map[string]string{"email": g.Email, "password": g.Password})
	if err := g.do(ctx, http.MethodPost, g.URL+"/api/auth/login", "", body, http.StatusOK, &out); err != nil {
		return "", fmt.Errorf("log in as %s: %w", g.Email, err)
	}
	return out.Data.AccessToken, nil
}

// postWebhook posts a signed webhook body and expects 200.
func (g *engine) postWebhook(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/api/whatsapp/webhook", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(body, g.AppSecret))
	return expect(g.Client.Do(req))(http.StatusOK, nil)
}

// do sends a JSON request (token may be empty) and decodes the answer into
// out (when not nil) if its status is want.
func (g *engine) do(ctx context.Context, method, url, token string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return expect(g.Client.Do(req))(want, out)
}

// expect checks an HTTP answer's status and decodes its body.
func expect(resp *http.Response, err error) func(want int, out any) error {
	return func(want int, out any) error {
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != want {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, b)
		}
		if out == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			return nil
		}
		return json.NewDecoder(resp.Body).Decode(out)
	}
}

// limitedWriter keeps the first max bytes written to it.
type limitedWriter struct {
	b   *bytes.Buffer
	max int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.max - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
