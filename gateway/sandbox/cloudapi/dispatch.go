package cloudapi

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Meta still signs with SHA-1 in X-Hub-Signature beside X-Hub-Signature-256
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/gateway/webhook"
)

// errQueueFull is returned by enqueue when MaxPendingCallbacks chains are
// already waiting.
var errQueueFull = errors.New("callback queue is full")

// maxRetryBackoff caps the doubling retry delay.
const maxRetryBackoff = time.Minute

// sha1Header is the older signature header Meta still sends beside
// X-Hub-Signature-256: "sha1=" and the hex HMAC-SHA1 of the same bytes.
const sha1Header = "X-Hub-Signature"

// chain is a sequence of webhook updates that must reach the engine in
// order, such as one message's sent, delivered and read statuses. Only its
// current step sits in the schedule; the next one is scheduled after the
// current one was answered 200 or given up on, so a chain never overtakes
// itself.
type chain struct {
	steps   []step
	attempt int      // posts of steps[0] so far
	ups     []update // steps[0]'s updates: built at its first post, reused by retries as Meta does
	log     []zap.Field

	due   time.Time
	seq   uint64 // FIFO among equal due times
	index int    // in the heap
}

// step is one callback: its updates are built when it is first posted, so
// the timestamps inside are the time of the post.
type step struct {
	name  string // for logs: "sent", "delivered", "inbound", ...
	build func(now time.Time) []update
}

// dispatcher posts callbacks to the engine's webhook: a scheduler ordered by
// due time feeds a fixed pool of workers. Chains due at the same moment
// are posted together in one body, up to maxBatch of them, as Meta
// batches updates. Pending chains are bounded (MaxPendingCallbacks);
// everything else is a fixed number of goroutines owned by run.
type dispatcher struct {
	url         string
	secret      string
	client      *http.Client
	log         *zap.Logger
	now         func() time.Time
	workers     int
	maxPending  int
	maxAttempts int
	retryBase   time.Duration
	timeout     time.Duration
	stepDelay   time.Duration
	maxBatch    int

	mu      sync.Mutex
	queue   chainHeap
	pending int // chains accepted and not finished, scheduled or in a worker
	seq     uint64
	wake    chan struct{} // capacity 1: "the head of the queue may have changed"
}

func newDispatcher(o Options, log *zap.Logger) *dispatcher {
	return &dispatcher{
		url: o.WebhookURL, secret: o.AppSecret, client: o.HTTPClient, log: log, now: o.Now,
		workers: o.Workers, maxPending: o.MaxPendingCallbacks, maxAttempts: o.CallbackAttempts,
		retryBase: o.RetryBackoff, timeout: o.CallbackTimeout, stepDelay: o.StatusDelay, maxBatch: o.MaxBatch,
		wake: make(chan struct{}, 1),
	}
}

// enabled reports whether callbacks go anywhere.
func (d *dispatcher) enabled() bool { return d.url != "" }

// hasRoom reports whether enqueue would accept a chain now.
func (d *dispatcher) hasRoom() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pending < d.maxPending
}

func (d *dispatcher) pendingCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pending
}

// enqueue schedules a chain whose first step is due after delay. It fails
// with errQueueFull when MaxPendingCallbacks chains are pending.
func (d *dispatcher) enqueue(steps []step, delay time.Duration, logFields ...zap.Field) error {
	if !d.enabled() || len(steps) == 0 {
		return nil
	}
	c := &chain{steps: steps, log: logFields}
	d.mu.Lock()
	if d.pending >= d.maxPending {
		d.mu.Unlock()
		return errQueueFull
	}
	d.pending++
	d.scheduleLocked(c, delay)
	d.mu.Unlock()
	return nil
}

func (d *dispatcher) scheduleLocked(c *chain, delay time.Duration) {
	d.seq++
	c.seq = d.seq
	c.due = time.Now().Add(delay)
	heap.Push(&d.queue, c)
	if c.index == 0 {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

func (d *dispatcher) schedule(c *chain, delay time.Duration) {
	d.mu.Lock()
	d.scheduleLocked(c, delay)
	d.mu.Unlock()
}

// jittered returns base plus up to a fifth of it.
func jittered(base time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	return base + rand.N(base/5+1)
}

// run feeds due chains to the workers until ctx ends, then waits for the
// workers. Chains still scheduled stay queued for a later run.
func (d *dispatcher) run(ctx context.Context) {
	work := make(chan []*chain)
	var wg sync.WaitGroup
	for range d.workers {
		wg.Go(func() {
			for group := range work {
				d.post(ctx, group)
			}
		})
	}
	d.feed(ctx, work)
	close(work)
	wg.Wait()
}

func (d *dispatcher) feed(ctx context.Context, work chan<- []*chain) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		group, wait := d.due()
		if len(group) > 0 {
			select {
			case work <- group:
				continue
			case <-ctx.Done():
				for _, c := range group {
					d.schedule(c, 0) // keep it for a later run
				}
				return
			}
		}
		var fire <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-fire:
		}
		timer.Stop()
	}
}

// due pops the chains that are due now, at most maxBatch; with none due it
// returns how long until the next one (-1: none scheduled).
func (d *dispatcher) due() ([]*chain, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var group []*chain
	now := time.Now()
	for len(d.queue) > 0 && len(group) < d.maxBatch {
		if w := d.queue[0].due.Sub(now); w > 0 {
			if len(group) == 0 {
				return nil, w
			}
			break
		}
		group = append(group, heap.Pop(&d.queue).(*chain))
	}
	if len(group) == 0 {
		return nil, -1
	}
	return group, 0
}

// post makes one attempt at the current step of every chain in group, in
// one webhook body, and schedules what comes next for each: a retry with
// backoff, the next step after the status delay, or nothing when the
// chain is done. Chains of a refused batch are retried each on its own
// schedule, each with the updates it had.
func (d *dispatcher) post(ctx context.Context, group []*chain) {
	var ups []update
	for _, c := range group {
		if c.ups == nil {
			c.ups = c.steps[0].build(d.now())
		}
		c.attempt++
		ups = append(ups, c.ups...)
	}
	var err error
	if len(ups) > 0 { // a step may find nothing left to report (a deleted template's review)
		err = d.send(ctx, composeWebhook(ups))
	}
	if err != nil && ctx.Err() != nil {
		// Shutting down: the attempt does not count; keep the chains.
		for _, c := range group {
			c.attempt--
			d.schedule(c, 0)
		}
		return
	}
	for _, c := range group {
		d.advance(c, err, len(group))
	}
}

// advance moves c on after an attempt that ended with err.
func (d *dispatcher) advance(c *chain, err error, batch int) {
	fields := append([]zap.Field{zap.String("callback", c.steps[0].name), zap.Int("attempt", c.attempt), zap.Int("batch", batch)}, c.log...)
	if err != nil {
		if c.attempt < d.maxAttempts {
			delay := d.backoff(c.attempt)
			d.log.Debug("callback refused; retrying", append(fields, zap.Duration("duration", delay), zap.Error(err))...)
			d.schedule(c, delay)
			return
		}
		d.log.Warn("callback given up", append(fields, zap.Error(err))...)
	} else {
		d.log.Debug("callback delivered", fields...)
	}
	c.steps, c.ups, c.attempt = c.steps[1:], nil, 0
	if len(c.steps) > 0 {
		d.schedule(c, jittered(d.stepDelay))
		return
	}
	d.mu.Lock()
	d.pending--
	d.mu.Unlock()
}

func (d *dispatcher) backoff(attempt int) time.Duration {
	b := d.retryBase
	for i := 1; i < attempt && b < maxRetryBackoff; i++ {
		b *= 2
	}
	return jittered(min(b, maxRetryBackoff))
}

// send posts body signed like Meta does (X-Hub-Signature-256 and the older
// SHA-1 X-Hub-Signature over the same bytes); only a 200 answer is a
// delivery.
func (d *dispatcher) send(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(body, d.secret))
	req.Header.Set(sha1Header, signSHA1(body, d.secret))
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post webhook: engine answered %d", resp.StatusCode)
	}
	return nil
}

// signSHA1 is the X-Hub-Signature value: "sha1=" and the lowercase hex
// HMAC-SHA1 of body keyed with the app secret.
func signSHA1(body []byte, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return "sha1=" + hex.EncodeToString(mac.Sum(nil))
}

// chainHeap orders chains by due time, then by scheduling order.
type chainHeap []*chain

func (h chainHeap) Len() int { return len(h) }
func (h chainHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h chainHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *chainHeap) Push(x any) {
	c := x.(*chain)
	c.index = len(*h)
	*h = append(*h, c)
}
func (h *chainHeap) Pop() any {
	old := *h
	n := len(old)
	c := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return c
}
