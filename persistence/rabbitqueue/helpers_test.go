package rabbitqueue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wacc/engine/persistence/servicetest"
)

// testName returns a queue name no other test (or run) uses.
func testName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	return "test.outbound." + hex.EncodeToString(b)
}

// testOptions fills what every test wants: a unique name, quick reconnects.
func testOptions(t testing.TB, opts Options) Options {
	t.Helper()
	if opts.Name == "" {
		opts.Name = testName(t)
	}
	if opts.ReconnectMin == 0 {
		opts.ReconnectMin = 20 * time.Millisecond
	}
	if opts.ReconnectMax == 0 {
		opts.ReconnectMax = 200 * time.Millisecond
	}
	return opts
}

// testLogger logs to t and records Info and above for assertions.
func testLogger(t testing.TB) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	return zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Core(), core)), logs
}

// openQueue connects a Queue to rawURL (the test broker when empty) and
// deletes its queues at cleanup.
func openQueue(t testing.TB, rawURL string, opts Options) (*Queue, *observer.ObservedLogs) {
	t.Helper()
	brokerURL := servicetest.RabbitURL(t)
	if rawURL == "" {
		rawURL = brokerURL
	}
	opts = testOptions(t, opts)
	log, logs := testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := New(ctx, rawURL, opts, log)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, q.Close())
		deleteQueues(t, brokerURL, q.topo)
	})
	return q, logs
}

// admin opens a channel of its own to the test broker.
func admin(t testing.TB) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(servicetest.RabbitURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	return ch
}

func deleteQueues(t testing.TB, brokerURL string, topo topology) {
	t.Helper()
	conn, err := amqp.Dial(brokerURL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	for _, name := range topo.queues() {
		_, err := ch.QueueDelete(name, false, false, false)
		require.NoError(t, err, "delete queue %s", name)
	}
}

// closeBrokerSide asks the broker to close q's current connection, as an
// operator's `rabbitmqctl close_connection` would. Only this connection is
// closed: other tests and engineers share the broker.
func closeBrokerSide(t *testing.T, q *Queue) {
	t.Helper()
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("\n\n*** rabbitmqctl is not on PATH: cannot close a connection from the broker side ***\n")
	}
	q.mu.Lock()
	s := q.cur
	q.mu.Unlock()
	require.NotNil(t, s, "queue has no connection to close")
	local := s.conn.LocalAddr().String()

	var pid string
	require.Eventually(t, func() bool { // the broker lists new connections a moment late
		out, err := exec.Command("rabbitmqctl", "-q", "list_connections", "pid", "name").Output()
		if err != nil {
			return false
		}
		for line := range strings.SplitSeq(string(out), "\n") {
			fields := strings.SplitN(line, "\t", 2)
			if len(fields) == 2 && strings.HasPrefix(fields[1], local+" ->") {
				pid = fields[0]
				return true
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond, "connection from %s not listed by rabbitmqctl", local)
	out, err := exec.Command("rabbitmqctl", "-q", "close_connection", pid, "test").CombinedOutput()
	require.NoError(t, err, "rabbitmqctl close_connection: %s", out)
}

// startProxy forwards a random loopback port to the test broker, to
// simulate an outage without touching the broker other tests share; it
// returns the proxy and an AMQP URL through it.
func startProxy(t *testing.T) (*servicetest.Proxy, string) {
	t.Helper()
	u, err := url.Parse(servicetest.RabbitURL(t))
	require.NoError(t, err)
	p := servicetest.StartProxy(t, u.Host)
	u.Host = p.Addr()
	return p, u.String()
}
