package cloudapi

import (
	"bytes"
	"container/heap"
	"context"
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

// chain is a sequence of webhook posts that must reach the engine in order,
// such as one message's sent, delivered and read statuses. Only its current
// step sits in the schedule; the next one is scheduled after the current
// one was answered 200 or given up on, so a chain never overtakes itself.
type chain struct {
	steps   []step
	attempt int    // posts of steps[0] so far
	body    []byte // steps[0]'s body: built at its first post, reused by retries as Meta does
	log     []zap.Field

	due   time.Time
	seq   uint64 // FIFO among equal due times
	index int    // in the heap
}

// step is one callback: its body is built when it is first posted, so the
// timestamp inside is the time of the post.
type step struct {
	name  string // for logs: "sent", "delivered", "inbound", ...
	build func(now time.Time) []byte
}

// dispatcher posts callbacks to the engine's webhook: a scheduler ordered by
// due time feeds a fixed pool of workers. Pending chains are bounded
// (MaxPendingCallbacks); everything else is a fixed number of goroutines
// owned by run.
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
		retryBase: o.RetryBackoff, timeout: o.CallbackTimeout, stepDelay: o.StatusDelay,
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
	work := make(chan *chain)
	var wg sync.WaitGroup
	for range d.workers {
		wg.Go(func() {
			for c := range work {
				d.post(ctx, c)
			}
		})
	}
	d.feed(ctx, work)
	close(work)
	wg.Wait()
}

func (d *dispatcher) feed(ctx context.Context, work chan<- *chain) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		d.mu.Lock()
		var next *chain
		wait := time.Duration(-1)
		if len(d.queue) > 0 {
			if w := time.Until(d.queue[0].due); w <= 0 {
				next = heap.Pop(&d.queue).(*chain)
			} else {
				wait = w
			}
		}
		d.mu.Unlock()

		if next != nil {
			select {
			case work <- next:
				continue
			case <-ctx.Done():
				d.schedule(next, 0) // keep it for a later run
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

// post makes one attempt at the chain's current step and schedules what
// comes next: a retry with backoff, the next step after the status delay,
// or nothing when the chain is done.
func (d *dispatcher) post(ctx context.Context, c *chain) {
	st := c.steps[0]
	if c.body == nil {
		c.body = st.build(d.now())
	}
	c.attempt++
	err := d.send(ctx, c.body)
	if err != nil && ctx.Err() != nil {
		// Shutting down: the attempt does not count; keep the chain.
		c.attempt--
		d.schedule(c, 0)
		return
	}
	fields := append([]zap.Field{zap.String("callback", st.name), zap.Int("attempt", c.attempt)}, c.log...)
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
	c.steps, c.body, c.attempt = c.steps[1:], nil, 0
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

// send posts body signed like Meta does; only a 200 answer is a delivery.
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
