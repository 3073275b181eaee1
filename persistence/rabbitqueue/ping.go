package rabbitqueue

import (
	"context"
	"fmt"

	"github.com/wacc/engine/actors"
)

// Ping reports whether the queue is usable now: it has a live connection
// (not one being re-established), the broker does not block it
// (connection.blocked: ErrBlocked with the broker's reason) and answers a round trip on
// it, a passive declare of the main queue on a channel of its own. It
// returns an error wrapping actors.ErrUnavailable otherwise (ErrClosed
// after Close), and never waits for a reconnect; ctx bounds the round
// trip. It is the engine's readiness probe of RabbitMQ.
func (q *Queue) Ping(ctx context.Context) error {
	if q.isClosed() {
		return ErrClosed
	}
	q.mu.Lock()
	s := q.cur
	q.mu.Unlock()
	if s == nil || s.conn.IsClosed() {
		return fmt.Errorf("rabbitmq %s: not connected: %w", q.host, actors.ErrUnavailable)
	}
	if err := s.block.err(); err != nil { // a round trip would wait for the unblock
		return fmt.Errorf("rabbitmq %s: %w", q.host, err)
	}
	done := make(chan error, 1)
	go func() {
		// Returns once the broker answers or the connection is lost
		// (heartbeats bound that); the caller may have given up by then.
		ch, err := s.conn.Channel()
		if err != nil {
			done <- err
			return
		}
		_, err = ch.QueueDeclarePassive(q.opts.Name, true, false, false, false, nil)
		_ = ch.Close()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("rabbitmq %s queue %s: %w: %w", q.host, q.opts.Name, actors.ErrUnavailable, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rabbitmq %s: no answer: %w: %w", q.host, actors.ErrUnavailable, ctx.Err())
	}
}
