package exotel

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
)

// Defaults for the zero values of Options.
const (
	DefaultAccountSID       = "sandbox1"
	DefaultAPIKey           = "sandbox-key"
	DefaultAPIToken         = "sandbox-token"
	DefaultExoPhone         = "08047112233"
	DefaultRingDelay        = 6 * time.Second
	DefaultTalkDelay        = 20 * time.Second
	DefaultTimeoutHold      = 30 * time.Second
	DefaultCallbackAttempts = 3
	DefaultRetryBackoff     = time.Second
	DefaultCallbackTimeout  = 15 * time.Second
	DefaultMaxLiveCalls     = 10_000
	DefaultMaxRecords       = 10_000
	// MaxTimeLimit is Exotel's largest TimeLimit: four hours, in seconds.
	MaxTimeLimit = 14400
	// MaxCustomField is the longest CustomField Exotel takes.
	MaxCustomField = 128
)

// Errors of Run.
var (
	ErrRunning = errors.New("exotel sandbox is already running")
	ErrStopped = errors.New("exotel sandbox has stopped; build a new one")
)

// Options configure a Sandbox. Zero values take the defaults above.
type Options struct {
	Log *zap.Logger
	// AccountSID is the {sid} of every path; APIKey and APIToken are the
	// HTTP basic credentials the API requires.
	AccountSID string
	APIKey     string
	APIToken   string
	// ExoPhones are the account's virtual numbers: a connect request's
	// CallerId must be one of them (compared by digits, so "+9180..." and
	// "080..." name the same number). Default: DefaultExoPhone.
	ExoPhones []string

	// RingDelay is the time from an accepted connect to the answered
	// event (or, for busy, no-answer and failed, to the terminal one);
	// TalkDelay is the time from answered to terminal for a completed
	// call. Each gets a jitter of up to a fifth of it. Tests set them to a
	// few milliseconds.
	RingDelay time.Duration
	TalkDelay time.Duration
	// TalkSeconds is the ConversationDuration a completed call reports;
	// default TalkDelay in whole seconds, at least 1.
	TalkSeconds int

	// TimeoutHold is how long a request is held before its connection is
	// dropped unanswered (the ...0009 outcome and the timeout fault),
	// sooner if the client gives up or Run stops.
	TimeoutHold time.Duration
	// CallbackAttempts bounds the posts of one callback the receiver does
	// not answer 2xx; RetryBackoff is the first retry's delay, doubled each
	// time. CallbackTimeout bounds one attempt.
	CallbackAttempts int
	RetryBackoff     time.Duration
	CallbackTimeout  time.Duration
	// MaxLiveCalls bounds the calls whose callbacks are still to come;
	// beyond it connect answers 429, as Exotel does past its rate.
	MaxLiveCalls int
	// MaxRecords bounds the placed-call and callback logs (oldest
	// dropped). Calls stay known to the details endpoint as long as they
	// are in the log.
	MaxRecords int
	// HTTPClient posts callbacks; default a plain client.
	HTTPClient *http.Client
	// Now is the clock of the times in answers and callbacks; default
	// time.Now. Scheduling always uses the real clock.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	setDefault(&o.AccountSID, DefaultAccountSID)
	setDefault(&o.APIKey, DefaultAPIKey)
	setDefault(&o.APIToken, DefaultAPIToken)
	if len(o.ExoPhones) == 0 {
		o.ExoPhones = []string{DefaultExoPhone}
	}
	setDefault(&o.RingDelay, DefaultRingDelay)
	setDefault(&o.TalkDelay, DefaultTalkDelay)
	if o.TalkSeconds <= 0 {
		o.TalkSeconds = max(1, int((o.TalkDelay+time.Second-1)/time.Second))
	}
	setDefault(&o.TimeoutHold, DefaultTimeoutHold)
	setDefault(&o.CallbackAttempts, DefaultCallbackAttempts)
	setDefault(&o.RetryBackoff, DefaultRetryBackoff)
	setDefault(&o.CallbackTimeout, DefaultCallbackTimeout)
	setDefault(&o.MaxLiveCalls, DefaultMaxLiveCalls)
	setDefault(&o.MaxRecords, DefaultMaxRecords)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	return o
}

func setDefault[T int | time.Duration | string](v *T, def T) {
	var zero T
	if *v <= zero {
		*v = def
	}
}

// Sandbox emulates Exotel's Voice v1 connect and call-details API and
// posts its status callbacks. It is safe for concurrent use.
type Sandbox struct {
	opts   Options
	log    *zap.Logger
	phones map[string]string // ExoPhone digits -> as configured
	rec    *recorder
	faults *faultBook

	// ctx is the sandbox's base context, cancelled when Run returns (or
	// Stop is called): every call's goroutine, callback post and held
	// request ends. wg counts those goroutines.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	live   chan struct{} // a token per live call (bounded by MaxLiveCalls)

	mu      sync.Mutex
	running bool
	stopped bool
}

// New builds a sandbox. Calls placed before Run get their callbacks too;
// Run (or Stop) ends them.
func New(opts Options) *Sandbox {
	opts = opts.withDefaults()
	s := &Sandbox{
		opts:   opts,
		log:    opts.Log.With(zap.String("component", "exotel_sandbox")),
		phones: map[string]string{},
		rec:    newRecorder(opts.MaxRecords),
		faults: &faultBook{},
		live:   make(chan struct{}, opts.MaxLiveCalls),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, p := range opts.ExoPhones {
		if d, ok := phoneDigits(p); ok {
			s.phones[d] = p
		}
	}
	return s
}

// Handler returns the sandbox's router:
//
//	POST /v1/Accounts/{sid}/Calls/connect.json   connect two numbers
//	GET  /v1/Accounts/{sid}/Calls/{CallSid}.json call details (?details=true for legs)
//	GET  /v1/Accounts/{sid}/Calls.json           bulk call details (Sid, To, From, Status filters)
//	/sandbox/exotel/...                          test controls (placed calls, callbacks, faults)
func (s *Sandbox) Handler() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeRestError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource "+clip(r.URL.Path)+" was not found")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeRestError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method+" is not allowed on "+clip(r.URL.Path))
	})
	r.Route("/v1/Accounts/{sid}", func(r chi.Router) {
		r.Use(s.authenticate)
		r.Post("/Calls/connect.json", s.handleConnect)
		r.Get("/Calls.json", s.handleBulkDetails)
		r.Get("/Calls/{callFile}", s.handleDetails)
	})
	s.mountControls(r)
	return r
}

// Run keeps the sandbox's callbacks going until ctx ends, then stops every
// pending callback and held request and waits for them. A sandbox runs
// once: a second concurrent Run returns ErrRunning, one after the first
// returned ErrStopped.
func (s *Sandbox) Run(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.stopped:
		s.mu.Unlock()
		return ErrStopped
	case s.running:
		s.mu.Unlock()
		return ErrRunning
	}
	s.running = true
	s.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-s.ctx.Done():
	}
	s.Stop()
	return nil
}

// Stop ends every pending callback and held request and waits for them;
// safe to call twice and without Run.
func (s *Sandbox) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// AccountSID is the account the sandbox answers for.
func (s *Sandbox) AccountSID() string { return s.opts.AccountSID }

// Calls returns every call placed (the most recent MaxRecords), oldest
// first: a connect answered with a timeout is here too when Exotel would
// have placed it.
func (s *Sandbox) Calls() []PlacedCall { return s.rec.calls("") }

// CallsTo returns the calls placed to the customer number to (any format:
// compared by digits), oldest first.
func (s *Sandbox) CallsTo(to string) []PlacedCall {
	d, _ := phoneDigits(to)
	return s.rec.calls(d)
}

// Callbacks returns the status callbacks posted (delivered or given up),
// oldest first.
func (s *Sandbox) Callbacks() []Callback { return s.rec.callbacks() }

// LiveCalls is the number of calls whose callbacks are still to come.
func (s *Sandbox) LiveCalls() int { return len(s.live) }

// Reset forgets the placed calls, the callbacks and the armed faults.
// Live calls still post their callbacks.
func (s *Sandbox) Reset() {
	s.rec.reset()
	s.faults.arm(FaultNone, 0)
}
