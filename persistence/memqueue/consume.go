package memqueue

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// consumer is one Consume call.
type consumer struct {
	wake    chan struct{} // capacity 1: "look again"
	unacked map[uint64]*delivery
}

func (c *consumer) nudge() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Consume hands jobs to handle, highest priority first and FIFO within a
// priority, with at most Prefetch unsettled at a time, until ctx ends (it
// then returns nil) or Close is called (ErrClosed). handle runs on Consume's
// goroutine, one delivery at a time: it should pass the delivery to a
// worker and return. When Consume returns, every delivery it handed out and
// that is not settled goes back to the front of its priority's queue, in
// delivery order; settling it afterwards fails with ErrDeliveryLost.
func (q *Queue) Consume(ctx context.Context, handle func(actors.Delivery)) error {
	c := &consumer{wake: make(chan struct{}, 1), unacked: make(map[uint64]*delivery)}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.consumers[c] = struct{}{}
	q.mu.Unlock()
	defer q.removeConsumer(c)

	for ctx.Err() == nil {
		d, err := q.next(c)
		if err != nil {
			return err
		}
		if d != nil {
			handle(d)
			continue
		}
		select {
		case <-ctx.Done():
		case <-q.done:
			return ErrClosed
		case <-c.wake:
		}
	}
	return nil
}

// next returns the next delivery for c, or nil when c is at its prefetch
// bound or nothing is ready.
func (q *Queue) next(c *consumer) (*delivery, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	if len(c.unacked) >= q.opts.Prefetch {
		return nil, nil
	}
	job, ok := q.popReadyLocked()
	if !ok {
		return nil, nil
	}
	q.seq++
	d := &delivery{q: q, c: c, seq: q.seq, job: job}
	c.unacked[d.seq] = d
	return d, nil
}

// removeConsumer returns c's unsettled deliveries to the front of the queue.
func (q *Queue) removeConsumer(c *consumer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.consumers, c)
	if q.closed || len(c.unacked) == 0 {
		return
	}
	lost := make([]*delivery, 0, len(c.unacked))
	for _, d := range c.unacked {
		lost = append(lost, d)
	}
	// Latest first, each pushed to the front: the earliest ends up first.
	slices.SortFunc(lost, func(a, b *delivery) int { return cmp.Compare(b.seq, a.seq) })
	for _, d := range lost {
		d.lost = true
		q.ready[q.bucket(d.job)].pushFront(d.job)
	}
	clear(c.unacked)
	q.wakeAllLocked()
	q.log.Debug("unsettled deliveries requeued", zap.Int("count", len(lost)))
}

// delivery is one job handed to a consumer. Its state is guarded by q.mu.
type delivery struct {
	q       *Queue
	c       *consumer
	seq     uint64
	job     actors.OutboundJob
	settled bool
	lost    bool
}

func (d *delivery) Job() actors.OutboundJob { return d.job }

// settleLocked checks that d can be settled and takes it from its consumer.
func (d *delivery) settleLocked(op string) error {
	switch {
	case d.q.closed:
		return fmt.Errorf("%s message %s: %w", op, d.job.MessageID, ErrClosed)
	case d.settled:
		return fmt.Errorf("%s message %s: %w", op, d.job.MessageID, ErrSettled)
	case d.lost:
		return fmt.Errorf("%s message %s: %w", op, d.job.MessageID, ErrDeliveryLost)
	}
	d.settled = true
	delete(d.c.unacked, d.seq)
	d.c.nudge() // a prefetch slot is free
	return nil
}

// Ack removes the job.
func (d *delivery) Ack() error {
	d.q.mu.Lock()
	defer d.q.mu.Unlock()
	if err := d.settleLocked("ack"); err != nil {
		return err
	}
	d.q.total--
	return nil
}

// Retry puts the job back after delay (at once when delay <= 0) with
// Attempt+1 and reason as LastError, behind the jobs of its priority; a job
// on its last attempt is dead-lettered instead.
func (d *delivery) Retry(delay time.Duration, reason string) (bool, error) {
	q := d.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := d.settleLocked("retry"); err != nil {
		return false, err
	}
	if d.job.Attempt >= q.opts.MaxAttempts {
		q.total--
		q.addDeadLocked(d.job, fmt.Sprintf("attempts exhausted (%d of %d): %s", d.job.Attempt, q.opts.MaxAttempts, reason))
		q.log.Warn("outbound job dead-lettered", zap.String("message_id", d.job.MessageID), zap.Int("attempt", d.job.Attempt))
		return true, nil
	}
	next := d.job
	next.Attempt++
	next.LastError = reason
	if delay <= 0 {
		q.pushReadyLocked(next)
	} else {
		q.delayLocked(next, time.Now().Add(delay))
	}
	return false, nil
}

// Hold puts the job back after delay (at once when delay <= 0) with the
// same Attempt and reason as LastError.
func (d *delivery) Hold(delay time.Duration, reason string) error {
	q := d.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := d.settleLocked("hold"); err != nil {
		return err
	}
	next := d.job
	next.LastError = reason
	if delay <= 0 {
		q.pushReadyLocked(next)
	} else {
		q.delayLocked(next, time.Now().Add(delay))
	}
	return nil
}

// DeadLetter moves the job to the dead-letter list with reason.
func (d *delivery) DeadLetter(reason string) error {
	q := d.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := d.settleLocked("dead-letter"); err != nil {
		return err
	}
	q.total--
	q.addDeadLocked(d.job, reason)
	q.log.Warn("outbound job dead-lettered", zap.String("message_id", d.job.MessageID), zap.Int("attempt", d.job.Attempt))
	return nil
}
