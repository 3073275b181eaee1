package queuetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// Queue is everything the engine needs from its outbound queue.
type Queue interface {
	actors.OutboundPublisher
	actors.OutboundConsumer
	actors.DeadLetters
	Close() error
}

// The options open must build every queue with.
const (
	// Prefetch bounds the unsettled deliveries of one Consume call.
	Prefetch = 8
	// MaxAttempts is the number of deliveries before Retry dead-letters.
	MaxAttempts = 3
)

// RetryDelay is the delay the retry case asks for. RabbitMQ rounds it up to
// its shortest delay tier.
const RetryDelay = 400 * time.Millisecond

// waitFor bounds every wait in the suite; tick is its poll interval.
// quiet is how long a case watches for something that must not happen.
const (
	waitFor = 15 * time.Second
	tick    = 10 * time.Millisecond
	quiet   = 300 * time.Millisecond
)

// queueCase is one behaviour checked against a fresh queue.
type queueCase struct {
	// name names the behaviour.
	name string
	// check exercises q, which is empty when check starts.
	check func(t *testing.T, ctx context.Context, q Queue)
}

// Run runs the whole contract suite against the queues open returns.
func Run(t *testing.T, open func(t *testing.T) Queue) {
	cases := []queueCase{
		{name: "publish consume ack delivers exactly once", check: checkExactlyOnce},
		{name: "higher priority first, fifo within a priority", check: checkPriority},
		{name: "prefetch bounds unsettled deliveries", check: checkPrefetch},
		{name: "unsettled job redelivered when consumer stops", check: checkRedelivery},
		{name: "retry comes back after delay with attempt+1", check: checkRetryDelay},
		{name: "retry dead-letters after max attempts", check: checkMaxAttempts},
		{name: "hold comes back after delay without using an attempt", check: checkHold},
		{name: "dead letters listed and redriven", check: checkDeadLetters},
		{name: "concurrent publishes consumed exactly once", check: checkConcurrent},
		{name: "a publish that fails surely queued nothing unless its outcome is unknown", check: checkDefiniteFailure},
		{name: "close is idempotent and final", check: checkClose},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*waitFor)
			defer cancel()
			c.check(t, ctx, q)
		})
	}
}

// newJob returns a job with every field set; id makes it unique.
func newJob(id string, priority uint8) actors.OutboundJob {
	return actors.OutboundJob{
		MessageID:      id,
		ConversationID: "conv-" + id,
		PhoneNumberID:  "pn-1",
		To:             "15550001111",
		Priority:       priority,
		Body:           json.RawMessage(fmt.Sprintf(`{"messaging_product":"whatsapp","to":"15550001111","text":{"body":%q}}`, id)),
		Attempt:        1,
		EnqueuedAt:     time.Now().UTC().Truncate(time.Millisecond),
	}
}

func publish(t *testing.T, ctx context.Context, q Queue, jobs ...actors.OutboundJob) {
	t.Helper()
	for _, j := range jobs {
		require.NoError(t, q.Publish(ctx, j), "publish %s", j.MessageID)
	}
}

// consumer runs one Consume call on its own goroutine and collects what it
// is handed.
type consumer struct {
	deliveries chan actors.Delivery
	cancel     context.CancelFunc
	done       chan error

	delivered      atomic.Int64 // handed to handle
	settled        atomic.Int64 // counted by settle before settling
	maxOutstanding atomic.Int64

	stopOnce sync.Once
	stopErr  error
}

// startConsumer starts consuming q; the consumer is stopped at cleanup if
// the case did not stop it.
func startConsumer(t *testing.T, q Queue) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &consumer{
		deliveries: make(chan actors.Delivery, 4096),
		cancel:     cancel,
		done:       make(chan error, 1),
	}
	go func() {
		c.done <- q.Consume(ctx, func(d actors.Delivery) {
			out := c.delivered.Add(1) - c.settled.Load()
			for {
				m := c.maxOutstanding.Load()
				if out <= m || c.maxOutstanding.CompareAndSwap(m, out) {
					break
				}
			}
			c.deliveries <- d
		})
	}()
	t.Cleanup(func() { _ = c.stop(t) }) // what Consume returned is checked by the tests that stop it themselves
	return c
}

// stop ends the Consume call and returns what it returned.
func (c *consumer) stop(t *testing.T) error {
	t.Helper()
	c.stopOnce.Do(func() {
		c.cancel()
		select {
		case c.stopErr = <-c.done:
		case <-time.After(waitFor):
			c.stopErr = fmt.Errorf("consume did not return within %s of its context ending", waitFor)
		}
	})
	return c.stopErr
}

// next returns the next delivery or fails the test.
func (c *consumer) next(t *testing.T) actors.Delivery {
	t.Helper()
	select {
	case d := <-c.deliveries:
		return d
	case err := <-c.done:
		c.done <- err
		t.Fatalf("consume returned while a delivery was expected: %v", err)
	case <-time.After(waitFor):
		t.Fatalf("no delivery within %s", waitFor)
	}
	return nil
}

// ack counts the settle before doing it, so a delivery the freed slot lets
// in is never counted as outstanding next to the one it replaces.
func (c *consumer) ack(t *testing.T, d actors.Delivery) {
	t.Helper()
	c.settled.Add(1)
	require.NoError(t, d.Ack(), "ack %s", d.Job().MessageID)
}

// expectOnly publishes a sentinel and checks that a fresh consumer gets it
// first: nothing else was left in q.
func expectOnly(t *testing.T, ctx context.Context, q Queue) {
	t.Helper()
	sentinel := newJob("sentinel", actors.PriorityBulk)
	publish(t, ctx, q, sentinel)
	c := startConsumer(t, q)
	d := c.next(t)
	require.Equal(t, sentinel.MessageID, d.Job().MessageID, "a job was left in the queue ahead of the sentinel")
	c.ack(t, d)
	require.NoError(t, c.stop(t))
}

func requireSameJob(t *testing.T, want, got actors.OutboundJob) {
	t.Helper()
	require.JSONEq(t, string(want.Body), string(got.Body))
	require.True(t, want.EnqueuedAt.Equal(got.EnqueuedAt), "enqueuedAt %s, want %s", got.EnqueuedAt, want.EnqueuedAt)
	want.Body, got.Body = nil, nil
	want.EnqueuedAt, got.EnqueuedAt = time.Time{}, time.Time{}
	require.Equal(t, want, got)
}

func checkExactlyOnce(t *testing.T, ctx context.Context, q Queue) {
	job := newJob("m1", actors.PriorityReply)
	job.Attempt = 0 // the queue starts counting at 1
	publish(t, ctx, q, job)

	c := startConsumer(t, q)
	d := c.next(t)
	want := job
	want.Attempt = 1
	requireSameJob(t, want, d.Job())
	c.ack(t, d)
	assert.ErrorIs(t, d.Ack(), actors.ErrSettled, "second ack of one delivery")
	_, err := d.Retry(0, "after ack")
	assert.ErrorIs(t, err, actors.ErrSettled, "retry after ack")
	assert.ErrorIs(t, d.DeadLetter("after ack"), actors.ErrSettled, "dead-letter after ack")
	require.NoError(t, c.stop(t))

	expectOnly(t, ctx, q)
}

func checkPriority(t *testing.T, ctx context.Context, q Queue) {
	var want []string
	var bulk []actors.OutboundJob
	for i := range 20 {
		bulk = append(bulk, newJob(fmt.Sprintf("bulk-%02d", i), actors.PriorityBulk))
	}
	var replies []actors.OutboundJob
	for i := range 5 {
		replies = append(replies, newJob(fmt.Sprintf("reply-%d", i), actors.PriorityReply))
		want = append(want, replies[i].MessageID)
	}
	for _, j := range bulk {
		want = append(want, j.MessageID)
	}
	publish(t, ctx, q, bulk...)
	publish(t, ctx, q, replies...)

	c := startConsumer(t, q)
	var got []string
	for range want {
		d := c.next(t)
		got = append(got, d.Job().MessageID)
		c.ack(t, d)
	}
	require.Equal(t, want, got)
}

func checkPrefetch(t *testing.T, ctx context.Context, q Queue) {
	const total = 3 * Prefetch
	for i := range total {
		publish(t, ctx, q, newJob(fmt.Sprintf("p-%02d", i), actors.PriorityBulk))
	}
	c := startConsumer(t, q)
	require.Eventually(t, func() bool { return len(c.deliveries) == Prefetch }, waitFor, tick,
		"consumer should fill its prefetch")
	assert.Never(t, func() bool { return len(c.deliveries) > Prefetch }, quiet, tick,
		"more than prefetch unsettled deliveries")
	require.Equal(t, int64(Prefetch), c.delivered.Load())

	seen := make(map[string]bool)
	for range total {
		d := c.next(t)
		seen[d.Job().MessageID] = true
		c.ack(t, d)
	}
	require.Len(t, seen, total)
	assert.Equal(t, int64(Prefetch), c.maxOutstanding.Load(), "outstanding deliveries must peak at prefetch")
}

func checkRedelivery(t *testing.T, ctx context.Context, q Queue) {
	a, b := newJob("a", actors.PriorityBulk), newJob("b", actors.PriorityBulk)
	publish(t, ctx, q, a, b)

	c1 := startConsumer(t, q)
	da, db := c1.next(t), c1.next(t)
	require.Equal(t, a.MessageID, da.Job().MessageID)
	require.Equal(t, b.MessageID, db.Job().MessageID)
	c1.ack(t, da)
	require.NoError(t, c1.stop(t), "consume returns nil when its context ends")
	assert.Error(t, db.Ack(), "ack of a delivery whose consumer stopped")

	c2 := startConsumer(t, q)
	again := c2.next(t)
	requireSameJob(t, b, again.Job())
	c2.ack(t, again)
	require.NoError(t, c2.stop(t))

	expectOnly(t, ctx, q)
}

func checkRetryDelay(t *testing.T, ctx context.Context, q Queue) {
	job := newJob("r1", actors.PriorityReply)
	publish(t, ctx, q, job)
	c := startConsumer(t, q)
	d := c.next(t)

	start := time.Now()
	deadLettered, err := d.Retry(RetryDelay, "rate limited")
	require.NoError(t, err)
	require.False(t, deadLettered)
	assert.ErrorIs(t, d.Ack(), actors.ErrSettled, "ack after retry")

	// The delay holds back only the retried job.
	other := newJob("other", actors.PriorityBulk)
	publish(t, ctx, q, other)
	first := c.next(t)
	require.Equal(t, other.MessageID, first.Job().MessageID, "a job published after the retry must not wait for it")
	c.ack(t, first)

	back := c.next(t)
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, RetryDelay, "retried job came back too early")
	want := job
	want.Attempt = 2
	want.LastError = "rate limited"
	requireSameJob(t, want, back.Job())
	c.ack(t, back)
	require.NoError(t, c.stop(t))

	expectOnly(t, ctx, q)
}

func checkHold(t *testing.T, ctx context.Context, q Queue) {
	job := newJob("h1", actors.PriorityReply)
	publish(t, ctx, q, job)
	c := startConsumer(t, q)
	// Use every attempt but the last, so that a Retry now would
	// dead-letter: a Hold must not.
	for attempt := 1; attempt < MaxAttempts; attempt++ {
		d := c.next(t)
		_, err := d.Retry(0, "failure")
		require.NoError(t, err)
	}
	d := c.next(t)
	require.Equal(t, MaxAttempts, d.Job().Attempt)
	start := time.Now()
	require.NoError(t, d.Hold(RetryDelay, "number paused"))
	assert.ErrorIs(t, d.Ack(), actors.ErrSettled, "ack after hold")
	assert.ErrorIs(t, d.Hold(0, "again"), actors.ErrSettled, "hold after hold")

	// The delay holds back only the held job.
	other := newJob("other", actors.PriorityBulk)
	publish(t, ctx, q, other)
	first := c.next(t)
	require.Equal(t, other.MessageID, first.Job().MessageID, "a job published after the hold must not wait for it")
	c.ack(t, first)

	back := c.next(t)
	assert.GreaterOrEqual(t, time.Since(start), RetryDelay, "held job came back too early")
	want := job
	want.Attempt = MaxAttempts
	want.LastError = "number paused"
	requireSameJob(t, want, back.Job())
	// Held at once, again and again: still never dead-lettered.
	for range 3 {
		require.NoError(t, back.Hold(0, "still paused"))
		back = c.next(t)
		require.Equal(t, MaxAttempts, back.Job().Attempt)
	}
	c.ack(t, back)
	require.NoError(t, c.stop(t))

	dead, err := q.ListDeadLetters(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, dead)
	expectOnly(t, ctx, q)
}

func checkMaxAttempts(t *testing.T, ctx context.Context, q Queue) {
	job := newJob("x1", actors.PriorityReply)
	publish(t, ctx, q, job)
	c := startConsumer(t, q)
	for attempt := 1; attempt < MaxAttempts; attempt++ {
		d := c.next(t)
		require.Equal(t, attempt, d.Job().Attempt)
		deadLettered, err := d.Retry(0, fmt.Sprintf("failure %d", attempt))
		require.NoError(t, err)
		require.False(t, deadLettered, "attempt %d of %d", attempt, MaxAttempts)
	}
	d := c.next(t)
	require.Equal(t, MaxAttempts, d.Job().Attempt)
	require.Equal(t, fmt.Sprintf("failure %d", MaxAttempts-1), d.Job().LastError)
	before := time.Now().Add(-time.Second)
	deadLettered, err := d.Retry(0, "final failure")
	require.NoError(t, err)
	require.True(t, deadLettered, "retry on the last attempt must dead-letter")
	require.NoError(t, c.stop(t))

	dead, err := q.ListDeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, job.MessageID, dead[0].Job.MessageID)
	assert.Equal(t, MaxAttempts, dead[0].Job.Attempt)
	assert.Contains(t, dead[0].Reason, "final failure")
	assert.WithinRange(t, dead[0].At, before, time.Now().Add(time.Second))

	expectOnly(t, ctx, q)
}

func checkDeadLetters(t *testing.T, ctx context.Context, q Queue) {
	jobs := []actors.OutboundJob{
		newJob("d-a", actors.PriorityBulk),
		newJob("d-b", actors.PriorityReply),
		newJob("d-c", actors.PriorityBulk),
	}
	empty, err := q.ListDeadLetters(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, empty)

	publish(t, ctx, q, jobs[0])
	c := startConsumer(t, q)
	// d-a fails once before it is dead-lettered: redrive resets Attempt.
	d := c.next(t)
	_, err = d.Retry(0, "timeout")
	require.NoError(t, err)
	before := time.Now().Add(-time.Second)
	for i, j := range jobs {
		if i > 0 {
			publish(t, ctx, q, j)
		}
		d := c.next(t)
		require.Equal(t, j.MessageID, d.Job().MessageID)
		require.NoError(t, d.DeadLetter("bad number "+j.MessageID))
		assert.ErrorIs(t, d.Ack(), actors.ErrSettled, "ack after dead-letter")
	}
	require.NoError(t, c.stop(t))

	list := func(limit int) []actors.DeadLetter {
		t.Helper()
		dead, err := q.ListDeadLetters(ctx, limit)
		require.NoError(t, err)
		return dead
	}
	ids := func(dead []actors.DeadLetter) []string {
		var out []string
		for _, dl := range dead {
			out = append(out, dl.Job.MessageID)
		}
		return out
	}

	dead := list(10)
	require.Equal(t, []string{"d-a", "d-b", "d-c"}, ids(dead), "oldest first")
	for i, dl := range dead {
		assert.Equal(t, "bad number "+jobs[i].MessageID, dl.Reason)
		assert.WithinRange(t, dl.At, before, time.Now().Add(time.Second))
		assert.JSONEq(t, string(jobs[i].Body), string(dl.Job.Body))
	}
	assert.Equal(t, 2, dead[0].Job.Attempt)
	assert.Equal(t, []string{"d-a", "d-b"}, ids(list(2)), "limit")
	assert.Equal(t, []string{"d-a", "d-b", "d-c"}, ids(list(10)), "listing removes nothing")

	moved, err := q.Redrive(ctx, []string{"d-a", "no-such-message"})
	require.NoError(t, err)
	require.Equal(t, 1, moved)
	assert.Equal(t, []string{"d-b", "d-c"}, ids(list(10)))

	c = startConsumer(t, q)
	d = c.next(t)
	require.Equal(t, "d-a", d.Job().MessageID)
	assert.Equal(t, 1, d.Job().Attempt, "redriven job starts again at attempt 1")
	c.ack(t, d)

	moved, err = q.Redrive(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 2, moved)
	assert.Empty(t, list(10))
	got := map[string]int{}
	for range 2 {
		d := c.next(t)
		got[d.Job().MessageID] = d.Job().Attempt
		c.ack(t, d)
	}
	assert.Equal(t, map[string]int{"d-b": 1, "d-c": 1}, got)
	require.NoError(t, c.stop(t))

	moved, err = q.Redrive(ctx, nil)
	require.NoError(t, err)
	assert.Zero(t, moved)
	expectOnly(t, ctx, q)
}

func checkConcurrent(t *testing.T, ctx context.Context, q Queue) {
	const publishers, perPublisher = 8, 125
	errs := make(chan error, publishers*perPublisher)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range perPublisher {
				prio := actors.PriorityBulk
				if i%4 == 0 {
					prio = actors.PriorityReply
				}
				if err := q.Publish(ctx, newJob(fmt.Sprintf("c-%d-%03d", p, i), prio)); err != nil {
					errs <- err
				}
			}
		})
	}

	var mu sync.Mutex
	counts := make(map[string]int)
	var ackErrs atomic.Int64
	consumeCtx, stop := context.WithCancel(ctx)
	defer stop()
	consumed := make(chan error, 1)
	go func() {
		consumed <- q.Consume(consumeCtx, func(d actors.Delivery) {
			mu.Lock()
			counts[d.Job().MessageID]++
			mu.Unlock()
			if d.Ack() != nil {
				ackErrs.Add(1)
			}
		})
	}()

	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(counts) == publishers*perPublisher
	}, waitFor, tick, "every job consumed")
	stop()
	select {
	case err := <-consumed:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("consume did not return")
	}
	require.Zero(t, ackErrs.Load(), "ack errors")
	mu.Lock()
	for id, n := range counts {
		require.Equal(t, 1, n, "job %s consumed %d times", id, n)
	}
	mu.Unlock()
	expectOnly(t, ctx, q)
}

func checkClose(t *testing.T, ctx context.Context, q Queue) {
	publish(t, ctx, q, newJob("before-close", actors.PriorityBulk))
	require.NoError(t, q.Close())
	require.NoError(t, q.Close(), "second close")
	err := q.Publish(ctx, newJob("after-close", actors.PriorityBulk))
	assert.ErrorIs(t, err, actors.ErrUnavailable)
	assert.NotErrorIs(t, err, actors.ErrPublishUnknown, "a closed queue surely queued nothing")

	done := make(chan error, 1)
	go func() { done <- q.Consume(ctx, func(actors.Delivery) {}) }()
	select {
	case err := <-done:
		assert.Error(t, err, "consume on a closed queue")
	case <-time.After(waitFor):
		t.Fatal("consume on a closed queue did not return")
	}
}

// checkDefiniteFailure: a publish whose ctx has ended fails before it
// sends anything, with an error that says so (not
// actors.ErrPublishUnknown), and leaves nothing queued. Only an unknown
// outcome may leave a job behind a failed publish; the in-process queue
// never has one.
func checkDefiniteFailure(t *testing.T, ctx context.Context, q Queue) {
	done, cancel := context.WithCancel(ctx)
	cancel()
	err := q.Publish(done, newJob("cancelled", actors.PriorityReply))
	require.Error(t, err, "publish with an ended ctx")
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, actors.ErrPublishUnknown, "nothing was sent: the outcome is known")
	expectOnly(t, ctx, q)
}
