package rabbitqueue

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// rabbitBin holds the RabbitMQ server scripts.
const rabbitBin = "/usr/lib/rabbitmq/bin"

// privateNode is a RabbitMQ node the test starts on free loopback ports,
// so it may raise resource alarms without touching the shared broker.
type privateNode struct {
	name string
	port int
	env  []string
}

// startPrivateNode starts a node and waits until it takes connections; it
// is stopped at cleanup.
func startPrivateNode(t *testing.T) *privateNode {
	t.Helper()
	if _, err := os.Stat(filepath.Join(rabbitBin, "rabbitmq-server")); err != nil {
		t.Fatalf("a RabbitMQ server is needed in %s: %v", rabbitBin, err)
	}
	dir := t.TempDir()
	n := &privateNode{port: loopbackPort(t)}
	n.name = fmt.Sprintf("rabbitqueue%d@localhost", n.port)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[].\n"), 0o644))
	n.env = append(os.Environ(), "HOME="+dir, "RABBITMQ_NODENAME="+n.name,
		fmt.Sprintf("RABBITMQ_NODE_PORT=%d", n.port), fmt.Sprintf("RABBITMQ_DIST_PORT=%d", loopbackPort(t)),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1", "RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"), "RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"), "RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"))
	cmd := exec.Command(filepath.Join(rabbitBin, "rabbitmq-server"))
	cmd.Env, cmd.Dir = n.env, dir
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_, _ = n.ctl("stop")
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := n.ctl("await_startup"); err == nil {
			return n
		}
		select {
		case <-done:
			t.Fatalf("rabbitmq-server exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("rabbitmq-server did not start:\n%s", out.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (n *privateNode) url() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", n.port) }

// ctl runs rabbitmqctl against the node.
func (n *privateNode) ctl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(rabbitBin, "rabbitmqctl"), append([]string{"-n", n.name, "-q"}, args...)...)
	cmd.Env = n.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func loopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for the writes of a child's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPublishWhileBrokerBlocks(t *testing.T) {
	n := startPrivateNode(t)
	const timeout = 2 * time.Second
	log, logs := testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := New(ctx, n.url(), testOptions(t, Options{PublishTimeout: timeout}), log)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	bg := context.Background()
	require.NoError(t, q.Publish(bg, testJob("before")))

	// The broker blocks a connection once it publishes during the alarm:
	// the publishes written until then are confirmed or of unknown
	// outcome, never refused.
	_, err = n.ctl("set_vm_memory_high_watermark", "0.0000001")
	require.NoError(t, err)
	maybe := map[string]bool{}  // unknown outcome: may be delivered
	queued := map[string]bool{} // confirmed: must be delivered
	for i := 0; ; i++ {
		if blocked, _ := q.Blocked(); blocked {
			break
		}
		require.Less(t, i, 50, "connection.blocked never came")
		id := fmt.Sprintf("racing-%d", i)
		err := q.Publish(bg, testJob(id))
		switch {
		case err == nil:
			queued[id] = true
		case assert.ErrorIs(t, err, ErrOutcomeUnknown, "a publish before the block is confirmed or unknown"):
			maybe[id] = true
		}
	}
	blocked, reason := q.Blocked()
	require.True(t, blocked)
	require.Contains(t, reason, "memory")
	require.NotEmpty(t, logs.FilterMessageSnippet("blocked by broker").FilterField(zap.String("reason", reason)).All())

	perr := q.Ping(bg)
	require.ErrorIs(t, perr, ErrBlocked, "readiness names the block")
	require.ErrorIs(t, perr, actors.ErrUnavailable)

	start := time.Now()
	err = q.Publish(bg, testJob("refused"))
	took := time.Since(start)
	require.ErrorIs(t, err, ErrBlocked)
	require.ErrorIs(t, err, actors.ErrUnavailable, "the edge answers 503")
	require.NotErrorIs(t, err, actors.ErrPublishUnknown, "nothing was sent: surely not queued")
	require.Less(t, took, timeout, "a blocked publish does not wait for a confirm")
	t.Logf("blocked publish failed in %v; %d racing publishes confirmed, %d unknown", took, len(queued), len(maybe))

	_, err = n.ctl("set_vm_memory_high_watermark", "0.4")
	require.NoError(t, err)
	require.Eventually(t, func() bool { b, _ := q.Blocked(); return !b }, 30*time.Second, 50*time.Millisecond, "connection.unblocked never came")
	require.NotEmpty(t, logs.FilterMessage("outbound queue unblocked by broker").All())
	require.NoError(t, q.Ping(bg))
	require.NoError(t, q.Publish(bg, testJob("after")))
	require.NoError(t, q.Publish(bg, testJob("last")))

	// FIFO within a priority: once "last" arrives, every earlier message has.
	got := map[string]bool{}
	for deliveries := consumeInto(t, q); !got["last"]; {
		d := next(t, deliveries)
		id := d.Job().MessageID
		require.False(t, got[id], "%s delivered twice", id)
		got[id] = true
		require.NoError(t, d.Ack())
	}
	require.False(t, got["refused"], "the refused publish was delivered")
	for _, id := range append([]string{"before", "after"}, keys(queued)...) {
		require.True(t, got[id], "confirmed %s not delivered", id)
	}
	for id := range got {
		require.True(t, id == "before" || id == "after" || id == "last" || queued[id] || maybe[id], "unexpected delivery %s", id)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
