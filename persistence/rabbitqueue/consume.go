package rabbitqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Consume hands jobs of the main queue to handle, highest priority first,
// with at most Prefetch unsettled at a time, until ctx ends (it then returns
// nil) or Close is called (ErrClosed). handle runs on Consume's goroutine,
// one delivery at a time: it should pass the delivery to a worker and
// return. A lost connection or channel is reopened with backoff and
// consuming resumes; deliveries of the dead channel fail to settle with
// ErrDeliveryLost and are redelivered by the broker. When ctx ends the
// channel is closed and every unsettled delivery goes back to the queue.
//
// A job whose body is not an OutboundJob is rejected, which moves it to
// the dead queue (reason "rejected").
func (q *Queue) Consume(ctx context.Context, handle func(actors.Delivery)) error {
	backoff := q.opts.ReconnectMin
	for {
		s, err := q.session(ctx)
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return ErrClosed
			}
			return nil // ctx ended
		}
		established, err := q.consumeSession(ctx, s, handle)
		switch {
		case ctx.Err() != nil:
			return nil
		case q.isClosed():
			return ErrClosed
		}
		if established {
			backoff = q.opts.ReconnectMin
		}
		q.log.Warn("outbound consumer interrupted", zap.Duration("backoff", backoff), zap.Error(err))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-q.done:
			t.Stop()
			return ErrClosed
		case <-s.lost: // the supervisor reconnects; session waits for it
			t.Stop()
		case <-t.C:
			backoff = min(2*backoff, q.opts.ReconnectMax)
		}
	}
}

// consumeSession consumes on a new channel of s until ctx ends, Close, or
// the channel dies. established reports that the consumer was started.
func (q *Queue) consumeSession(ctx context.Context, s *session, handle func(actors.Delivery)) (established bool, err error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return false, fmt.Errorf("open consumer channel: %w", err)
	}
	// Closing the channel returns every unacknowledged delivery to the
	// queue. Its error only says the channel was already gone.
	defer func() { _ = ch.Close() }()
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))

	// Declare again so a queue deleted under a live connection comes back.
	if err := q.topo.declare(ch); err != nil {
		return false, err
	}
	if err := ch.Qos(q.opts.Prefetch, 0, false); err != nil {
		return false, fmt.Errorf("set prefetch %d: %w", q.opts.Prefetch, err)
	}
	deliveries, err := ch.Consume(q.topo.main, "", false, false, false, false, nil)
	if err != nil {
		return false, fmt.Errorf("consume %s: %w", q.topo.main, err)
	}
	q.log.Info("outbound consumer started", zap.Int("prefetch", q.opts.Prefetch))
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case <-q.done:
			return true, ErrClosed
		case d, ok := <-deliveries:
			if !ok {
				// The channel died, or the broker cancelled the consumer
				// (queue deleted) and the channel is still open.
				select {
				case cause := <-closed:
					return true, fmt.Errorf("consumer channel closed: %w", errOrNil(cause))
				default:
					return true, errors.New("consumer cancelled by broker")
				}
			}
			if ctx.Err() != nil {
				return true, nil // not handed out: requeued by the close
			}
			q.dispatch(ch, d, handle)
		}
	}
}

func (q *Queue) dispatch(ch *amqp.Channel, d amqp.Delivery, handle func(actors.Delivery)) {
	var job actors.OutboundJob
	err := json.Unmarshal(d.Body, &job)
	if err == nil && job.MessageID == "" {
		err = errors.New("no message id")
	}
	if err != nil {
		q.log.Error("undecodable outbound job rejected to dead queue", zap.String("message_id", d.MessageId), zap.Error(err))
		_ = d.Nack(false, false) // the main queue dead-letters rejects
		return
	}
	q.log.Debug("outbound job delivered", zap.String("message_id", job.MessageID), zap.Int("attempt", job.Attempt), zap.Bool("redelivered", d.Redelivered))
	handle(&delivery{q: q, ch: ch, raw: d, job: job})
}

// delivery is one job on a consumer channel. Its methods are safe for
// concurrent use; the first that succeeds settles it.
type delivery struct {
	q   *Queue
	ch  *amqp.Channel
	raw amqp.Delivery
	job actors.OutboundJob

	mu      sync.Mutex
	settled bool
}

func (d *delivery) Job() actors.OutboundJob { return d.job }

// Ack removes the job. The ack is sent without waiting for the broker: if
// the connection dies right after, the job may still be redelivered.
func (d *delivery) Ack() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return ErrSettled
	}
	if err := d.ack(); err != nil {
		return fmt.Errorf("ack message %s: %w", d.job.MessageID, err)
	}
	d.settled = true
	return nil
}

func (d *delivery) ack() error {
	if err := d.raw.Ack(false); err != nil {
		return fmt.Errorf("%w: %w", ErrDeliveryLost, err)
	}
	return nil
}

// Retry publishes (confirmed) a copy with Attempt+1 and reason as LastError
// to the delay queue of the tier delay rounds up to (or straight back to the
// main queue when delay <= 0), then acks this delivery. A job on its last
// attempt is dead-lettered instead. On error nothing is settled unless the
// error wraps ErrDeliveryLost, and then the broker redelivers the original
// (the copy, if it was confirmed, comes too).
func (d *delivery) Retry(delay time.Duration, reason string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return false, ErrSettled
	}
	if d.ch.IsClosed() {
		return false, fmt.Errorf("retry message %s: %w", d.job.MessageID, ErrDeliveryLost)
	}
	if d.job.Attempt >= d.q.opts.MaxAttempts {
		reason = fmt.Sprintf("attempts exhausted (%d of %d): %s", d.job.Attempt, d.q.opts.MaxAttempts, reason)
		if err := d.deadLetter(reason); err != nil {
			return false, err
		}
		return true, nil
	}
	next := d.job
	next.Attempt++
	next.LastError = reason
	if delay > 0 {
		// A hold longer than the longest tier just comes back sooner and
		// is held again; a retry that waits less than asked is worth a
		// warning.
		if tier, clamped := d.q.topo.tierFor(delay); clamped {
			d.q.log.Warn("retry delay above the longest tier", zap.String("message_id", d.job.MessageID), zap.Duration("delay", delay), zap.Duration("tier", tier))
		}
	}
	if err := d.requeue("retry", next, delay); err != nil {
		return false, err
	}
	return false, nil
}

// Hold is Retry without using an attempt and without a dead letter: the
// copy keeps Attempt.
func (d *delivery) Hold(delay time.Duration, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return ErrSettled
	}
	if d.ch.IsClosed() {
		return fmt.Errorf("hold message %s: %w", d.job.MessageID, ErrDeliveryLost)
	}
	next := d.job
	next.LastError = reason
	return d.requeue("hold", next, delay)
}

// requeue publishes (confirmed) next to the delay queue of the tier delay
// rounds up to (or straight back to the main queue when delay <= 0), then
// acks this delivery.
func (d *delivery) requeue(op string, next actors.OutboundJob, delay time.Duration) error {
	key := d.q.topo.main
	if delay > 0 {
		tier, _ := d.q.topo.tierFor(delay)
		key = d.q.topo.retryQueue(tier)
	}
	if err := d.q.publish(context.Background(), key, next, nil); err != nil {
		return fmt.Errorf("%s message %s: %w", op, d.job.MessageID, err)
	}
	d.settled = true // the copy is queued: never publish a second one
	if err := d.ack(); err != nil {
		return fmt.Errorf("%s message %s: ack original: %w", op, d.job.MessageID, err)
	}
	return nil
}

// DeadLetter publishes (confirmed) the job with reason to the dead queue,
// then acks this delivery.
func (d *delivery) DeadLetter(reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return ErrSettled
	}
	if d.ch.IsClosed() {
		return fmt.Errorf("dead-letter message %s: %w", d.job.MessageID, ErrDeliveryLost)
	}
	return d.deadLetter(reason)
}

func (d *delivery) deadLetter(reason string) error {
	dead := d.job
	dead.LastError = reason
	err := d.q.publish(context.Background(), d.q.topo.dead, dead, amqp.Table{
		deadReasonHeader: reason,
		deadAtHeader:     time.Now().UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return fmt.Errorf("dead-letter message %s: %w", d.job.MessageID, err)
	}
	d.settled = true
	if err := d.ack(); err != nil {
		return fmt.Errorf("dead-letter message %s: ack original: %w", d.job.MessageID, err)
	}
	d.q.log.Warn("outbound job dead-lettered", zap.String("message_id", d.job.MessageID), zap.Int("attempt", d.job.Attempt), zap.String("reason", reason))
	return nil
}
