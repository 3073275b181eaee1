package memqueue

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Defaults New uses for the zero values of Options.
const (
	DefaultCapacity     = 100000
	DefaultDeadCapacity = 10000
	DefaultPrefetch     = 64
	DefaultMaxAttempts  = 8
	DefaultMaxPriority  = 9
)

// Sentinel errors. ErrFull and ErrClosed wrap actors.ErrUnavailable, so the
// edge answers 503 for either.
var (
	// ErrFull means Capacity jobs are queued, waiting for a retry or
	// unacknowledged: Publish refuses more until some are acked.
	ErrFull = fmt.Errorf("outbound queue full: %w", actors.ErrUnavailable)
	// ErrClosed means Close was called.
	ErrClosed = fmt.Errorf("outbound queue closed: %w", actors.ErrUnavailable)
	// ErrDeliveryLost means the delivery's Consume call ended before it was
	// settled (actors.ErrDeliveryLost).
	ErrDeliveryLost = actors.ErrDeliveryLost
	// ErrSettled is actors.ErrSettled.
	ErrSettled = actors.ErrSettled
)

// Compile-time checks that Queue is the outbound queue the engine needs.
var (
	_ actors.OutboundPublisher = (*Queue)(nil)
	_ actors.OutboundConsumer  = (*Queue)(nil)
	_ actors.DeadLetters       = (*Queue)(nil)
)

// Options configure a Queue. Zero values take the defaults above.
type Options struct {
	// Capacity bounds the jobs held: ready, waiting for a retry, or
	// delivered and not yet settled. Dead letters are not counted.
	Capacity int
	// DeadCapacity bounds the dead-letter list; when it is full the oldest
	// dead letter is dropped (and logged at error level).
	DeadCapacity int
	// Prefetch bounds the unsettled deliveries of one Consume call.
	Prefetch int
	// MaxAttempts is the number of deliveries a job gets: Retry on a job
	// whose Attempt is MaxAttempts dead-letters it instead.
	MaxAttempts int
	// MaxPriority caps job priorities, as RabbitMQ's x-max-priority does:
	// higher ones are delivered as MaxPriority.
	MaxPriority uint8
	// Logger receives dropped dead letters and other trouble; nil means no
	// logs.
	Logger *zap.Logger
}

func (o Options) withDefaults() Options {
	if o.Capacity <= 0 {
		o.Capacity = DefaultCapacity
	}
	if o.DeadCapacity <= 0 {
		o.DeadCapacity = DefaultDeadCapacity
	}
	if o.Prefetch <= 0 {
		o.Prefetch = DefaultPrefetch
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxPriority == 0 {
		o.MaxPriority = DefaultMaxPriority
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// Queue is the in-process outbound queue. Build it with New; it is safe for
// concurrent use.
type Queue struct {
	opts Options
	log  *zap.Logger

	mu        sync.Mutex
	ready     []deque // by priority, 0..MaxPriority
	delayed   delayHeap
	total     int // ready + delayed + unsettled
	dead      []actors.DeadLetter
	consumers map[*consumer]struct{}
	seq       uint64 // orders deliveries and delayed jobs
	closed    bool

	timerWake chan struct{} // nudges runTimers when the earliest retry changes
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // runTimers
}

// New returns an empty queue and starts the goroutine that releases delayed
// retries; Close stops it.
func New(opts Options) *Queue {
	opts = opts.withDefaults()
	q := &Queue{
		opts:      opts,
		log:       opts.Logger.With(zap.String("queue", "memqueue")),
		ready:     make([]deque, int(opts.MaxPriority)+1),
		consumers: make(map[*consumer]struct{}),
		timerWake: make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	q.wg.Add(1)
	go q.runTimers()
	return q
}

// Close discards every job, ends Consume calls with ErrClosed and stops the
// timer goroutine. Later calls fail with ErrClosed. It is safe to call twice.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		close(q.done)
		q.wg.Wait()
	})
	return nil
}

// Publish queues job behind the jobs of its priority. A zero Attempt is
// stored as 1, a zero EnqueuedAt as now, and Body (which must be JSON) is
// copied. When Capacity
// jobs are held it fails with ErrFull.
func (q *Queue) Publish(ctx context.Context, job actors.OutboundJob) error {
	if job.MessageID == "" {
		return errors.New("publish outbound job: empty message id")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish message %s: %w", job.MessageID, err)
	}
	if len(job.Body) > 0 && !json.Valid(job.Body) { // as rabbitqueue, which encodes it
		return fmt.Errorf("publish message %s: body is not valid JSON", job.MessageID)
	}
	if job.Attempt < 1 {
		job.Attempt = 1
	}
	if job.EnqueuedAt.IsZero() {
		job.EnqueuedAt = time.Now().UTC()
	}
	job.Body = slices.Clone(job.Body)

	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return fmt.Errorf("publish message %s: %w", job.MessageID, ErrClosed)
	}
	if q.total >= q.opts.Capacity {
		return fmt.Errorf("publish message %s: %d jobs held: %w", job.MessageID, q.total, ErrFull)
	}
	q.total++
	q.pushReadyLocked(job)
	return nil
}

// pushReadyLocked appends job to its priority's FIFO and wakes consumers.
func (q *Queue) pushReadyLocked(job actors.OutboundJob) {
	q.ready[q.bucket(job)].pushBack(job)
	q.wakeAllLocked()
}

func (q *Queue) bucket(job actors.OutboundJob) int {
	return int(min(job.Priority, q.opts.MaxPriority))
}

// popReadyLocked takes the oldest job of the highest priority.
func (q *Queue) popReadyLocked() (actors.OutboundJob, bool) {
	for p := len(q.ready) - 1; p >= 0; p-- {
		if job, ok := q.ready[p].popFront(); ok {
			return job, true
		}
	}
	return actors.OutboundJob{}, false
}

func (q *Queue) wakeAllLocked() {
	for c := range q.consumers {
		c.nudge()
	}
}

// delayLocked schedules job to become ready at due.
func (q *Queue) delayLocked(job actors.OutboundJob, due time.Time) {
	q.seq++
	heap.Push(&q.delayed, delayedJob{due: due, seq: q.seq, job: job})
	if q.delayed[0].seq == q.seq { // new earliest: re-arm the timer
		select {
		case q.timerWake <- struct{}{}:
		default:
		}
	}
}

// runTimers moves delayed jobs to the ready queue when they are due.
func (q *Queue) runTimers() {
	defer q.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		now := time.Now()
		for len(q.delayed) > 0 && !q.delayed[0].due.After(now) {
			d := heap.Pop(&q.delayed).(delayedJob)
			q.pushReadyLocked(d.job)
		}
		next := time.Hour
		if len(q.delayed) > 0 {
			next = q.delayed[0].due.Sub(now)
		}
		q.mu.Unlock()
		timer.Reset(next)
		select {
		case <-q.done:
			return
		case <-q.timerWake:
		case <-timer.C:
		}
	}
}

// addDeadLocked appends a dead letter, dropping the oldest when full.
func (q *Queue) addDeadLocked(job actors.OutboundJob, reason string) {
	job.LastError = reason
	if len(q.dead) >= q.opts.DeadCapacity {
		dropped := q.dead[0]
		q.dead[0] = actors.DeadLetter{}
		q.dead = q.dead[1:]
		q.log.Error("dead letter dropped: dead-letter list full",
			zap.String("message_id", dropped.Job.MessageID), zap.String("conversation_id", dropped.Job.ConversationID),
			zap.Int("capacity", q.opts.DeadCapacity))
	}
	q.dead = append(q.dead, actors.DeadLetter{Job: job, Reason: reason, At: time.Now().UTC()})
}

// ListDeadLetters returns up to limit dead letters, oldest first, as copies.
func (q *Queue) ListDeadLetters(ctx context.Context, limit int) ([]actors.DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, fmt.Errorf("list dead letters: %w", ErrClosed)
	}
	n := min(max(limit, 0), len(q.dead))
	out := make([]actors.DeadLetter, n)
	for i := range n {
		out[i] = q.dead[i]
		out[i].Job.Body = slices.Clone(out[i].Job.Body)
	}
	return out, nil
}

// Redrive moves the dead letters of messageIDs (all when empty) to the back
// of their priority's queue with Attempt 1, keeping LastError. Redriven jobs
// count against Capacity but are never refused, so the queue may briefly
// hold up to Capacity+DeadCapacity jobs.
func (q *Queue) Redrive(ctx context.Context, messageIDs []string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redrive dead letters: %w", err)
	}
	want := make(map[string]bool, len(messageIDs))
	for _, id := range messageIDs {
		want[id] = true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, fmt.Errorf("redrive dead letters: %w", ErrClosed)
	}
	kept := q.dead[:0]
	moved := 0
	for _, dl := range q.dead {
		if len(want) > 0 && !want[dl.Job.MessageID] {
			kept = append(kept, dl)
			continue
		}
		job := dl.Job
		job.Attempt = 1
		q.total++
		q.pushReadyLocked(job)
		moved++
	}
	clear(q.dead[len(kept):])
	q.dead = kept
	return moved, nil
}

// delayedJob is a retry waiting for its delay.
type delayedJob struct {
	due time.Time
	seq uint64
	job actors.OutboundJob
}

// delayHeap is a min-heap of delayed jobs by due time, then seq.
type delayHeap []delayedJob

func (h delayHeap) Len() int { return len(h) }
func (h delayHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h delayHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)   { *h = append(*h, x.(delayedJob)) }
func (h *delayHeap) Pop() any {
	old := *h
	last := old[len(old)-1]
	old[len(old)-1] = delayedJob{}
	*h = old[:len(old)-1]
	return last
}
