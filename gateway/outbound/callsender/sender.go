package callsender

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/gateway/outbound/exotel"
)

// DefaultQueue is the name of the queue the sender drains (RabbitMQ's
// queue name; its retry and dead-letter queues take it as prefix).
const DefaultQueue = "exotel.outbound"

// Defaults New uses for the zero values of Options.
const (
	DefaultAskTimeout     = 5 * time.Second
	DefaultSettleWindow   = 60 * time.Second
	DefaultLookupSkew     = 5 * time.Second
	DefaultAuthPause      = 5 * time.Minute
	DefaultWaitDelay      = 5 * time.Second
	DefaultRetryBase      = time.Second
	DefaultRetryCap       = 5 * time.Minute
	DefaultRequestTimeout = 30 * time.Second
)

// Client is what the sender needs of Exotel (*exotel.Client).
type Client interface {
	Connect(ctx context.Context, req exotel.ConnectRequest) (exotel.Placed, error)
	FindPlaced(ctx context.Context, from, to string, since time.Time) (call.Details, bool, error)
}

// Options build a Sender. Consumer, Client, Directory and Log are required.
type Options struct {
	// Consumer is the exotel.outbound queue (memqueue or rabbitqueue).
	Consumer  actors.OutboundConsumer
	Client    Client
	Directory call.Directory
	Log       *zap.Logger
	// Registry gets the sender's metrics when set.
	Registry prometheus.Registerer
	// AskTimeout bounds each question to a call actor.
	AskTimeout time.Duration
	// SettleWindow is how long after a connect whose outcome is unknown
	// began the sender keeps looking for its call at Exotel before it
	// concludes none was placed and places it again; at least twice the
	// call's TimeOut (both legs ringing). Exotel's bulk listing may leave
	// out a call until it is over, so the window must cover the time a
	// placed call takes to send its answered or terminal callback (which
	// names our call id): the longer, the safer.
	SettleWindow time.Duration
	// LookupSkew is taken off the connect's start for the lookup, for the
	// difference between our clock and Exotel's.
	LookupSkew time.Duration
	// AuthPause is how long every call is held after Exotel refused our
	// credentials, account or caller id.
	AuthPause time.Duration
	// WaitDelay is how long a job is put back while another delivery is
	// connecting its call, while its outcome is looked up, or when its
	// outcome could not be recorded.
	WaitDelay time.Duration
	// RetryBase and RetryCap bound the backoff of a connect Exotel did not
	// take: a random wait up to RetryBase×2^(attempt-1), at most RetryCap,
	// never below what Exotel asked for.
	RetryBase time.Duration
	RetryCap  time.Duration
	// RequestTimeout bounds one request to Exotel on top of the client's
	// own timeout. A connect in flight finishes (and is recorded) even when
	// Run's ctx ends.
	RequestTimeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	pick := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	pick(&o.AskTimeout, DefaultAskTimeout)
	pick(&o.SettleWindow, DefaultSettleWindow)
	pick(&o.LookupSkew, DefaultLookupSkew)
	pick(&o.AuthPause, DefaultAuthPause)
	pick(&o.WaitDelay, DefaultWaitDelay)
	pick(&o.RetryBase, DefaultRetryBase)
	pick(&o.RetryCap, DefaultRetryCap)
	pick(&o.RequestTimeout, DefaultRequestTimeout)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Sender drains the exotel.outbound queue into Exotel's connect API. Build
// it with New; Run starts it.
type Sender struct {
	opts Options
	log  *zap.Logger
	wg   sync.WaitGroup

	outcomes *prometheus.CounterVec
	latency  prometheus.Histogram
	pauses   prometheus.Counter

	mu          sync.Mutex
	pausedUntil time.Time
}

// New checks opts and returns a Sender.
func New(opts Options) (*Sender, error) {
	var errs []error
	if opts.Consumer == nil {
		errs = append(errs, errors.New("no consumer"))
	}
	if opts.Client == nil {
		errs = append(errs, errors.New("no Exotel client"))
	}
	if opts.Directory == nil {
		errs = append(errs, errors.New("no call directory"))
	}
	if opts.Log == nil {
		errs = append(errs, errors.New("no logger"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("call sender options: %w", err)
	}
	opts = opts.withDefaults()
	s := &Sender{opts: opts, log: opts.Log.With(zap.String("component", "call_sender")),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_call_connects_total",
			Help: "Exotel connect jobs by outcome (placed, resolved: found at Exotel after a lost answer, failed, retried, " +
				"unknown: outcome lost, looked up next, dead_lettered, held, skipped)."}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "engine_call_connect_duration_seconds",
			Help: "Exotel connect request latency.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		pauses: prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_call_sender_paused_total",
			Help: "Times calling was paused because Exotel refused the engine's credentials, account or caller id."}),
	}
	if opts.Registry != nil {
		if err := registerAll(opts.Registry, s.outcomes, s.latency, s.pauses); err != nil {
			return nil, fmt.Errorf("call sender metrics: %w", err)
		}
	}
	return s, nil
}

func registerAll(r prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Run consumes until ctx ends, then waits for the jobs in flight (a
// connect in flight finishes and its outcome is recorded).
func (s *Sender) Run(ctx context.Context) error {
	err := s.opts.Consumer.Consume(ctx, func(d actors.Delivery) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.process(ctx, d)
		}()
	})
	s.wg.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// PausedUntil is when calling resumes after Exotel refused our
// credentials; zero or past when it is not paused.
func (s *Sender) PausedUntil() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pausedUntil
}

// pause holds every call for AuthPause and says so loudly.
func (s *Sender) pause(dec exotel.Decision, err error, log *zap.Logger) {
	until := s.opts.Now().Add(s.opts.AuthPause)
	s.mu.Lock()
	if until.After(s.pausedUntil) {
		s.pausedUntil = until
	}
	s.mu.Unlock()
	s.pauses.Inc()
	log.Error("Exotel refused the engine's credentials, account or caller id; calling paused",
		zap.Int("http_status", dec.HTTPStatus), zap.String("code", dec.Code), zap.Duration("pause", s.opts.AuthPause), zap.Error(err))
}

// pausedFor is how long calling stays paused (0 when it is not).
func (s *Sender) pausedFor() time.Duration {
	return s.PausedUntil().Sub(s.opts.Now())
}

// backoff is a random wait up to RetryBase×2^(attempt-1), capped at
// RetryCap, and never below minDelay.
func (s *Sender) backoff(attempt int, minDelay time.Duration) time.Duration {
	ceiling := s.opts.RetryCap
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		ceiling = min(s.opts.RetryBase<<(attempt-1), s.opts.RetryCap)
	}
	return max(time.Duration(rand.Int64N(int64(ceiling)+1)), minDelay)
}
