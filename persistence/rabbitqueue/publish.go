package rabbitqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Message headers this package sets.
const (
	// publishIDHeader tells apart publishes of one connection, so a
	// basic.return can be matched to the publish it belongs to.
	publishIDHeader = "engine-publish-id"
	// deadReasonHeader and deadAtHeader are set on messages in the dead
	// queue: why and when (RFC 3339, nanoseconds) the job was dead-lettered.
	deadReasonHeader = "engine-dead-reason"
	deadAtHeader     = "engine-dead-at"
)

// errSessionLost means a publish failed because its connection or channel
// died: the outcome is unknown and the publish may be repeated on the next
// connection.
var errSessionLost = errors.New("rabbitmq connection lost")

// Publish queues job and returns nil once the broker confirmed it. A zero
// Attempt is sent as 1 and a zero EnqueuedAt as now. During an outage it
// waits for the reconnect and publishes again, bounded by ctx and
// PublishTimeout; then the error wraps actors.ErrUnavailable, and also
// actors.ErrPublishUnknown (ErrOutcomeUnknown) when a publish reached the
// broker without a confirm, so the job may be queued. While the broker
// blocks the connection (a memory or disk alarm) it fails at once with
// ErrBlocked, sending nothing. A publish repeated after a lost connection
// may queue the job twice.
func (q *Queue) Publish(ctx context.Context, job actors.OutboundJob) error {
	if job.MessageID == "" {
		return errors.New("publish outbound job: empty message id")
	}
	if job.Attempt < 1 {
		job.Attempt = 1
	}
	if job.EnqueuedAt.IsZero() {
		job.EnqueuedAt = time.Now().UTC()
	}
	if err := q.publish(ctx, q.topo.main, job, nil); err != nil {
		return fmt.Errorf("publish message %s: %w", job.MessageID, err)
	}
	return nil
}

// publish sends job to the queue named key and waits for its confirm,
// publishing again on the next connection when the current one dies, until
// ctx or PublishTimeout ends. Once one attempt reached the broker without
// an answer, every later failure is ErrOutcomeUnknown.
func (q *Queue) publish(ctx context.Context, key string, job actors.OutboundJob, headers amqp.Table) error {
	body, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, q.opts.PublishTimeout)
	defer cancel()
	stop := context.AfterFunc(q.life, cancel)
	defer stop()

	unknown := false // an earlier attempt may have queued the job
	outcome := func(err error) error {
		if err != nil && unknown && !errors.Is(err, actors.ErrPublishUnknown) {
			return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
		}
		return err
	}
	for attempt := 1; ; attempt++ {
		s, err := q.session(ctx)
		if err != nil {
			return outcome(err)
		}
		if err := ctx.Err(); err != nil { // nothing sent yet on this attempt
			return outcome(fmt.Errorf("%w: %w", actors.ErrUnavailable, err))
		}
		if err := s.block.err(); err != nil { // the broker reads nothing now: send nothing
			return outcome(err)
		}
		h := amqp.Table{publishIDHeader: strconv.FormatUint(q.publishSeq.Add(1), 10)}
		for k, v := range headers {
			h[k] = v
		}
		var written bool
		written, err = s.publish(ctx, q.topo.exchange, key, amqp.Publishing{
			Headers:      h,
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			Priority:     min(job.Priority, q.opts.MaxPriority),
			MessageId:    job.MessageID,
			Timestamp:    time.Now(),
			Body:         body,
		})
		unknown = unknown || written
		if errors.Is(err, ErrUnroutable) {
			q.redeclare(s, key)
		}
		if !errors.Is(err, errSessionLost) {
			return outcome(err)
		}
		q.log.Debug("publish interrupted by lost connection", zap.String("message_id", job.MessageID), zap.Int("attempt", attempt),
			zap.Bool("outcome_unknown", written), zap.Error(err))
		select {
		case <-s.lost:
		case <-ctx.Done():
			if q.isClosed() {
				return outcome(ErrClosed)
			}
			return outcome(fmt.Errorf("%w: %w: %w", err, actors.ErrUnavailable, ctx.Err()))
		}
	}
}

// publish sends one message as mandatory and waits for the broker's
// confirm. written reports, with an error, that the message went to the
// broker and no answer came back, so it may be queued: a confirm lost
// with the channel, or one still awaited when ctx ended. A nack or a
// return is an answer: the message was not queued.
func (s *session) publish(ctx context.Context, exchange, key string, msg amqp.Publishing) (written bool, err error) {
	id, _ := msg.Headers[publishIDHeader].(string)
	s.retMu.Lock()
	s.waiting[id] = struct{}{}
	s.retMu.Unlock()
	defer func() {
		s.retMu.Lock()
		delete(s.waiting, id)
		delete(s.returned, id)
		s.retMu.Unlock()
	}()

	dc, err := s.pub.PublishWithDeferredConfirm(exchange, key, true, false, msg)
	if err != nil {
		// Our headers are valid, so a failed send is a failed socket: the
		// reader will see it too and the session will be marked lost. The
		// broker takes a message only once its last frame arrived, and a
		// failed write is the client's last word on this connection.
		return false, fmt.Errorf("%w: send to %s: %w", errSessionLost, key, err)
	}
	select {
	case <-dc.Done():
	case <-ctx.Done():
		return true, fmt.Errorf("%w: no confirm from broker: %w", ErrOutcomeUnknown, ctx.Err())
	}
	if !dc.Acked() {
		if s.pub.IsClosed() { // the client nacks what is pending when a channel dies
			return true, fmt.Errorf("%w before confirm", errSessionLost)
		}
		return false, ErrNacked
	}
	if r, ok := s.returnedFor(id); ok {
		return false, fmt.Errorf("%w: routing key %s: %d %s", ErrUnroutable, key, r.ReplyCode, r.ReplyText)
	}
	return false, nil
}

// redeclare declares the topology again, on a channel of its own, after a
// publish to key came back unroutable (someone deleted or unbound a queue
// under the live connection), so the publishes after it are routed; one at
// a time, the others go on without waiting.
func (q *Queue) redeclare(s *session, key string) {
	if !q.redeclaring.CompareAndSwap(false, true) {
		return
	}
	defer q.redeclaring.Store(false)
	ch, err := s.conn.Channel()
	if err != nil {
		q.log.Warn("declare topology after an unroutable publish: open channel", zap.Error(err))
		return
	}
	defer func() { _ = ch.Close() }()
	if err := q.topo.declare(ch); err != nil {
		q.log.Error("declare topology after an unroutable publish", zap.String("routing_key", key), zap.Error(err))
		return
	}
	q.log.Warn("publish was unroutable; topology declared again", zap.String("routing_key", key))
}

// returnedFor drains the returns buffered so far, keeping those of publishes
// still waiting, and reports whether the publish id was returned. Returns of
// publishes that already gave up are dropped: they reported an error.
func (s *session) returnedFor(id string) (amqp.Return, bool) {
	s.retMu.Lock()
	defer s.retMu.Unlock()
drain:
	for {
		select {
		case r, ok := <-s.returns:
			if !ok {
				break drain
			}
			rid, _ := r.Headers[publishIDHeader].(string)
			if _, waiting := s.waiting[rid]; waiting {
				s.returned[rid] = r
			}
		default:
			break drain
		}
	}
	r, ok := s.returned[id]
	return r, ok
}
