package call_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	"github.com/wacc/engine/gateway/sandbox/exotel"
	"github.com/wacc/engine/persistence/memqueue"
	"github.com/wacc/engine/persistence/sqlitestore"
	"github.com/wacc/engine/supervisors"
)

const (
	agentPhone = "+919800000001"
	callerID   = exotel.DefaultExoPhone
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
	sandbox *exotel.Sandbox
	exo     *httptest.Server
	hook    *httptest.Server
	lookup  *sandboxLookup
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

type harnessOption func(*harness, *exotel.Options, *memqueue.Options)

// withTalkDelay keeps answered calls talking that long at the sandbox.
func withTalkDelay(d time.Duration) harnessOption {
	return func(_ *harness, o *exotel.Options, _ *memqueue.Options) { o.TalkDelay = d }
}

// withMaxAttempts sets the queue's deliveries per job.
func withMaxAttempts(n int) harnessOption {
	return func(_ *harness, _ *exotel.Options, q *memqueue.Options) { q.MaxAttempts = n }
}

// withStore wraps the store the actors use.
func withStore(wrap func(*sqlitestore.Store) call.Store) harnessOption {
	return func(h *harness, _ *exotel.Options, _ *memqueue.Options) { h.actorStore = wrap(h.store) }
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "engine.db"), clock: &clock{}, settled: map[string][]string{}}
	h.openStore()
	eo := exotel.Options{RingDelay: 20 * time.Millisecond, TalkDelay: 30 * time.Millisecond, TalkSeconds: 42,
		CallbackTimeout: 5 * time.Second, RetryBackoff: 50 * time.Millisecond}
	qo := memqueue.Options{}
	for _, o := range opts {
		o(h, &eo, &qo)
	}
	h.queue = memqueue.New(qo)
	h.hook = httptest.NewServer(http.HandlerFunc(h.webhook))
	t.Cleanup(h.hook.Close)
	h.sandbox = exotel.New(eo)
	h.exo = httptest.NewServer(h.sandbox.Handler())
	t.Cleanup(func() { h.sandbox.Stop(); h.exo.Close() })
	h.lookup = &sandboxLookup{base: h.exo.URL, account: h.sandbox.AccountSID(), client: &http.Client{Timeout: 5 * time.Second}}
	h.startEngine()
	t.Cleanup(func() {
		h.stopEngine()
		_ = h.queue.Close()
		require.Empty(t, h.events.problems(), "announced before stored")
		require.Empty(t, h.audit.problems(), "audited before stored")
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

// runSender drains the queue into the sandbox, as the Exotel sender does.
func (h *harness) runSender() {
	ctx, cancel := context.WithCancel(context.Background())
	h.senderStop, h.senderDone = cancel, make(chan struct{})
	var wg sync.WaitGroup
	go func() {
		defer close(h.senderDone)
		_ = h.queue.Consume(ctx, func(d actors.Delivery) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.deliver(ctx, d)
			}()
		})
		wg.Wait()
	}()
}

func (h *harness) stopSender() {
	if h.senderStop != nil {
		h.senderStop()
		<-h.senderDone
		h.senderStop = nil
	}
}

// retry is how long the test sender waits before a job's next delivery.
const retry = 50 * time.Millisecond

// noted is a Delivery whose settlements the harness records.
type noted struct {
	actors.Delivery
	h  *harness
	id string
}

func (n noted) Ack() error {
	n.h.note(n.id, "ack")
	return n.Delivery.Ack()
}

func (n noted) Hold(d time.Duration, reason string) error {
	n.h.note(n.id, "hold")
	return n.Delivery.Hold(d, reason)
}

func (n noted) Retry(d time.Duration, reason string) (bool, error) {
	dead, err := n.Delivery.Retry(d, reason)
	if dead {
		n.h.note(n.id, "dead")
	} else {
		n.h.note(n.id, "retry")
	}
	return dead, err
}

func (n noted) DeadLetter(reason string) error {
	n.h.note(n.id, "dead")
	return n.Delivery.DeadLetter(reason)
}

// deliver handles one connect job as the Exotel sender would.
func (h *harness) deliver(ctx context.Context, raw actors.Delivery) {
	job := raw.Job()
	d := noted{Delivery: raw, h: h, id: job.CallID}
	calls := h.dir()
	res, err := call.Ask(calls, job.CallID, call.BeginConnect{}, askTimeout)
	if err != nil && res.Connect != call.ConnectSkip {
		_, _ = d.Retry(retry, err.Error())
		return
	}
	c := res.Call
	switch res.Connect {
	case call.ConnectSkip:
		_ = d.Ack()
	case call.ConnectWait:
		_ = d.Hold(retry, "another delivery is connecting")
	case call.ConnectResolve:
		placed, found, err := h.lookup.FindPlaced(ctx, c.From, c.To, c.ConnectStartedAt)
		switch {
		case err != nil:
			_ = d.Hold(retry, err.Error())
		case found:
			_, _ = call.Ask(calls, c.ID, call.Connected{Sid: placed.Sid, Status: actors.CallRinging}, askTimeout)
			_ = d.Ack()
		default:
			_, _ = call.Ask(calls, c.ID, call.ConnectFailed{Reason: "not placed", StartedAt: c.ConnectStartedAt}, askTimeout)
			_ = d.Hold(retry, "not placed; connect again")
		}
	case call.ConnectGo:
		sid, status, err := h.connect(ctx, c)
		var refused *refusal
		switch {
		case err == nil:
			_, _ = call.Ask(calls, c.ID, call.Connected{Sid: sid, Status: status}, askTimeout)
			_ = d.Ack()
		case errors.As(err, &refused) && refused.status < 500 && refused.status != http.StatusTooManyRequests:
			_, _ = call.Ask(calls, c.ID, call.ConnectFailed{Reason: err.Error(), Final: true, StartedAt: c.ConnectStartedAt}, askTimeout)
			_ = d.DeadLetter(err.Error())
		case errors.As(err, &refused):
			// Retried: the call is not connecting any more.
			_, _ = call.Ask(calls, c.ID, call.ConnectFailed{Reason: err.Error(), StartedAt: c.ConnectStartedAt}, askTimeout)
			dead, _ := d.Retry(retry, err.Error())
			if dead {
				_, _ = call.Ask(calls, c.ID, call.ConnectFailed{Reason: "dead-lettered: " + err.Error(), Final: true}, askTimeout)
			}
		default:
			// A timeout: the outcome is unknown, the call stays connecting
			// and the next delivery resolves it.
			_, _ = d.Retry(retry, err.Error())
		}
	}
}

// refusal is a connect answered with an error status.
type refusal struct {
	status int
	body   string
}

func (r *refusal) Error() string { return fmt.Sprintf("exotel answered %d: %s", r.status, r.body) }

// connect POSTs the connect request and returns the CallSid and status.
func (h *harness) connect(ctx context.Context, c actors.Call) (string, string, error) {
	form := url.Values{"From": {c.From}, "To": {c.To}, "CallerId": {c.CallerID}, "CallType": {"trans"},
		"TimeLimit": {fmt.Sprint(c.TimeLimit)}, "TimeOut": {fmt.Sprint(c.TimeOut)}, "Record": {fmt.Sprint(c.Record)},
		"CustomField": {c.ID}, "StatusCallback": {h.hook.URL + "/calls/webhook?secret=s3cret"},
		"StatusCallbackEvents[0]": {"terminal"}, "StatusCallbackEvents[1]": {"answered"},
		"StatusCallbackContentType": {"application/json"}}
	u := fmt.Sprintf("%s/v1/Accounts/%s/Calls/connect.json", h.exo.URL, h.sandbox.AccountSID())
	ctx, cancel := context.WithTimeout(ctx, testConfig.ConnectTimeout*8/10)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(exotel.DefaultAPIKey, exotel.DefaultAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", "", &refusal{status: resp.StatusCode, body: string(body)}
	}
	var out struct{ Call struct{ Sid, Status string } }
	if err := json.Unmarshal(body, &out); err != nil {
		return "", "", err
	}
	// Exotel's in-progress on connect means the legs are being rung.
	return out.Call.Sid, actors.CallRinging, nil
}

// webhook stores each callback (its id from its content), then applies it
// to its call, as POST /api/calls/webhook does.
func (h *harness) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.URL.Query().Get("secret") != "s3cret" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var cb struct {
		CallSid, EventType, Status, DateUpdated string
		RecordingURL                            *string `json:"RecordingUrl"`
		ConversationDuration                    *int
		CustomField                             *string
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	ev := actors.CallEvent{CallSid: cb.CallSid, EventType: cb.EventType, Status: cb.Status, Body: body, ReceivedAt: time.Now().UTC()}
	sum := sha256.Sum256([]byte(cb.CallSid + "|" + cb.EventType + "|" + cb.Status + "|" + cb.DateUpdated))
	ev.ID = hex.EncodeToString(sum[:16])
	ev.DateUpdated, _ = parseExoTime(cb.DateUpdated)
	if cb.RecordingURL != nil {
		ev.RecordingURL = *cb.RecordingURL
	}
	if cb.ConversationDuration != nil {
		ev.DurationSec = *cb.ConversationDuration
	}
	if cb.CustomField != nil {
		ev.CallID = *cb.CustomField
	}
	calls, store := h.engine()
	if calls == nil {
		w.WriteHeader(http.StatusServiceUnavailable) // restarting: Exotel retries
		return
	}
	if ev.CallID == "" {
		c, err := store.CallByExotelSid(r.Context(), cb.CallSid)
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		ev.CallID = c.ID
	}
	if _, err := store.AddCallEvent(r.Context(), ev); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
	if _, err := call.Ask(calls, ev.CallID, call.Callback{Event: ev}, askTimeout); err != nil {
		h.applyErrs.Add(1)
	}
}

var ist = time.FixedZone("IST", 5*3600+1800)

func parseExoTime(s string) (time.Time, error) {
	return time.ParseInLocation("2006-01-02 15:04:05", s, ist)
}

// sandboxLookup is a call.Lookup over the sandbox's call-details API.
type sandboxLookup struct {
	base, account string
	client        *http.Client
	calls         atomic.Int32
}

var _ call.Lookup = (*sandboxLookup)(nil)

type wireCall struct {
	Sid, Status, DateCreated string
	EndTime                  *string
	RecordingURL             *string `json:"RecordingUrl"`
	Details                  *struct{ ConversationDuration int }
}

func (l *sandboxLookup) get(ctx context.Context, path string, q url.Values, out any) error {
	l.calls.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"/v1/Accounts/"+l.account+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(exotel.DefaultAPIKey, exotel.DefaultAPIToken)
	resp, err := l.client.Do(req)
	if err != nil {
		return fmt.Errorf("exotel call details: %w: %w", actors.ErrUnavailable, err)
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("exotel call details %s: %w", path, actors.ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("exotel call details %s answered %d: %w", path, resp.StatusCode, actors.ErrUnavailable)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (l *sandboxLookup) Details(ctx context.Context, sid string) (call.Details, error) {
	var out struct{ Call wireCall }
	if err := l.get(ctx, "/Calls/"+url.PathEscape(sid)+".json", url.Values{"details": {"true"}}, &out); err != nil {
		return call.Details{}, err
	}
	return details(out.Call), nil
}

func (l *sandboxLookup) FindPlaced(ctx context.Context, from, to string, since time.Time) (call.Details, bool, error) {
	var out struct{ Calls []wireCall }
	if err := l.get(ctx, "/Calls.json", url.Values{"From": {from}, "To": {to}}, &out); err != nil {
		return call.Details{}, false, err
	}
	for _, c := range out.Calls {
		created, err := parseExoTime(c.DateCreated)
		if err == nil && !created.Before(since.Truncate(time.Second)) {
			return details(c), true, nil
		}
	}
	return call.Details{}, false, nil
}

func details(c wireCall) call.Details {
	d := call.Details{Sid: c.Sid, Status: c.Status}
	if c.Status == "in-progress" {
		d.Status = actors.CallRinging // live: ringing or talking
	}
	if c.EndTime != nil {
		d.EndedAt, _ = parseExoTime(*c.EndTime)
	}
	if c.RecordingURL != nil {
		d.RecordingURL = *c.RecordingURL
	}
	if c.Details != nil {
		d.DurationSec = c.Details.ConversationDuration
	}
	return d
}
