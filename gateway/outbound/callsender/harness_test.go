package callsender_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/outbound/callsender"
	"github.com/wacc/engine/gateway/outbound/exotel"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
	"github.com/wacc/engine/persistence/memqueue"
)

const (
	testSID   = "acme1"
	testKey   = "key-123"
	testToken = "token-456"
	exoPhone  = "08047000000"
	agentNum  = "+919800000001"
	// customer numbers; the last four digits choose the sandbox's outcome.
	custOK      = "+919811110001"
	custTimeout = "+919811110009"
	waitFor     = 10 * time.Second
	tick        = 10 * time.Millisecond
)

// queue is what the sender tests need of a queue.
type queue interface {
	actors.OutboundPublisher
	actors.OutboundConsumer
	actors.DeadLetters
}

// setup is what a test changes before the harness starts.
type setup struct {
	sandbox func(*sandbox.Options)
	client  func(*exotel.Options)
	sender  func(*callsender.Options)
	// queue builds the queue (a memqueue with MaxAttempts 8 when nil).
	queue          func(t *testing.T) queue
	connectTimeout time.Duration
}

// harness is a running Exotel sandbox, a queue, a test directory and the
// sender draining the queue through a real client.
type harness struct {
	t      *testing.T
	sb     *sandbox.Sandbox
	q      queue
	dir    *testDir
	j      *journal
	sender *callsender.Sender
	logs   *observer.ObservedLogs
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	sbOpts := sandbox.Options{Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), AccountSID: testSID, APIKey: testKey,
		APIToken: testToken, ExoPhones: []string{exoPhone}, RingDelay: 20 * time.Millisecond, TalkDelay: 20 * time.Millisecond,
		TimeoutHold: 10 * time.Second, RetryBackoff: 10 * time.Millisecond}
	if s.sandbox != nil {
		s.sandbox(&sbOpts)
	}
	sb := sandbox.New(sbOpts)
	srv := httptest.NewServer(sb.Handler())
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	sbCtx, sbCancel := context.WithCancel(context.Background())
	sbDone := make(chan error, 1)
	go func() { sbDone <- sb.Run(sbCtx) }()

	cOpts := exotel.Options{BaseURL: srv.URL, AccountSID: testSID, APIKey: testKey, APIToken: testToken, CallerID: exoPhone,
		StatusCallback: hook.URL + "/api/calls/webhook?secret=s3cret", Timeout: 300 * time.Millisecond}
	if s.client != nil {
		s.client(&cOpts)
	}
	client, err := exotel.NewClient(cOpts)
	require.NoError(t, err)

	var q queue
	if s.queue != nil {
		q = s.queue(t)
	} else {
		mq := memqueue.New(memqueue.Options{MaxAttempts: 8})
		t.Cleanup(func() { _ = mq.Close() })
		q = mq
	}
	j := newJournal()
	if s.connectTimeout == 0 {
		s.connectTimeout = 500 * time.Millisecond
	}
	dir := newTestDir(t, j, s.connectTimeout)

	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Core(), core))
	opts := callsender.Options{Consumer: observed{OutboundConsumer: q, j: j}, Client: client, Directory: dir, Log: log,
		WaitDelay: 50 * time.Millisecond, RetryBase: 20 * time.Millisecond, AskTimeout: time.Second}
	if s.sender != nil {
		s.sender(&opts)
	}
	sender, err := callsender.New(opts)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sender.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		sbCancel()
		require.NoError(t, <-sbDone)
		srv.Close()
		hook.Close()
	})
	return &harness{t: t, sb: sb, q: q, dir: dir, j: j, sender: sender, logs: logs}
}

// start creates the call id to the customer to and queues its connect job.
func (h *harness) start(id, to string) {
	h.t.Helper()
	h.dir.add(actors.Call{ID: id, CustomerID: "cust-" + id, AgentID: "agent-" + id, From: agentNum, To: to, CallerID: exoPhone,
		TimeLimit: 600, TimeOut: 30, Record: true})
	h.publish(id)
}

func (h *harness) publish(id string) {
	h.t.Helper()
	require.NoError(h.t, h.q.Publish(context.Background(), actors.OutboundJob{Kind: actors.JobCallConnect, MessageID: id, CallID: id,
		Priority: actors.PriorityReply, EnqueuedAt: time.Now()}))
}

// waitSettled waits until the call's job was acknowledged or dead-lettered.
func (h *harness) waitSettled(id string) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.j.settled(id) }, waitFor, tick, "job of %s settled: %v", id, h.j.of(id))
}
