package clustertest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The engine binary, built once per test binary by Build.
var (
	buildOnce sync.Once
	buildDir  string
	engineBin string
	buildErr  error
)

// Build builds cmd/engine once for the test binary (without -race: the
// engines are the system under test, not the code the race detector
// watches here) and returns its path. Cleanup removes it.
func Build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "clustertest-")
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

// Cleanup removes what Build made; a TestMain calls it after m.Run.
func Cleanup() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}

// Node is one engine process.
type Node struct {
	t testing.TB
	// Name tells the node apart in logs ("n1").
	Name string
	// Netns is the network namespace it runs in ("": the machine's).
	Netns string
	// Env is what it runs with (and restarts with).
	Env map[string]string
	// URL is its HTTP server's base URL, read off its log at start.
	URL string
	// OpsURL is its operations listener's (METRICS_ADDR) base URL.
	OpsURL string
	Client *http.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	out  *lockedBuffer
}

var listenRE = regexp.MustCompile(`"addr": ?"([^"]+)"`)

// StartNode runs the engine with env until the test ends (it is killed
// then; its output is logged when the test failed).
func StartNode(t testing.TB, name string, env map[string]string) *Node {
	t.Helper()
	return StartNodeIn(t, name, "", env)
}

// StartNodeIn is StartNode in the network namespace netns.
func StartNodeIn(t testing.TB, name, netns string, env map[string]string) *Node {
	t.Helper()
	n := &Node{t: t, Name: name, Netns: netns, Env: env, Client: &http.Client{Timeout: 20 * time.Second}, out: &lockedBuffer{}}
	n.Start()
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() || os.Getenv("CLUSTERTEST_KEEP_LOGS") != "" {
			// The whole output goes to a file (CI keeps /tmp until the
			// machine goes); the test log gets its tail.
			path := filepath.Join(os.TempDir(), fmt.Sprintf("clustertest-%s-%s-%s.log", safeName(t.Name()), n.Name, ID()))
			if err := os.WriteFile(path, []byte(n.out.String()), 0o644); err == nil {
				t.Logf("node %s output: %s", n.Name, path)
			}
			t.Logf("node %s output (tail):\n%s", n.Name, tail(n.out.String(), 6000))
		}
	})
	return n
}

// Start starts the process (again, after Kill or Stop) with its Env and
// waits until it listens.
func (n *Node) Start() {
	t := n.t
	t.Helper()
	cmd := exec.Command(Build(t))
	if n.Netns != "" {
		cmd = exec.Command("ip", "netns", "exec", n.Netns, Build(t))
	}
	cmd.Env = os.Environ()
	for k, v := range n.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	fmt.Fprintf(n.out, "---- %s start %s ----\n", n.Name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd.Stdout = io.MultiWriter(pw, n.out)
	cmd.Stderr = io.MultiWriter(pw, n.out)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", n.Name, err)
	}
	done := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.done, n.err = cmd, done, nil
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		_ = pw.Close()
		close(done)
	}()
	found, ops := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				switch {
				case strings.Contains(line, "metrics listening"):
					select {
					case ops <- m[1]:
					default:
					}
				case strings.Contains(line, "engine listening"):
					select {
					case found <- m[1]:
					default:
					}
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case addr := <-found:
		n.URL = "http://" + addr
	case <-done:
		t.Fatalf("node %s exited before listening: %v\n%s", n.Name, n.err, tail(n.out.String(), 8000))
	case <-time.After(90 * time.Second):
		t.Fatalf("node %s did not start:\n%s", n.Name, tail(n.out.String(), 8000))
	}
	select {
	case addr := <-ops:
		n.OpsURL = "http://" + addr
	case <-time.After(5 * time.Second):
		n.OpsURL = ""
	}
}

// Running reports whether the process has not exited.
func (n *Node) Running() bool {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process.
func (n *Node) Signal(sig syscall.Signal) {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Kill sends SIGKILL and waits for the exit (a frozen process is thawed
// first, so it can die).
func (n *Node) Kill() { n.stop(syscall.SIGKILL, 0) }

// Stop sends SIGTERM and waits up to 30 s for a clean exit, then kills.
func (n *Node) Stop() { n.stop(syscall.SIGTERM, 30*time.Second) }

// Freeze stops the process (SIGSTOP): it holds its sockets, leases and
// memory and runs nothing, as a node in a long GC pause or a frozen VM.
func (n *Node) Freeze() { n.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen process (SIGCONT).
func (n *Node) Thaw() { n.Signal(syscall.SIGCONT) }

func (n *Node) stop(sig syscall.Signal, grace time.Duration) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil || done == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	_ = cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Output is what the process printed so far.
func (n *Node) Output() string { return n.out.String() }

// Metric is the value of one series on the node's /metrics (e.g.
// `engine_fenced_writes_total` or `x_total{outcome="ok"}`); the sum of
// every series of that name when series names no labels, 0 when absent.
func (n *Node) Metric(series string) float64 {
	n.t.Helper()
	if n.OpsURL == "" {
		n.t.Fatalf("node %s has no operations listener (METRICS_ADDR)", n.Name)
	}
	res, err := n.Client.Get(n.OpsURL + "/metrics")
	if err != nil {
		n.t.Fatalf("node %s metrics: %v", n.Name, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var sum float64
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		bare, _, _ := strings.Cut(name, "{")
		if name == series || (!strings.Contains(series, "{") && bare == series) {
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err == nil {
				sum += v
			}
		}
	}
	return sum
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

// safeName is a test name usable in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}
