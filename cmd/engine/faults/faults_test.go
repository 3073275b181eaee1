//go:build faults

package faults

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// freePort is a loopback port free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rabbitNode is a RabbitMQ node of the test's own, on its own ports and
// directories, so stopping it breaks no one else's tests (the broker on
// 5672 is shared).
type rabbitNode struct {
	t    *testing.T
	name string
	port int
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
}

const rabbitBin = "/usr/lib/rabbitmq/bin"

// startRabbit starts a node and waits until it takes connections; the
// test fails when the machine has no RabbitMQ server (fault tests must
// run).
func startRabbit(t *testing.T) *rabbitNode {
	t.Helper()
	if _, err := os.Stat(filepath.Join(rabbitBin, "rabbitmq-server")); err != nil {
		t.Fatalf("a RabbitMQ server is needed in %s: %v", rabbitBin, err)
	}
	dir, err := os.MkdirTemp("", "faults-rabbit-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	n := &rabbitNode{t: t, port: freePort(t), done: make(chan struct{})}
	n.name = fmt.Sprintf("faults%d@localhost", n.port)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[].\n"), 0o644))
	n.env = append(os.Environ(), "HOME="+dir, "RABBITMQ_NODENAME="+n.name,
		fmt.Sprintf("RABBITMQ_NODE_PORT=%d", n.port), fmt.Sprintf("RABBITMQ_DIST_PORT=%d", freePort(t)),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1", "RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"), "RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"), "RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"))
	n.cmd = exec.Command(filepath.Join(rabbitBin, "rabbitmq-server"))
	n.cmd.Env = n.env
	n.cmd.Dir = dir
	out := &lockedBuffer{}
	n.cmd.Stdout, n.cmd.Stderr = out, out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, n.cmd.Start())
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		_, _ = n.ctl("stop")
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
			<-n.done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := n.ctl("await_startup"); err == nil {
			return n
		}
		select {
		case <-n.done:
			t.Fatalf("rabbitmq-server exited:\n%s", tail(out.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("rabbitmq-server did not start:\n%s", tail(out.String(), 4000))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// url is the node's AMQP URL.
func (n *rabbitNode) url() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", n.port) }

// ctl runs rabbitmqctl against the node.
func (n *rabbitNode) ctl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(rabbitBin, "rabbitmqctl"), append([]string{"-n", n.name, "-q"}, args...)...)
	cmd.Env = n.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// sandboxSent is the WhatsApp sandbox's log of accepted sends.
type sandboxSent struct {
	Items []struct {
		To   string          `json:"to"`
		Type string          `json:"type"`
		Body json.RawMessage `json:"body"`
		Seq  uint64          `json:"seq"`
	} `json:"items"`
}

// sentTexts counts the sandbox's accepted text sends by body text.
func sentTexts(t *testing.T, sandboxURL string) map[string]int {
	t.Helper()
	res, err := http.Get(sandboxURL + "/sandbox/whatsapp/sent")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	var s sandboxSent
	require.NoError(t, json.NewDecoder(res.Body).Decode(&s))
	out := map[string]int{}
	for _, it := range s.Items {
		var b struct {
			Text struct {
				Body string `json:"body"`
			} `json:"text"`
		}
		if json.Unmarshal(it.Body, &b) == nil && b.Text.Body != "" {
			out[b.Text.Body]++
		}
	}
	return out
}

// buckets accounts sends as the Jepsen checker does: accepted (the API
// answered 202), unknown (the request failed without an answer) and the
// sandbox's log. lost: accepted, never sent; recovered: unknown, sent;
// unexpected: sent without being accepted or unknown (a refused send
// went out, or something never asked for); duplicated: sent more than
// once.
type buckets struct{ lost, recovered, unexpected, duplicated int }

func account(accepted, unknown map[string]bool, sent map[string]int) (b buckets, missing []string) {
	for text := range accepted {
		if sent[text] == 0 {
			b.lost++
			missing = append(missing, text)
		}
	}
	for text, n := range sent {
		switch {
		case accepted[text]:
		case unknown[text]:
			b.recovered++
		default:
			b.unexpected++
		}
		if n > 1 {
			b.duplicated += n - 1
		}
	}
	return b, missing
}

// settledAccount waits up to within until every accepted send reached the
// sandbox (sent reads its counts), then linger more so late duplicates
// show up too, and accounts for every send in the four buckets.
func settledAccount(accepted, unknown map[string]bool, sent func() map[string]int, within, linger time.Duration) (buckets, []string) {
	deadline := time.Now().Add(within)
	for {
		if b, _ := account(accepted, unknown, sent()); b.lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(linger)
	return account(accepted, unknown, sent())
}

// recoveredAfter records time_to_recover: from end to the first of
// acceptedAt after it, which must exist.
func (r *rec) recoveredAfter(acceptedAt map[string]time.Time, end time.Time, what string) {
	r.t.Helper()
	var first time.Time
	for _, at := range acceptedAt {
		if at.After(end) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	require.False(r.t, first.IsZero(), what)
	r.timing("time_to_recover", first.Sub(end))
}

func (r *rec) buckets(b buckets) {
	r.count("lost", b.lost)
	r.count("recovered", b.recovered)
	r.count("unexpected", b.unexpected)
	r.count("duplicated", b.duplicated)
}

// newRequest is a JSON POST with a bearer token.
func newRequest(url, token, body string) (*http.Request, error) {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return req, nil
}

// burstSetup starts a RabbitMQ node of the test's own, a WhatsApp sandbox
// port and the engine on both, and opens the windows of customers
// customers whose numbers are 9198<series><nn>411; it returns the
// sandbox's URL, the engine, the customers and an admin token.
func burstSetup(t *testing.T, series string, customers int) (*rabbitNode, string, *proc, []string, string) {
	t.Helper()
	node := startRabbit(t)
	sbPort := freePort(t)
	p := start(t, queueEnv(t, node, sbPort))
	var was []string
	for c := 0; c < customers; c++ {
		was = append(was, fmt.Sprintf("9198%s%02d411", series, c))
	}
	customersWrite(t, p, was)
	return node, fmt.Sprintf("http://127.0.0.1:%d", sbPort), p, was, p.admin()
}
