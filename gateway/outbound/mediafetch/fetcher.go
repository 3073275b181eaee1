package mediafetch

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
)

// Store is what the fetcher reads and writes: media records, the messages
// that carry them and the conversations their events are routed by.
type Store interface {
	actors.MediaStore
	Message(ctx context.Context, id string) (actors.Message, error)
	Conversation(ctx context.Context, id string) (actors.Conversation, error)
}

// Client is the Cloud API's media lookup and download
// (whatsapp.Client).
type Client interface {
	MediaURL(ctx context.Context, mediaID string) (whatsapp.MediaInfo, error)
	Download(ctx context.Context, mediaURL string, want whatsapp.Expect) (io.ReadCloser, error)
}

// Defaults of Options.
const (
	DefaultWorkers        = 4
	DefaultQueue          = 10_000
	DefaultMaxAttempts    = 10
	DefaultRetryBase      = 2 * time.Second
	DefaultRetryMax       = 10 * time.Minute
	DefaultAttemptTimeout = 10 * time.Minute
	DefaultSweepEvery     = 30 * time.Second
	DefaultMaxBytes       = 100 << 20
	// sweepBatch bounds the pending records one sweep reads.
	sweepBatch = 1000
)

// Options build a Fetcher. Zero values take the defaults above.
type Options struct {
	Store Store
	// Blobs keeps the bytes; the fetcher stores them with the record
	// through mediabytes.Save, safe beside a deletion of the same bytes.
	Blobs mediabytes.Blobs
	// TempDir holds each download while it is checked and stored
	// (os.TempDir when empty): bytes are never held whole in memory. When
	// set, Run removes the downloads a previous process left there.
	TempDir string
	// Client fetches from the Cloud API with the engine's access token.
	Client Client
	// Publisher receives message.updated (the engine's actors.Bus).
	Publisher actors.Publisher
	// Workers bounds the fetches in flight; Queue bounds the media waiting
	// for a worker (beyond it Fetch drops the request and the next sweep
	// finds the record).
	Workers int
	Queue   int
	// MaxAttempts is how many times one medium is tried before it fails for
	// good; RetryBase is the delay after the first failed attempt, doubled
	// each time up to RetryMax (with jitter down to half).
	MaxAttempts int
	RetryBase   time.Duration
	RetryMax    time.Duration
	// AttemptTimeout bounds one attempt (URL lookup, download and store).
	AttemptTimeout time.Duration
	// SweepEvery is how often the pending records are read back, so that a
	// retry whose timer was lost (a restart) or a request Fetch dropped is
	// still made.
	SweepEvery time.Duration
	// MaxBytes bounds one medium (MEDIA_MAX_BYTES).
	MaxBytes int64
	Log      *zap.Logger
	Registry prometheus.Registerer
	// Now is the clock of records and retries; time.Now when nil.
	Now func() time.Time
}

// Fetcher brings the media of inbound messages into the engine's store.
// Build it with New; Run it; it is safe for concurrent use.
type Fetcher struct {
	opts    Options
	log     *zap.Logger
	queue   chan string
	fetched *prometheus.CounterVec

	mu      sync.Mutex
	active  map[string]bool        // queued or being fetched
	timers  map[string]*time.Timer // retries scheduled
	stopped bool
}

// New returns a Fetcher; its metrics are registered on opts.Registry when
// set.
func New(opts Options) *Fetcher {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opts.Workers, DefaultWorkers)
	def(&opts.Queue, DefaultQueue)
	def(&opts.MaxAttempts, DefaultMaxAttempts)
	defDur(&opts.RetryBase, DefaultRetryBase)
	defDur(&opts.RetryMax, DefaultRetryMax)
	defDur(&opts.AttemptTimeout, DefaultAttemptTimeout)
	defDur(&opts.SweepEvery, DefaultSweepEvery)
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f := &Fetcher{opts: opts, log: opts.Log.With(zap.String("component", "mediafetch")), queue: make(chan string, opts.Queue),
		active: map[string]bool{}, timers: map[string]*time.Timer{},
		fetched: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_media_fetches_total",
			Help: "Attempts to fetch inbound media from WhatsApp by outcome (stored, retried, failed; dropped: the queue was full, the sweep retries)."},
			[]string{"outcome"}),
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(f.fetched)
	}
	return f
}

func (f *Fetcher) now() time.Time { return f.opts.Now() }

// Fetch asks for the bytes of the pending medium mediaID. It never blocks:
// a medium already queued or in flight is not queued twice, and when the
// queue is full the request is dropped (the record stays pending and the
// next sweep takes it).
func (f *Fetcher) Fetch(mediaID string) {
	f.mu.Lock()
	if f.stopped || f.active[mediaID] {
		f.mu.Unlock()
		return
	}
	f.active[mediaID] = true
	f.mu.Unlock()
	select {
	case f.queue <- mediaID:
	default:
		f.done(mediaID)
		f.fetched.WithLabelValues("dropped").Inc()
		f.log.Warn("media fetch queue full; the sweep will take the medium", zap.String("media_id", mediaID))
	}
}

// done forgets that mediaID is queued or in flight.
func (f *Fetcher) done(mediaID string) {
	f.mu.Lock()
	delete(f.active, mediaID)
	f.mu.Unlock()
}

// Run fetches until ctx ends: Workers goroutines take the queue, and every
// SweepEvery (and at once, which recovers what a previous run left) the
// pending records are read back and those due are queued. It waits for
// the attempts in flight (their context is ctx) and returns nil.
func (f *Fetcher) Run(ctx context.Context) error {
	f.removeLeftovers()
	var wg sync.WaitGroup
	for range f.opts.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-f.queue:
					f.attempt(ctx, id)
					f.done(id)
				}
			}
		})
	}
	t := time.NewTicker(f.opts.SweepEvery)
	defer t.Stop()
	for {
		f.sweep(ctx)
		select {
		case <-ctx.Done():
			f.stop()
			wg.Wait()
			return nil
		case <-t.C:
		}
	}
}

// stop cancels the scheduled retries; the sweep of the next run finds
// their records.
func (f *Fetcher) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	for id, t := range f.timers {
		t.Stop()
		delete(f.timers, id)
	}
}

// sweep queues the pending media whose next attempt is due.
func (f *Fetcher) sweep(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, f.opts.AttemptTimeout)
	defer cancel()
	ms, err := f.opts.Store.MediaByStatus(sctx, actors.MediaPending, sweepBatch)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("read pending media; the next sweep tries again", zap.Error(err))
		}
		return
	}
	now := f.now()
	for _, m := range ms {
		due := m.UpdatedAt.Add(f.retryDelay(m.Attempts))
		if m.Attempts == 0 || !now.Before(due) {
			f.Fetch(m.ID)
			continue
		}
		// Not due yet: its retry timer may be gone (a restart), so make
		// sure one is set for when it is.
		f.retryAt(m.ID, due.Sub(now), false)
	}
}

// retryDelay is the ceiling of the wait after attempt n failed:
// RetryBase doubled per attempt up to RetryMax.
func (f *Fetcher) retryDelay(n int) time.Duration {
	d := f.opts.RetryBase
	for i := 1; i < n && d < f.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, f.opts.RetryMax)
}

// scheduleRetry queues mediaID again after the delay of its attempt n (at
// least half of it, jittered), unless Run stopped.
func (f *Fetcher) scheduleRetry(mediaID string, n int) time.Duration {
	ceiling := f.retryDelay(n)
	delay := ceiling/2 + time.Duration(rand.Int64N(int64(ceiling/2)+1))
	f.retryAt(mediaID, delay, true)
	return delay
}

// retryAt queues mediaID after delay, unless Run stopped or, when replace
// is false, a retry is set for it already.
func (f *Fetcher) retryAt(mediaID string, delay time.Duration, replace bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	if old := f.timers[mediaID]; old != nil {
		if !replace {
			return
		}
		old.Stop()
	}
	f.timers[mediaID] = time.AfterFunc(delay, func() {
		f.mu.Lock()
		delete(f.timers, mediaID)
		f.mu.Unlock()
		f.Fetch(mediaID)
	})
}

// spoolPattern names the temporary files of downloads.
const spoolPattern = "fetch-*.part"

// removeLeftovers creates TempDir and removes the downloads a previous
// process left there (none when TempDir is the system's, which others
// share).
func (f *Fetcher) removeLeftovers() {
	if f.opts.TempDir == "" {
		return
	}
	if err := os.MkdirAll(f.opts.TempDir, 0o700); err != nil {
		f.log.Error("create the download directory; fetches fail until it exists", zap.String("path", f.opts.TempDir), zap.Error(err))
		return
	}
	left, err := filepath.Glob(filepath.Join(f.opts.TempDir, spoolPattern))
	if err != nil {
		return
	}
	for _, p := range left {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			f.log.Warn("remove a download left by a previous run", zap.String("path", p), zap.Error(err))
		}
	}
}

// errPermanent marks a failure no retry can mend.
var errPermanent = errors.New("permanent")
