package rabbitqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// ListDeadLetters returns up to limit dead letters, oldest first. It is for
// an operator's look, not a hot path: it takes them with basic.get without
// acking, one round trip each, then returns them all to the dead queue in
// their order. Dead letters held by a concurrent ListDeadLetters or Redrive
// are not seen. A non-positive limit returns nothing.
func (q *Queue) ListDeadLetters(ctx context.Context, limit int) ([]actors.DeadLetter, error) {
	if limit <= 0 {
		return nil, nil
	}
	ch, err := q.adminChannel(ctx)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer func() { _ = ch.Close() }() // also requeues anything still held

	var out []actors.DeadLetter
	var last uint64
	for len(out) < limit && ctx.Err() == nil {
		m, ok, err := ch.Get(q.topo.dead, false)
		if err != nil {
			return nil, fmt.Errorf("list dead letters: get from %s: %w", q.topo.dead, err)
		}
		if !ok {
			break
		}
		last = m.DeliveryTag
		out = append(out, decodeDeadLetter(m))
	}
	if last > 0 {
		if err := ch.Nack(last, true, true); err != nil {
			return nil, fmt.Errorf("list dead letters: requeue: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// Redrive moves the dead letters of messageIDs (all when empty) back to the
// main queue with Attempt 1, keeping LastError. Each is published
// (confirmed) before its dead copy is acked, so a failure midway may leave a
// job in both queues, never in neither. It scans the dead queue once, as
// long as it was when Redrive started, with one round trip per message.
func (q *Queue) Redrive(ctx context.Context, messageIDs []string) (int, error) {
	want := make(map[string]bool, len(messageIDs))
	for _, id := range messageIDs {
		want[id] = true
	}
	ch, err := q.adminChannel(ctx)
	if err != nil {
		return 0, fmt.Errorf("redrive dead letters: %w", err)
	}
	defer func() { _ = ch.Close() }() // also requeues anything still held

	info, err := ch.QueueDeclarePassive(q.topo.dead, true, false, false, false, nil)
	if err != nil {
		return 0, fmt.Errorf("redrive dead letters: inspect %s: %w", q.topo.dead, err)
	}
	moved := 0
	var lastKept uint64
	requeueKept := func() error {
		if lastKept == 0 {
			return nil
		}
		return ch.Nack(lastKept, true, true)
	}
	for range info.Messages {
		if err := ctx.Err(); err != nil {
			_ = requeueKept()
			return moved, fmt.Errorf("redrive dead letters: %w", err)
		}
		m, ok, err := ch.Get(q.topo.dead, false)
		if err != nil {
			return moved, fmt.Errorf("redrive dead letters: get from %s: %w", q.topo.dead, err)
		}
		if !ok {
			break
		}
		var job actors.OutboundJob
		if err := json.Unmarshal(m.Body, &job); err != nil || job.MessageID == "" || (len(want) > 0 && !want[job.MessageID]) {
			lastKept = m.DeliveryTag
			continue
		}
		job.Attempt = 1
		if err := q.publish(ctx, q.topo.main, job, nil); err != nil {
			_ = requeueKept()
			return moved, fmt.Errorf("redrive message %s: %w", job.MessageID, err)
		}
		if err := m.Ack(false); err != nil {
			return moved, fmt.Errorf("redrive message %s: ack dead copy: %w", job.MessageID, err)
		}
		moved++
		q.log.Info("dead letter redriven", zap.String("message_id", job.MessageID))
	}
	if err := requeueKept(); err != nil {
		return moved, fmt.Errorf("redrive dead letters: requeue the rest: %w", err)
	}
	return moved, nil
}

// adminChannel opens a short-lived channel for dead-letter work.
func (q *Queue) adminChannel(ctx context.Context) (*amqp.Channel, error) {
	s, err := q.session(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w: %w", actors.ErrUnavailable, err)
	}
	return ch, nil
}

// decodeDeadLetter reads a message of the dead queue. Messages the broker
// dead-lettered itself (a rejected, undecodable job) carry no reason header:
// their reason and time come from x-death.
func decodeDeadLetter(m amqp.Delivery) actors.DeadLetter {
	var dl actors.DeadLetter
	var notes []string
	if err := json.Unmarshal(m.Body, &dl.Job); err != nil {
		dl.Job = actors.OutboundJob{MessageID: m.MessageId}
		notes = append(notes, "undecodable job: "+err.Error())
	}
	if reason, ok := m.Headers[deadReasonHeader].(string); ok {
		dl.Reason = reason
	}
	if at, ok := m.Headers[deadAtHeader].(string); ok {
		dl.At, _ = time.Parse(time.RFC3339Nano, at)
	}
	if deaths, ok := m.Headers["x-death"].([]any); ok && len(deaths) > 0 {
		if death, ok := deaths[0].(amqp.Table); ok {
			if dl.Reason == "" {
				reason, _ := death["reason"].(string)
				dl.Reason = "dead-lettered by broker: " + reason
			}
			if t, ok := death["time"].(time.Time); ok && dl.At.IsZero() {
				dl.At = t
			}
		}
	}
	if dl.Reason == "" {
		dl.Reason = "unknown"
	}
	if len(notes) > 0 {
		dl.Reason += " (" + strings.Join(notes, "; ") + ")"
	}
	if dl.At.IsZero() {
		dl.At = m.Timestamp
	}
	return dl
}
