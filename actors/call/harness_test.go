package call_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/gateway/outbound/exotel"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
	"github.com/wacc/engine/persistence/memqueue"
	"github.com/wacc/engine/persistence/sqlitestore"
	"github.com/wacc/engine/supervisors"
)

const (
	agentPhone = "+919800000001"
	callerID   = sandbox.DefaultExoPhone
	hookSecret = "s3cret"
	askTimeout = 10 * time.Second
	waitFor    = 15 * time.Second
	tick       = 10 * time.Millisecond
)

// testConfig: a deadline of TimeOut+TimeLimit (Grace 1ms), lookups every
// minute up to three, the default queue TTL, and a connect timeout the
// sender's client stays under.
var testConfig = call.Config{Grace: time.Millisecond, LookupBackoff: time.Minute, LookupMaxBackoff: 3 * time.Minute,
	QueueTTL: 10 * time.Minute, ConnectTimeout: time.Second, IOTimeout: 5 * time.Second}

// customer is a customer number whose last four digits choose the
// sandbox's outcome (see gateway/sandbox/exotel).
func customer(suffix string) string { return "+9198765" + suffix }

// clock is the call actors' time: the wall clock moved forward by Advance,
// so a test reaches a deadline without waiting for it (a moved clock is
// seen by the actor at its next message or timer).
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// eventLog records call.updated events, and checks as each is published
// that the call it carries is the one stored (stored before announced).
type eventLog struct {
	store *sqlitestore.Store
	mu    sync.Mutex
	evs   []actors.Event
	bad   []string
}

func (l *eventLog) Publish(ev actors.Event) {
	l.mu.Lock()
	store := l.store
	l.mu.Unlock()
	v, ok := ev.Data.(actors.CallView)
	var problem string
	if !ok {
		problem = fmt.Sprintf("event %s carries %T", ev.Type, ev.Data)
	} else {
		stored, err := store.Call(context.Background(), v.ID)
		switch {
		case err != nil:
			problem = fmt.Sprintf("call %s announced before it was stored: %v", v.ID, err)
		case stored.State != v.State || stored.Status != v.Status || !stored.UpdatedAt.Equal(v.UpdatedAt):
			problem = fmt.Sprintf("call %s announced as %s/%s but stored as %s/%s", v.ID, v.State, v.Status, stored.State, stored.Status)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
	if problem != "" {
		l.bad = append(l.bad, problem)
	}
}

// of returns the views announced for call id, in order.
func (l *eventLog) of(id string) []actors.CallView {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []actors.CallView
	for _, ev := range l.evs {
		if v, ok := ev.Data.(actors.CallView); ok && v.ID == id {
			out = append(out, v)
		}
	}
	return out
}

// states returns "state/status" of every announcement of call id.
func (l *eventLog) states(id string) []string {
	var out []string
	for _, v := range l.of(id) {
		out = append(out, v.State+"/"+v.Status)
	}
	return out
}

func (l *eventLog) problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.bad...)
}

// auditLog records audit records, checking the call is stored as audited.
type auditLog struct {
	store *sqlitestore.Store
	mu    sync.Mutex
	recs  []actors.AuditRecord
	bad   []string
}

func (l *auditLog) Record(rec actors.AuditRecord) {
	id := strings.TrimPrefix(rec.Resource, "call:")
	l.mu.Lock()
	store := l.store
	l.mu.Unlock()
	stored, err := store.Call(context.Background(), id)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, rec)
	if err != nil || rec.Detail != fmt.Sprintf("status=%s state=%s", stored.Status, stored.State) {
		l.bad = append(l.bad, fmt.Sprintf("audit %q of %s does not match the stored call (%v)", rec.Detail, id, err))
	}
}

// of returns "actor action outcome detail" of every record of call id.
func (l *auditLog) of(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Resource == "call:"+id {
			out = append(out, r.ActorID+" "+r.Action+" "+r.Outcome+" "+r.Detail)
		}
	}
	return out
}

// harness is one engine's worth of call parts over a SQLite file: the call
// actors (supervisors.Calls), an in-process queue, the Exotel sandbox
// behind httptest, a sender draining the queue into it, and a webhook
// storing and applying its callbacks.
type harness struct {
	t       *testing.T
	path    string
	store   *sqlitestore.Store
	queue   *memqueue.Queue
	events  *eventLog
	audit   *auditLog
	clock   *clock
	system  *actor.ActorSystem
	calls   *supervisors.Calls
	sandbox *sandbox.Sandbox
	exo     *httptest.Server
	hook    *httptest.Server
	// client is the engine's Exotel client (the sender's), lookup the
	// call actors' (the same client, counting its call-details lookups).
	client *exotel.Client
	lookup *countingLookup
	// store is what the actors use (the SQLite store unless wrapped).
	actorStore call.Store
	// senderStop ends the sender, when running.
	senderStop context.CancelFunc
	senderDone chan struct{}
	// applyErrs counts callbacks the webhook stored but could not apply.
	applyErrs atomic.Int32
	// settled records, per call, how the sender settled each delivery of
	// its job (ack, hold, retry, dead).
	mu      sync.Mutex
	settled map[string][]string
}

func (h *harness) note(id, how string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settled[id] = append(h.settled[id], how)
}

// jobDone reports whether the last delivery of call id's job was acked or
// dead-lettered (no delivery of it is pending).
func (h *harness) jobDone(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.settled[id]
	return len(s) > 0 && (s[len(s)-1] == "ack" || s[len(s)-1] == "dead")
}

type harnessOption func(*harness, *sandbox.Options, *memqueue.Options)

// withTalkDelay keeps answered calls talking that long at the sandbox.
func withTalkDelay(d time.Duration) harnessOption {
	return func(_ *harness, o *sandbox.Options, _ *memqueue.Options) { o.TalkDelay = d }
}

// withMaxAttempts sets the queue's deliveries per job.
func withMaxAttempts(n int) harnessOption {
	return func(_ *harness, _ *sandbox.Options, q *memqueue.Options) { q.MaxAttempts = n }
}

// withStore wraps the store the actors use.
func withStore(wrap func(*sqlitestore.Store) call.Store) harnessOption {
	return func(h *harness, _ *sandbox.Options, _ *memqueue.Options) { h.actorStore = wrap(h.store) }
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "engine.db"), clock: &clock{}, settled: map[string][]string{}}
	h.openStore()
	eo := sandbox.Options{RingDelay: 20 * time.Millisecond, TalkDelay: 30 * time.Millisecond, TalkSeconds: 42,
		CallbackTimeout: 5 * time.Second, RetryBackoff: 50 * time.Millisecond}
	qo := memqueue.Options{}
	for _, o := range opts {
		o(h, &eo, &qo)
	}
	h.queue = memqueue.New(qo)
	h.hook = httptest.NewServer(http.HandlerFunc(h.webhook))
	t.Cleanup(h.hook.Close)
	h.sandbox = sandbox.New(eo)
	h.exo = httptest.NewServer(h.sandbox.Handler())
	t.Cleanup(func() { h.sandbox.Stop(); h.exo.Close() })
	// The client gives up on a connect before the actors deem it lost.
	client, err := exotel.NewClient(exotel.Options{BaseURL: h.exo.URL, AccountSID: h.sandbox.AccountSID(), APIKey: sandbox.DefaultAPIKey,
		APIToken: sandbox.DefaultAPIToken, CallerID: callerID, StatusCallback: h.hook.URL + "/calls/webhook?secret=" + hookSecret,
		Timeout: testConfig.ConnectTimeout * 8 / 10})
	require.NoError(t, err)
	h.client, h.lookup = client, &countingLookup{Client: client}
	h.startEngine()
	t.Cleanup(func() {
		h.stopEngine()
		_ = h.queue.Close()
		require.Empty(t, h.events.problems(), "announced before stored")
		require.Empty(t, h.audit.problems(), "audited before stored")
		h.mu.Lock()
		_ = h.store.Close() // the store open now (a restart closes the one before)
		h.mu.Unlock()
	})
	return h
}

func (h *harness) openStore() {
	s, err := sqlitestore.Open(context.Background(), h.path, zap.NewNop())
	require.NoError(h.t, err)
	if h.events == nil {
		h.events, h.audit = &eventLog{}, &auditLog{}
	}
	h.events.mu.Lock()
	h.events.store = s
	h.events.mu.Unlock()
	h.audit.mu.Lock()
	h.audit.store = s
	h.audit.mu.Unlock()
	h.mu.Lock()
	h.store = s
	h.mu.Unlock()
	h.actorStore = s
}

func (l *auditLog) problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.bad...)
}

// startEngine builds the actor system and the call directory.
func (h *harness) startEngine() {
	h.system = actor.NewActorSystem()
	log := zaptest.NewLogger(h.t, zaptest.Level(zap.WarnLevel))
	deps := &call.Deps{Store: h.actorStore, Publisher: h.events, Outbox: h.queue, Lookup: h.lookup, Audit: h.audit,
		Config: testConfig, Log: log, Now: h.clock.Now}
	calls := supervisors.NewCalls(h.system, deps, log)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = calls
}

// dir is the running engine's call directory for the webhook's and the
// sender's goroutines; nil while the engine is down.
func (h *harness) dir() *supervisors.Calls {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// engine is dir and the store, for the webhook.
func (h *harness) engine() (*supervisors.Calls, *sqlitestore.Store) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls, h.store
}

// stopEngine stops the sender, the call actors and the actor system.
func (h *harness) stopEngine() {
	h.stopSender()
	if h.calls == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.calls.Stop(ctx)
	h.system.Shutdown()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = nil
}

// restart simulates an engine restart: the actors and the in-process
// queue (with its jobs) are gone, the SQLite file is opened again, and the
// new engine rehydrates its calls.
func (h *harness) restart() {
	h.stopEngine()
	_ = h.queue.Close()
	require.NoError(h.t, h.store.Close())
	h.openStore()
	h.t.Cleanup(func() { _ = h.store.Close() })
	h.queue = memqueue.New(memqueue.Options{})
	h.startEngine()
	n, err := h.calls.Rehydrate(context.Background(), h.store)
	require.NoError(h.t, err)
	h.t.Logf("rehydrated %d calls", n)
}

// newCall is a call of agent to the customer number to, with Exotel's
// TimeOut 30 and TimeLimit 60: its deadline is 90s after it is accepted.
func newCall(agent, to string) actors.Call {
	return actors.Call{ID: actors.NewID(), CustomerID: "cust-" + to, AgentID: agent, ConversationID: "conv-" + to,
		From: agentPhone, To: to, CallerID: callerID, Record: true, TimeOut: 30, TimeLimit: 60}
}

func (h *harness) ask(id string, cmd call.Command) call.Result {
	h.t.Helper()
	res, err := call.Ask(h.calls, id, cmd, askTimeout)
	require.NoError(h.t, err)
	return res
}

func (h *harness) start(c actors.Call) actors.Call {
	h.t.Helper()
	return h.ask(c.ID, call.Start{Call: c}).Call
}

func (h *harness) stored(id string) actors.Call {
	h.t.Helper()
	c, err := h.store.Call(context.Background(), id)
	require.NoError(h.t, err)
	return c
}

// waitState waits until the call is stored and announced in state with
// status.
func (h *harness) waitState(id, state, status string) actors.Call {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		c, err := h.store.Call(context.Background(), id)
		views := h.events.of(id)
		return err == nil && c.State == state && c.Status == status && len(views) > 0 &&
			views[len(views)-1].State == state && views[len(views)-1].Status == status
	}, waitFor, tick, "call %s never reached %s/%s: %v", id, state, status, h.events.states(id))
	return h.stored(id)
}
