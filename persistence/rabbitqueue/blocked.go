package rabbitqueue

import (
	"fmt"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// ErrBlocked means the broker blocked the publishing connection
// (connection.blocked: a memory or disk alarm) and the publish was not
// sent: the job was surely not queued. It wraps actors.ErrUnavailable, so
// the edge answers 503 with Retry-After.
var ErrBlocked = fmt.Errorf("rabbitmq blocked publishing: %w", actors.ErrUnavailable)

// blockState is a connection's connection.blocked state: the broker's
// reason while blocked, nil otherwise.
type blockState struct {
	reason atomic.Pointer[string]
}

// err returns an ErrBlocked naming the broker's reason while blocked, nil
// otherwise.
func (b *blockState) err() error {
	if r := b.reason.Load(); r != nil {
		return fmt.Errorf("%w: %s", ErrBlocked, *r)
	}
	return nil
}

// watchBlocked follows conn's connection.blocked / connection.unblocked
// notifications into s.block until the connection closes (the client
// closes the channel then). The broker sends connection.blocked once the
// connection publishes during an alarm, and stops reading the socket.
func (q *Queue) watchBlocked(conn *amqp.Connection, s *session) {
	// The client delivers notifications synchronously: keep reading.
	blocks := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	go func() {
		for b := range blocks {
			if b.Active {
				reason := b.Reason
				s.block.reason.Store(&reason)
				q.log.Warn("outbound queue blocked by broker: publishes fail until it unblocks", zap.String("reason", reason))
				continue
			}
			s.block.reason.Store(nil)
			q.log.Info("outbound queue unblocked by broker")
		}
		s.block.reason.Store(nil) // a dead connection's block ends with it
	}()
}

// Blocked reports whether the broker blocks the live publishing connection
// (connection.blocked, a memory or disk alarm), with its reason.
func (q *Queue) Blocked() (bool, string) {
	q.mu.Lock()
	s := q.cur
	q.mu.Unlock()
	if s == nil {
		return false, ""
	}
	if r := s.block.reason.Load(); r != nil {
		return true, *r
	}
	return false, ""
}
