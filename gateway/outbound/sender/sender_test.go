package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/outbound/sender"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
	"github.com/wacc/engine/persistence/memqueue"
)

const number = "106540352242922"

// cloudAPI is a fake WhatsApp Cloud API. It answers each recipient as told:
// Meta's error object with a code and HTTP status, a non-Meta body, a hang
// past the client's timeout, or (by default) an accepted message.
type cloudAPI struct {
	srv *httptest.Server

	mu       sync.Mutex
	answers  map[string]answer
	requests map[string]int
}

// answer is how the fake answers one recipient.
type answer struct {
	status int
	// code is Meta's error code; whatsapp.NoCode sends a body that is not
	// Meta's error object.
	code int
	// hang holds the request until the client gives up.
	hang bool
}

func newCloudAPI(t *testing.T) *cloudAPI {
	t.Helper()
	f := &cloudAPI{answers: map[string]answer{}, requests: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *cloudAPI) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		To string `json:"to"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	f.requests[req.To]++
	a, ok := f.answers[req.To]
	n := f.requests[req.To]
	f.mu.Unlock()
	switch {
	case !ok:
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":"wamid.%s.%d"}]}`,
			req.To, req.To, req.To, n)
	case a.hang:
		<-r.Context().Done()
	case a.code == whatsapp.NoCode:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
	default:
		// Meta's error object, as Graph sends it.
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(a.status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
			"message": fmt.Sprintf("(#%d) error under test", a.code), "type": "OAuthException", "code": a.code,
			"error_subcode": 2494010, "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUvW",
			"error_data": map[string]any{"messaging_product": "whatsapp", "details": "details of the error under test"},
		}})
	}
}

func (f *cloudAPI) answer(to string, a answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[to] = a
}

func (f *cloudAPI) accept(to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.answers, to)
}

func (f *cloudAPI) calls(to string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[to]
}

// store is the sender's Store in memory: statuses only move forward.
type store struct {
	mu   sync.Mutex
	msgs map[string]actors.Message
	// poison: reading this message panics, as a bug in a handler would.
	poison string
}

var _ sender.Store = (*store)(nil)

func (s *store) Message(_ context.Context, id string) (actors.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == s.poison {
		panic("poison message " + id)
	}
	m, ok := s.msgs[id]
	if !ok {
		return actors.Message{}, fmt.Errorf("message %s: %w", id, actors.ErrNotFound)
	}
	return m, nil
}

func (s *store) UpdateMessageStatus(_ context.Context, id, status, wamid string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[id]
	if !ok {
		return false, fmt.Errorf("message %s: %w", id, actors.ErrNotFound)
	}
	if actors.StatusRank(status) <= actors.StatusRank(m.Status) {
		return false, nil
	}
	m.Status, m.UpdatedAt = status, at
	if wamid != "" {
		m.WaMessageID = wamid
	}
	if werr != nil {
		e := *werr
		m.Error = &e
	}
	s.msgs[id] = m
	return true, nil
}

func (s *store) put(m actors.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs[m.ID] = m
}

func (s *store) get(id string) actors.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs[id]
}

// outcomes is the Directory the sender reports to: it records every
// SendOutcome.
type outcomes struct {
	mu  sync.Mutex
	got []conversation.SendOutcome
}

func (o *outcomes) Send(_ conversation.Key, cmd conversation.Command) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, cmd.(conversation.SendOutcome))
}

func (o *outcomes) Request(conversation.Key, conversation.Command, time.Duration) conversation.Reply {
	panic("the sender never waits for a conversation")
}

func (o *outcomes) of(id string) []conversation.SendOutcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []conversation.SendOutcome
	for _, g := range o.got {
		if g.MessageID == id {
			out = append(out, g)
		}
	}
	return out
}

// settlement is how the sender settled one delivery.
type settlement struct {
	op      string // ack, retry, hold, dead-letter
	attempt int
	delay   time.Duration
	reason  string
}

// recorder is the real in-process queue seen through a window: every
// delivery's settlement is recorded on its way to the queue.
type recorder struct {
	q  *memqueue.Queue
	mu sync.Mutex
	// settled lists each message's settlements in order.
	settled map[string][]settlement
}

func (r *recorder) Consume(ctx context.Context, handle func(actors.Delivery)) error {
	return r.q.Consume(ctx, func(d actors.Delivery) { handle(&recorded{Delivery: d, r: r}) })
}

func (r *recorder) add(id string, s settlement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.settled[id] = append(r.settled[id], s)
}

func (r *recorder) of(id string) []settlement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]settlement(nil), r.settled[id]...)
}

type recorded struct {
	actors.Delivery
	r *recorder
}

func (d *recorded) Ack() error {
	err := d.Delivery.Ack()
	d.r.add(d.Job().MessageID, settlement{op: "ack", attempt: d.Job().Attempt})
	return err
}

func (d *recorded) Retry(delay time.Duration, reason string) (bool, error) {
	dead, err := d.Delivery.Retry(delay, reason)
	op := "retry"
	if dead {
		op = "dead-letter"
	}
	d.r.add(d.Job().MessageID, settlement{op: op, attempt: d.Job().Attempt, delay: delay, reason: reason})
	return dead, err
}

func (d *recorded) Hold(delay time.Duration, reason string) error {
	err := d.Delivery.Hold(delay, reason)
	d.r.add(d.Job().MessageID, settlement{op: "hold", attempt: d.Job().Attempt, delay: delay, reason: reason})
	return err
}

func (d *recorded) DeadLetter(reason string) error {
	err := d.Delivery.DeadLetter(reason)
	d.r.add(d.Job().MessageID, settlement{op: "dead-letter", attempt: d.Job().Attempt, reason: reason})
	return err
}

// world is a sender draining a real in-process queue into the fake Cloud
// API through the real client and shaper.
type world struct {
	t        *testing.T
	api      *cloudAPI
	store    *store
	queue    *memqueue.Queue
	rec      *recorder
	outcomes *outcomes
	reg      *prometheus.Registry
	claims   *claims
	n        atomic.Int32
}

// options are a world's knobs.
type options struct {
	maxAttempts    int
	numberPause    time.Duration
	recipientPause time.Duration
}

func newWorld(t *testing.T, o options) *world {
	t.Helper()
	w := &world{t: t, api: newCloudAPI(t), store: &store{msgs: map[string]actors.Message{}}, outcomes: &outcomes{},
		reg: prometheus.NewRegistry(), claims: &claims{recs: map[string]actors.IdempotencyRecord{}}}
	w.queue = memqueue.New(memqueue.Options{MaxAttempts: o.maxAttempts})
	t.Cleanup(func() { _ = w.queue.Close() })
	w.rec = &recorder{q: w.queue, settled: map[string][]settlement{}}
	client := whatsapp.NewClient(whatsapp.ClientOptions{BaseURL: w.api.srv.URL, AccessToken: "token",
		HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
	shaper := whatsapp.NewShaper(whatsapp.ShaperOptions{MPS: 1000, PairInterval: time.Millisecond, PairBurst: 1000})
	s := sender.New(sender.Options{Consumer: w.rec, Client: client, Shaper: shaper, Store: w.store, Directory: w.outcomes,
		Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel+1)), Registry: w.reg, NumberPause: o.numberPause, RecipientPause: o.recipientPause, Claims: w.claims})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return w
}

// send stores a queued message to recipient to and puts its job on the
// queue, as the conversation actor does; it returns the message id.
func (w *world) send(to string) string {
	w.t.Helper()
	id := fmt.Sprintf("msg-%d", w.n.Add(1))
	now := time.Now().UTC()
	w.store.put(actors.Message{ID: id, ConversationID: "conv-" + to, Direction: actors.DirectionOutbound, Type: "text",
		Status: actors.StatusQueued, CreatedAt: now, UpdatedAt: now})
	body := fmt.Sprintf(`{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"text","text":{"body":"hi"}}`, to)
	require.NoError(w.t, w.queue.Publish(context.Background(), actors.OutboundJob{MessageID: id, ConversationID: "conv-" + to,
		PhoneNumberID: number, To: to, Priority: actors.PriorityReply, Body: json.RawMessage(body), Attempt: 1, EnqueuedAt: now}))
	return id
}

// settled waits for message id's n-th settlement and returns it.
func (w *world) settled(id string, n int) settlement {
	w.t.Helper()
	require.Eventually(w.t, func() bool { return len(w.rec.of(id)) >= n }, 10*time.Second, 2*time.Millisecond,
		"settlement %d of %s", n, id)
	return w.rec.of(id)[n-1]
}

// counter reads one series of a counter the sender exports.
func (w *world) counter(name, label, value string) float64 {
	w.t.Helper()
	mfs, err := w.reg.Gather()
	require.NoError(w.t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestSenderClassifiesMetasErrors(t *testing.T) {
	t.Parallel()
	const (
		numberPause    = 90 * time.Minute
		recipientPause = 7 * time.Hour
	)
	tests := []struct {
		name   string
		answer answer
		// wantOp is how the failed delivery is settled.
		wantOp string
		// wantMinDelay is the least retry delay (Meta's minimum for the
		// code); wantDelay, when set, the exact one (a pause).
		wantMinDelay, wantDelay time.Duration
		// wantWindowClosed: the conversation is told its window closed.
		wantWindowClosed bool
		// pauses: a later send to the same number (pausedNumber) or
		// recipient is held back untried.
		pausedNumber, pausedRecipient bool
	}{
		// Retried with backoff.
		{name: "130429 throughput", answer: answer{status: 400, code: 130429}, wantOp: "retry", wantMinDelay: time.Second, pausedNumber: true},
		{name: "131056 pair rate", answer: answer{status: 400, code: 131056}, wantOp: "retry", wantMinDelay: 6 * time.Second, pausedRecipient: true},
		{name: "4 app call limit", answer: answer{status: 400, code: 4}, wantOp: "retry", wantMinDelay: 30 * time.Second},
		{name: "80007 account rate limit", answer: answer{status: 400, code: 80007}, wantOp: "retry", wantMinDelay: 30 * time.Second},
		{name: "1 unknown error", answer: answer{status: 500, code: 1}, wantOp: "retry"},
		{name: "2 service unavailable", answer: answer{status: 503, code: 2}, wantOp: "retry"},
		{name: "131000 something went wrong", answer: answer{status: 500, code: 131000}, wantOp: "retry"},
		{name: "131016 service unavailable", answer: answer{status: 503, code: 131016}, wantOp: "retry"},
		{name: "5xx without Meta's error", answer: answer{status: 502, code: whatsapp.NoCode}, wantOp: "retry"},
		{name: "timeout", answer: answer{hang: true}, wantOp: "retry"},
		// Failed for good.
		{name: "131047 window closed", answer: answer{status: 400, code: 131047}, wantOp: "dead-letter", wantWindowClosed: true},
		{name: "131026 undeliverable", answer: answer{status: 400, code: 131026}, wantOp: "dead-letter"},
		{name: "100 invalid parameter", answer: answer{status: 400, code: 100}, wantOp: "dead-letter"},
		{name: "132000 template parameters", answer: answer{status: 400, code: 132000}, wantOp: "dead-letter"},
		{name: "132001 template missing", answer: answer{status: 404, code: 132001}, wantOp: "dead-letter"},
		{name: "131051 unsupported type", answer: answer{status: 400, code: 131051}, wantOp: "dead-letter"},
		{name: "130472 experiment", answer: answer{status: 400, code: 130472}, wantOp: "dead-letter"},
		{name: "unknown code", answer: answer{status: 400, code: 987654}, wantOp: "dead-letter"},
		// The number paused.
		{name: "0 auth exception", answer: answer{status: 401, code: 0}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		{name: "190 token expired", answer: answer{status: 401, code: 190}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		{name: "368 policy block", answer: answer{status: 403, code: 368}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		{name: "131031 account locked", answer: answer{status: 403, code: 131031}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		{name: "131042 payment issue", answer: answer{status: 400, code: 131042}, wantOp: "retry", wantDelay: numberPause, pausedNumber: true},
		// The recipient paused.
		{name: "131048 spam rate limit", answer: answer{status: 400, code: 131048}, wantOp: "retry", wantDelay: recipientPause, pausedRecipient: true},
		{name: "131049 ecosystem limit", answer: answer{status: 400, code: 131049}, wantOp: "retry", wantDelay: recipientPause, pausedRecipient: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, options{numberPause: numberPause, recipientPause: recipientPause})
			w.api.answer("4915100000001", tt.answer)
			id := w.send("4915100000001")
			got := w.settled(id, 1)
			require.Equal(t, tt.wantOp, got.op, "settled as %+v", got)
			assert.Equal(t, 1, got.attempt)
			assert.Equal(t, 1, w.api.calls("4915100000001"))
			m := w.store.get(id)

			switch tt.wantOp {
			case "retry":
				assert.GreaterOrEqual(t, got.delay, tt.wantMinDelay)
				if tt.wantDelay > 0 {
					assert.Equal(t, tt.wantDelay, got.delay)
				}
				assert.NotEmpty(t, got.reason)
				assert.Equal(t, actors.StatusQueued, m.Status, "still queued: it will be tried again")
				assert.Empty(t, w.outcomes.of(id), "nothing to tell the conversation yet")
				// Counted just after the retry is settled.
				assert.Eventually(t, func() bool { return w.counter("engine_sends_total", "outcome", "retried") == 1 }, 5*time.Second, 5*time.Millisecond)
			case "dead-letter":
				assert.True(t, strings.HasPrefix(got.reason, "failed for good: "), got.reason)
				assert.Equal(t, actors.StatusFailed, m.Status)
				require.NotNil(t, m.Error)
				assert.Equal(t, max(tt.answer.code, 0), m.Error.Code)
				outs := w.outcomes.of(id)
				require.Len(t, outs, 1, "the conversation is told")
				assert.Equal(t, actors.StatusFailed, outs[0].Status)
				assert.Equal(t, tt.wantWindowClosed, outs[0].WindowClosed)
				assert.Equal(t, 1.0, w.counter("engine_sends_total", "outcome", "failed"))
			}

			// What a pause holds back, untried, and what it lets through.
			if tt.pausedNumber || tt.pausedRecipient {
				w.api.accept("4915100000001")
				same := w.send("4915100000001")
				held := w.settled(same, 1)
				assert.Equal(t, "hold", held.op, "the same recipient is held back")
				assert.Equal(t, 1, held.attempt)
				other := w.send("4915100000002")
				wantOther := "ack"
				if tt.pausedNumber {
					wantOther = "hold"
				}
				assert.Equal(t, wantOther, w.settled(other, 1).op, "another recipient on the same number")
				assert.Equal(t, 1, w.api.calls("4915100000001"), "nothing held reached the Cloud API")
				scope := "recipient"
				if tt.pausedNumber {
					scope = "number"
				}
				if tt.wantDelay > 0 {
					assert.Equal(t, 1.0, w.counter("engine_sender_paused_total", "scope", scope))
				}
			}
		})
	}
}

func TestSentMessageIsRecordedAndReported(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	id := w.send("4915100000003")
	require.Equal(t, "ack", w.settled(id, 1).op)
	m := w.store.get(id)
	assert.Equal(t, actors.StatusSent, m.Status)
	assert.Equal(t, "wamid.4915100000003.1", m.WaMessageID)
	outs := w.outcomes.of(id)
	require.Len(t, outs, 1)
	assert.Equal(t, conversation.SendOutcome{MessageID: id, WaMessageID: m.WaMessageID, Status: actors.StatusSent}, outs[0])
	assert.Equal(t, 1.0, w.counter("engine_sends_total", "outcome", "sent"))
}

func TestHeldSendUsesNoAttempt(t *testing.T) {
	t.Parallel()
	// One attempt per send, and a short pause so the held send comes back.
	w := newWorld(t, options{maxAttempts: 1, numberPause: 300 * time.Millisecond})
	w.api.answer("4915100000004", answer{status: 401, code: 190})
	first := w.send("4915100000004")
	assert.Equal(t, "dead-letter", w.settled(first, 1).op, "the 190 used the only attempt")
	assert.Equal(t, actors.StatusFailed, w.store.get(first).Status)

	w.api.accept("4915100000004")
	second := w.send("4915100000004")
	held := w.settled(second, 1)
	assert.Equal(t, "hold", held.op)
	assert.Equal(t, actors.StatusQueued, w.store.get(second).Status, "held on its only attempt, not failed")

	// The pause ends: the held send comes back with its attempt unused
	// and goes out.
	sent := w.settled(second, 2)
	assert.Equal(t, "ack", sent.op)
	assert.Equal(t, 1, sent.attempt, "the hold used no attempt")
	assert.Equal(t, actors.StatusSent, w.store.get(second).Status)
	dead, err := w.queue.ListDeadLetters(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, dead, 1, "only the send that failed is a dead letter")
	assert.Equal(t, first, dead[0].Job.MessageID)
}

func TestSendIsDeadLetteredAfterItsLastAttempt(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{maxAttempts: 2})
	w.api.answer("4915100000005", answer{status: 500, code: 1})
	id := w.send("4915100000005")
	assert.Equal(t, "retry", w.settled(id, 1).op)
	last := w.settled(id, 2)
	assert.Equal(t, "dead-letter", last.op)
	assert.Equal(t, 2, last.attempt)
	assert.Equal(t, 2, w.api.calls("4915100000005"))
	// The dead letter is settled before the message's status is written.
	require.Eventually(t, func() bool { return w.store.get(id).Status == actors.StatusFailed }, 5*time.Second, 2*time.Millisecond)
	m := w.store.get(id)
	require.NotNil(t, m.Error)
	assert.Contains(t, m.Error.Title, "dead-lettered")
	require.Eventually(t, func() bool { return len(w.outcomes.of(id)) == 1 }, 5*time.Second, 2*time.Millisecond, "the conversation is told")
	assert.Equal(t, actors.StatusFailed, w.outcomes.of(id)[0].Status)
	dead, err := w.queue.ListDeadLetters(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.True(t, strings.HasPrefix(dead[0].Reason, "attempts exhausted"), dead[0].Reason)
	assert.Equal(t, 1.0, w.counter("engine_sends_total", "outcome", "dead_lettered"))
}

// A job that makes the handler panic is retried, then dead-lettered with
// the panic as its reason; the sender keeps going.
func TestPanickingJobIsDeadLetteredAfterItsAttempts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{maxAttempts: 2})
	w.store.mu.Lock()
	w.store.poison = fmt.Sprintf("msg-%d", w.n.Load()+1)
	w.store.mu.Unlock()
	id := w.send("4915100000006")
	assert.Equal(t, "retry", w.settled(id, 1).op)
	last := w.settled(id, 2)
	assert.Equal(t, "dead-letter", last.op)
	assert.Contains(t, last.reason, "handler panicked: poison message "+id)
	assert.Zero(t, w.api.calls("4915100000006"))
	assert.Equal(t, 2.0, w.counter("engine_sends_total", "outcome", "panicked"))

	good := w.send("4915100000007")
	assert.Equal(t, "ack", w.settled(good, 1).op, "the queue keeps flowing")
	assert.Equal(t, 1, w.api.calls("4915100000007"))
}

func TestRedeliveredSendIsNotSentTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status string
	}{
		{name: "already sent", status: actors.StatusSent},
		{name: "already failed", status: actors.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, options{})
			id := w.send("4915100000006")
			require.Equal(t, "ack", w.settled(id, 1).op)
			require.Equal(t, 1, w.api.calls("4915100000006"))

			// The same job again (a redelivery after a crash), its message
			// no longer queued.
			m := w.store.get(id)
			m.Status = tt.status
			w.store.put(m)
			job := actors.OutboundJob{MessageID: id, ConversationID: m.ConversationID, PhoneNumberID: number, To: "4915100000006",
				Body: json.RawMessage(`{"to":"4915100000006"}`), Attempt: 1}
			require.NoError(t, w.queue.Publish(t.Context(), job))
			assert.Equal(t, "ack", w.settled(id, 2).op)
			assert.Equal(t, 1, w.api.calls("4915100000006"), "not sent again")
			assert.Equal(t, 1.0, w.counter("engine_sends_total", "outcome", "skipped"))
		})
	}
}

func TestJobForAnUnknownMessageIsDeadLettered(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	require.NoError(t, w.queue.Publish(t.Context(), actors.OutboundJob{MessageID: "nobody", PhoneNumberID: number, To: "4915100000007",
		Body: json.RawMessage(`{}`), Attempt: 1}))
	got := w.settled("nobody", 1)
	assert.Equal(t, "dead-letter", got.op)
	assert.Zero(t, w.api.calls("4915100000007"), "nothing to send")
	dead, err := w.queue.ListDeadLetters(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "message not found", dead[0].Reason)
}

// claims is an idempotency-record store with the store contract's claim
// rules (take over an unanswered claim whose lease ended).
type claims struct {
	mu   sync.Mutex
	recs map[string]actors.IdempotencyRecord
}

func (c *claims) ClaimIdempotency(_ context.Context, rec actors.IdempotencyRecord) (actors.IdempotencyRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.recs[rec.Key]
	switch {
	case !ok || old.ExpiresAt.Before(rec.CreatedAt):
		c.recs[rec.Key] = rec
		return rec, nil
	case old.Status == 0 && old.RequestHash == rec.RequestHash && old.LeaseUntil.Before(rec.CreatedAt):
		old.Owner, old.LeaseUntil = rec.Owner, rec.LeaseUntil
		c.recs[rec.Key] = old
		return old, nil
	}
	return actors.IdempotencyRecord{}, actors.ErrDuplicate
}

func (c *claims) ReleaseIdempotency(_ context.Context, key, owner string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.recs[key]; ok && r.Owner == owner && r.Status == 0 {
		delete(c.recs, key)
	}
	return nil
}

func (c *claims) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

// A send is claimed while in flight and released once answered; a job
// whose claim was left by a process that died mid-call is not sent again:
// its message fails as "send outcome unknown" and the job is dead-lettered.
func TestClaimStopsASecondSendAfterACrash(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	id := w.send("4915100000008")
	assert.Equal(t, "ack", w.settled(id, 1).op)
	assert.Equal(t, 1, w.api.calls("4915100000008"))
	require.Eventually(t, func() bool { return w.claims.count() == 0 }, 5*time.Second, 5*time.Millisecond, "released once answered")

	// The claim a dead process left: its lease ended.
	next := fmt.Sprintf("msg-%d", w.n.Load()+1)
	past := time.Now().UTC().Add(-2 * time.Minute)
	w.claims.mu.Lock()
	w.claims.recs["whatsapp.send:"+next] = actors.IdempotencyRecord{Key: "whatsapp.send:" + next, RequestHash: next, Owner: "dead",
		CreatedAt: past, ExpiresAt: past.Add(time.Hour), LeaseUntil: past.Add(time.Minute)}
	w.claims.mu.Unlock()
	require.Equal(t, next, w.send("4915100000009"))
	got := w.settled(next, 1)
	assert.Equal(t, "dead-letter", got.op)
	assert.Contains(t, got.reason, "send outcome unknown")
	assert.Zero(t, w.api.calls("4915100000009"), "not sent again")
	require.Eventually(t, func() bool { return w.store.get(next).Status == actors.StatusFailed }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, "send outcome unknown", w.store.get(next).Error.Title)
	assert.Zero(t, w.claims.count(), "a re-drive may send it")
}
