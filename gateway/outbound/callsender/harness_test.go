package callsender_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/gateway/outbound/callsender"
	"github.com/wacc/engine/gateway/outbound/exotel"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
	"github.com/wacc/engine/persistence/memqueue"
	"github.com/wacc/engine/persistence/sqlitestore"
	"github.com/wacc/engine/supervisors"
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
	waitFor     = 15 * time.Second
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
	queue func(t *testing.T) queue
	// manual: the sender is not started until runSender.
	manual bool
}

// harness is the engine's call path over real parts: the call actors
// (supervisors.Calls) on a SQLite file, a queue, the Exotel sandbox behind
// httptest, and the sender draining the queue through a real client, which
// is the actors' lookup too.
type harness struct {
	t      *testing.T
	sb     *sandbox.Sandbox
	q      queue
	store  *sqlitestore.Store
	calls  *supervisors.Calls
	dir    *journaledDir
	j      *journal
	opts   callsender.Options
	sender *callsender.Sender
	logs   *observer.ObservedLogs
}

// clientTimeout bounds a connect; the actors' ConnectTimeout is longer.
const clientTimeout = 300 * time.Millisecond

var callConfig = call.Config{Grace: time.Second, LookupBackoff: time.Minute, LookupMaxBackoff: 3 * time.Minute,
	QueueTTL: 10 * time.Minute, ConnectTimeout: 500 * time.Millisecond, IOTimeout: 5 * time.Second}

type nopPublisher struct{}

func (nopPublisher) Publish(actors.Event) {}

type nopAuditor struct{}

func (nopAuditor) Record(actors.AuditRecord) {}

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
	t.Cleanup(func() { sb.Stop(); srv.Close(); hook.Close() })

	cOpts := exotel.Options{BaseURL: srv.URL, AccountSID: testSID, APIKey: testKey, APIToken: testToken, CallerID: exoPhone,
		StatusCallback: hook.URL + "/api/calls/webhook?secret=s3cret", Timeout: clientTimeout}
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

	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zap.NewNop())
	require.NoError(t, err)
	system := actor.NewActorSystem()
	alog := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	deps := &call.Deps{Store: store, Publisher: nopPublisher{}, Outbox: q, Lookup: client, Audit: nopAuditor{}, Config: callConfig, Log: alog}
	calls := supervisors.NewCalls(system, deps, alog)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		calls.Stop(ctx)
		system.Shutdown()
		_ = store.Close()
	})

	j := newJournal()
	dir := &journaledDir{inner: calls, j: j, faults: map[string][]bool{}}
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Core(), core))
	opts := callsender.Options{Consumer: observed{OutboundConsumer: q, j: j}, Client: client, Directory: dir, Log: log,
		WaitDelay: 50 * time.Millisecond, RetryBase: 20 * time.Millisecond, AskTimeout: 5 * time.Second}
	if s.sender != nil {
		s.sender(&opts)
	}
	sender, err := callsender.New(opts)
	require.NoError(t, err)
	h := &harness{t: t, sb: sb, q: q, store: store, calls: calls, dir: dir, j: j, opts: opts, sender: sender, logs: logs}
	if !s.manual {
		h.runSender()
	}
	return h
}

// runSender runs the sender until the test ends (its cleanup runs before
// the actors' and the sandbox's).
func (h *harness) runSender() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.sender.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		require.NoError(h.t, <-done)
	})
}

// start starts the call id (of an agent of its own) to the customer to:
// its actor stores it and queues its connect job.
func (h *harness) start(id, to string) {
	h.t.Helper()
	h.startCall(newCall(id, to))
}

// newCall is a call to start: the agent's phone to the customer to, 10
// minutes at most, ringing 30 s, recorded.
func newCall(id, to string) actors.Call {
	return actors.Call{ID: id, CustomerID: "cust-" + id, AgentID: "agent-" + id, From: agentNum, To: to, CallerID: exoPhone,
		TimeLimit: 600, TimeOut: 30, Record: true}
}

func (h *harness) startCall(c actors.Call) {
	h.t.Helper()
	_, err := call.Ask(h.calls, c.ID, call.Start{Call: c}, 5*time.Second)
	require.NoError(h.t, err)
}

// waitClosed waits until the call is stored closed and returns it.
func (h *harness) waitClosed(id string) actors.Call {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return !h.call(id).Live() }, waitFor, tick, "call %s closed: %v", id, h.j.of(id))
	return h.call(id)
}

// call is the call as stored.
func (h *harness) call(id string) actors.Call {
	h.t.Helper()
	c, err := h.store.Call(context.Background(), id)
	require.NoError(h.t, err)
	return c
}

// waitSettled waits until the call's job was acknowledged or dead-lettered.
func (h *harness) waitSettled(id string) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.j.settled(id) }, waitFor, tick, "job of %s settled: %v", id, h.j.of(id))
}
