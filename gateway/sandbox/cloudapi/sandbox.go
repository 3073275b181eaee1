package cloudapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
)

// Defaults for the zero values of Options (StatusDelay excepted: zero means
// no delay; callers that want Meta-like pacing set DefaultStatusDelay).
const (
	DefaultStatusDelay         = 300 * time.Millisecond
	DefaultTimeoutHold         = 30 * time.Second
	DefaultWorkers             = 32
	DefaultMaxPending          = 50_000
	DefaultCallbackAttempts    = 10
	DefaultRetryBackoff        = time.Second
	DefaultCallbackTimeout     = 10 * time.Second
	DefaultMaxMediaBytes       = 16 << 20
	DefaultMediaStoreBytes     = 256 << 20
	DefaultMediaURLLife        = 5 * time.Minute
	DefaultUploadedMediaLife   = 30 * 24 * time.Hour
	DefaultInboundMediaLife    = 7 * 24 * time.Hour
	DefaultMaxSent             = 10_000
	DefaultMaxRateSamples      = 1 << 20
	DefaultBusinessAccountID   = "100000000000002"
	DefaultServiceWindow       = 24 * time.Hour
	DefaultTemplateReviewDelay = time.Second
	DefaultMaxBatch            = 10
	PricingCBP                 = "CBP"
	PricingPMP                 = "PMP"
	// DefaultListenHost is where a sandbox listens unless told otherwise:
	// loopback, since it accepts any bearer token.
	DefaultListenHost = "127.0.0.1"
)

// ErrRunning is returned by Run when the sandbox is already running.
var ErrRunning = errors.New("sandbox is already running")

// Options configure a Sandbox. Zero values take the defaults above.
type Options struct {
	Log *zap.Logger
	// WebhookURL is the engine's POST /api/whatsapp/webhook. Empty: no
	// status or inbound callbacks are posted (inbound simulation answers 503).
	WebhookURL string
	// AppSecret signs every callback body (X-Hub-Signature-256, webhook.Sign).
	AppSecret string
	// StatusDelay is the base delay before each status callback (sent, then
	// delivered, then read), plus a jitter of up to a fifth of it. Zero
	// posts them as fast as the engine answers (tests); DefaultStatusDelay
	// paces them as Meta roughly does.
	StatusDelay time.Duration
	// HTTPClient posts callbacks; default a plain client (each attempt is
	// bounded by CallbackTimeout).
	HTTPClient *http.Client
	// Now is the clock for timestamps in callbacks, SentMessage.At and Rate;
	// default time.Now. Scheduling always uses the real clock.
	Now func() time.Time

	// TimeoutHold is how long a request to a "...0003" number is held before
	// the connection is dropped without an answer (sooner if the client
	// gives up or Run stops).
	TimeoutHold time.Duration
	// Workers is the number of callback senders; MaxPendingCallbacks bounds
	// the messages whose callbacks are not finished yet. When it is reached,
	// sends are refused with code 2 (HTTP 503) until callbacks drain.
	Workers             int
	MaxPendingCallbacks int
	// CallbackAttempts bounds the posts of one callback the engine does not
	// answer 200; RetryBackoff is the first retry's delay, doubled each time
	// (capped at a minute). CallbackTimeout bounds one attempt.
	CallbackAttempts int
	RetryBackoff     time.Duration
	CallbackTimeout  time.Duration

	// MaxBatch bounds the updates (statuses, inbound messages, template
	// events) posted together in one webhook body when several are due at
	// once, as Meta batches them; 1 posts each on its own.
	MaxBatch int

	// PricingModel is the status webhooks' pricing.pricing_model:
	// PricingPMP (default: per-message pricing, Meta's model since July
	// 2025, with pricing.type) or PricingCBP (conversation-based).
	PricingModel string
	// BusinessAccountID is the WABA id: entry[].id of every webhook and the
	// {waba_id} of the message template endpoints.
	BusinessAccountID string

	// ServiceWindow is the customer service window: a free-form message to
	// a customer whose last message to that business number is older (or
	// who never wrote) is accepted and then fails with a 131047 status.
	ServiceWindow time.Duration
	// AssumeWindowOpen treats a customer the sandbox never saw write (no
	// POST /sandbox/whatsapp/inbound) as inside the window, for tests and
	// load runs that post inbound webhooks to the engine directly. A
	// customer who did write through the sandbox is still measured from
	// that message.
	AssumeWindowOpen bool

	// Templates are the WABA's message templates at start; nil:
	// SeedTemplates().
	Templates []Template
	// TemplateReviewDelay is how long a created template stays PENDING
	// before its APPROVED or REJECTED status webhook (names starting with
	// "reject_" are rejected).
	TemplateReviewDelay time.Duration
	// DisplayPhoneNumbers maps a phone_number_id to the metadata's
	// display_phone_number; unknown ids get a made-up 1555 number.
	DisplayPhoneNumbers map[string]string
	// PublicURL is the sandbox's base URL as clients see it, for media URLs;
	// default taken from each request's Host.
	PublicURL string
	// MaxMediaBytes bounds one uploaded file; MediaStoreBytes bounds all of
	// them (the oldest are evicted to make room).
	MaxMediaBytes   int64
	MediaStoreBytes int64
	// MediaURLLife is how long a URL handed out by GET /{media_id} serves
	// the bytes (Meta: five minutes); tests shorten it. UploadedMediaLife
	// and InboundMediaLife are how long a media id stays known: 30 days
	// for an upload, 7 for the id of a customer's medium in a webhook.
	MediaURLLife      time.Duration
	UploadedMediaLife time.Duration
	InboundMediaLife  time.Duration
	// MaxSent bounds the sent log (oldest dropped); MaxRateSamples bounds
	// the accept times kept per business number for Rate.
	MaxSent        int
	MaxRateSamples int
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StatusDelay < 0 {
		o.StatusDelay = 0
	}
	setDefault(&o.TimeoutHold, DefaultTimeoutHold)
	setDefault(&o.Workers, DefaultWorkers)
	setDefault(&o.MaxPendingCallbacks, DefaultMaxPending)
	setDefault(&o.CallbackAttempts, DefaultCallbackAttempts)
	setDefault(&o.RetryBackoff, DefaultRetryBackoff)
	setDefault(&o.CallbackTimeout, DefaultCallbackTimeout)
	setDefault(&o.PricingModel, PricingPMP)
	setDefault(&o.BusinessAccountID, DefaultBusinessAccountID)
	setDefault(&o.ServiceWindow, DefaultServiceWindow)
	setDefault(&o.TemplateReviewDelay, DefaultTemplateReviewDelay)
	setDefault(&o.MaxBatch, DefaultMaxBatch)
	if o.Templates == nil {
		o.Templates = SeedTemplates()
	}
	setDefault(&o.MaxMediaBytes, DefaultMaxMediaBytes)
	setDefault(&o.MediaStoreBytes, DefaultMediaStoreBytes)
	setDefault(&o.MediaURLLife, DefaultMediaURLLife)
	setDefault(&o.UploadedMediaLife, DefaultUploadedMediaLife)
	setDefault(&o.InboundMediaLife, DefaultInboundMediaLife)
	setDefault(&o.MaxSent, DefaultMaxSent)
	setDefault(&o.MaxRateSamples, DefaultMaxRateSamples)
	if o.HTTPClient == nil {
		// One kept-alive connection per callback worker (Go keeps 2 per
		// host by default, so most callbacks would dial anew).
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = o.Workers, o.Workers
		o.HTTPClient = &http.Client{Transport: t}
	}
	return o
}

func setDefault[T int | int64 | time.Duration | string](v *T, def T) {
	var zero T
	if *v <= zero {
		*v = def
	}
}

// Sandbox emulates the providers the engine talks to (today the WhatsApp
// Cloud API). It is safe for concurrent use.
type Sandbox struct {
	log  *zap.Logger
	disp *dispatcher // shared by every provider that posts callbacks
	wa   *whatsApp

	mu      sync.Mutex
	running bool
	stopped chan struct{} // closed when the current Run returns; nil when not running
}

// New builds a sandbox; call Run to deliver callbacks and Handler to serve.
func New(opts Options) *Sandbox {
	opts = opts.withDefaults()
	log := opts.Log.With(zap.String("component", "sandbox"))
	disp := newDispatcher(opts, log)
	s := &Sandbox{log: log, disp: disp}
	s.wa = newWhatsApp(opts, log, disp, s.stopSignal)
	return s
}

// stopSignal returns a channel closed when the running Run returns, or nil
// (never ready) when the sandbox is not running.
func (s *Sandbox) stopSignal() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Handler returns the sandbox's own router. Each provider mounts its routes
// under its own prefix:
//
//	/{version}/...          WhatsApp Graph API paths, as on graph.facebook.com
//	/media/{id}             WhatsApp media downloads (the URLs GET /{version}/{media_id} hands out)
//	/sandbox/whatsapp/...   WhatsApp test controls (inbound simulation, sent log)
//
// Exotel's fake (gateway/sandbox/exotel) has its own handler; cmd/sandbox
// serves both on one listener, sending /v1/Accounts/... and
// /sandbox/exotel/... to it (this handler's /{version}/... would take them).
func (s *Sandbox) Handler() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, &apiError{status: http.StatusNotFound, code: CodeInvalidParameter, title: "Invalid parameter",
			details: "Unknown path components: " + clip(r.URL.Path)})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, &apiError{status: http.StatusMethodNotAllowed, code: CodeInvalidParameter, title: "Invalid parameter",
			details: "Unsupported " + r.Method + " request on " + clip(r.URL.Path)})
	})
	s.wa.mount(r)
	return r
}

// Run delivers callbacks on a bounded pool of workers until ctx ends, then
// waits for them and returns nil. Callbacks still pending are dropped (and
// logged). Requests held for the 0003 time-out are released. Run may be
// called again after it returned; concurrently it returns ErrRunning.
func (s *Sandbox) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return ErrRunning
	}
	s.running = true
	stopped := make(chan struct{})
	s.stopped = stopped
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		close(stopped)
		s.stopped = nil
		s.running = false
		s.mu.Unlock()
	}()

	s.log.Debug("callback workers started", zap.Int("workers", s.disp.workers))
	s.disp.run(ctx)
	s.log.Debug("callback workers stopped", zap.Int("pending_callbacks", s.disp.pendingCount()))
	return nil
}

// Sent returns the WhatsApp messages accepted so far (the most recent
// Options.MaxSent), oldest first.
func (s *Sandbox) Sent() []SentMessage { return s.wa.rec.list("", 0) }

// Reset forgets the sent log, the Rate samples, the per-recipient failure
// counters and the open pricing conversations. Uploaded media, customer
// service windows, templates and callbacks already scheduled are kept.
func (s *Sandbox) Reset() { s.wa.reset() }

// Rate returns the largest number of messages accepted for phoneNumberID
// within any window of the given length (half-open: [t, t+window)). A test
// asserts the engine kept to its messages-per-second limit with
// Rate(id, time.Second) <= mps.
func (s *Sandbox) Rate(phoneNumberID string, window time.Duration) int {
	return s.wa.rec.rate(phoneNumberID, window)
}

// PendingCallbacks returns how many messages still have callbacks to post.
func (s *Sandbox) PendingCallbacks() int { return s.disp.pendingCount() }

// Templates returns the WhatsApp Business Account's message templates,
// oldest first.
func (s *Sandbox) Templates() []Template { return s.wa.templates.all() }

// UpdateTemplate changes the status or quality score of the template id as
// Meta would (pausing, disabling, approving it...) and posts the
// message_template_status_update and message_template_quality_update
// webhooks of the change. It fails with ErrTemplateNotFound,
// ErrTemplateStatus or ErrTemplateQuality.
func (s *Sandbox) UpdateTemplate(id string, u TemplateUpdate) (Template, error) {
	return s.wa.updateTemplate(id, u)
}

// BusinessAccountID is the WABA id the sandbox answers for.
func (s *Sandbox) BusinessAccountID() string { return s.wa.opts.BusinessAccountID }
