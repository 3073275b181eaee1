package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/outbound/sender"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
	"github.com/wacc/engine/persistence/memqueue"
)

// The test doubles of the sender's tests: a fake Cloud API, a store, the
// conversation outcomes, a delivery recorder and the world that wires them.

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

// store is the sender's Store in memory, with the store contract's rules
// (persistence/storetest): statuses only move forward, a send claim is
// taken over once its lease ends, and a status that moves ends it.
type store struct {
	mu     sync.Mutex
	msgs   map[string]actors.Message
	claims map[string]sendClaim
	// poison: reading or claiming this message panics, as a bug in a
	// handler would.
	poison string
}

// sendClaim is a message's claim in the store.
type sendClaim struct {
	owner      string
	claimedAt  time.Time
	leaseUntil time.Time
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

func (s *store) ClaimSend(_ context.Context, id, owner string, now, leaseUntil time.Time) (actors.SendClaim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == s.poison {
		panic("poison message " + id)
	}
	m, ok := s.msgs[id]
	switch {
	case !ok:
		return actors.SendClaim{}, fmt.Errorf("message %s: %w", id, actors.ErrNotFound)
	case m.Status != actors.StatusQueued:
		return actors.SendClaim{State: actors.SendNotQueued}, nil
	}
	c, held := s.claims[id]
	switch {
	case !held:
		s.claims[id] = sendClaim{owner: owner, claimedAt: now, leaseUntil: leaseUntil}
		return actors.SendClaim{State: actors.SendClaimed, ClaimedAt: now}, nil
	case !c.leaseUntil.Before(now):
		return actors.SendClaim{State: actors.SendInFlight}, nil
	}
	s.claims[id] = sendClaim{owner: owner, claimedAt: c.claimedAt, leaseUntil: leaseUntil}
	return actors.SendClaim{State: actors.SendOutcomeUnknown, ClaimedAt: c.claimedAt}, nil
}

func (s *store) ReleaseSend(_ context.Context, id, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.claims[id]; ok && c.owner == owner {
		delete(s.claims, id)
	}
	return nil
}

// claimed reports whether message id's send is claimed.
func (s *store) claimed(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.claims[id]
	return ok
}

// claim puts a claim on message id, as a process that then died left it.
func (s *store) claim(id string, c sendClaim) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims[id] = c
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
	delete(s.claims, id)
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
	w := &world{t: t, api: newCloudAPI(t), store: &store{msgs: map[string]actors.Message{}, claims: map[string]sendClaim{}}, outcomes: &outcomes{},
		reg: prometheus.NewRegistry()}
	w.queue = memqueue.New(memqueue.Options{MaxAttempts: o.maxAttempts})
	t.Cleanup(func() { _ = w.queue.Close() })
	w.rec = &recorder{q: w.queue, settled: map[string][]settlement{}}
	runSender(t, w.api, 200*time.Millisecond, sender.Options{Consumer: w.rec, Store: w.store, Directory: w.outcomes, Registry: w.reg,
		NumberPause: o.numberPause, RecipientPause: o.recipientPause})
	return w
}

// runSender runs a sender with opts, sending to api through a client
// whose calls time out after timeout and a shaper that lets every test's
// rate through, until the test ends.
func runSender(t *testing.T, api *cloudAPI, timeout time.Duration, opts sender.Options) {
	t.Helper()
	opts.Client = whatsapp.NewClient(whatsapp.ClientOptions{BaseURL: api.srv.URL, AccessToken: "token",
		HTTPClient: &http.Client{Timeout: timeout}})
	opts.Shaper = whatsapp.NewShaper(whatsapp.ShaperOptions{MPS: 1000, PairInterval: time.Millisecond, PairBurst: 1000})
	opts.Log = zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel+1))
	s := sender.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
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
