package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// flakyQueue fails publishes with err while it is set, and records the
// ones it takes.
type flakyQueue struct {
	mu   sync.Mutex
	err  error
	took []string
}

func (q *flakyQueue) Publish(_ context.Context, job actors.OutboundJob) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.took = append(q.took, job.MessageID)
	return nil
}

func (q *flakyQueue) set(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.err = err
}

func (q *flakyQueue) taken() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.took...)
}

type statusStore struct {
	mu     sync.Mutex
	status map[string]string
}

func (s *statusStore) Message(_ context.Context, id string) (actors.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.status[id]
	if !ok {
		return actors.Message{}, fmt.Errorf("message %s: %w", id, actors.ErrNotFound)
	}
	return actors.Message{ID: id, Status: st}, nil
}

// The relay publishes again, once the queue is back, every job whose
// publish had an unknown outcome and whose message is still queued; it
// drops those already sent or gone, and passes other errors through.
func TestRelayPublishesUnknownOutcomesAgain(t *testing.T) {
	q := &flakyQueue{}
	st := &statusStore{status: map[string]string{"queued": actors.StatusQueued, "sent": actors.StatusSent}}
	r := newRelay(q, st, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	refused := fmt.Errorf("publish: %w", actors.ErrUnavailable)
	q.set(refused)
	require.ErrorIs(t, r.Publish(ctx, actors.OutboundJob{MessageID: "refused"}), actors.ErrUnavailable)
	assert.Zero(t, r.held(), "a surely-not-queued job is the caller's to fail")

	q.set(fmt.Errorf("publish: confirm lost: %w", actors.ErrPublishUnknown))
	for _, id := range []string{"queued", "sent", "gone"} {
		require.ErrorIs(t, r.Publish(ctx, actors.OutboundJob{MessageID: id}), actors.ErrPublishUnknown)
	}
	assert.Equal(t, 3, r.held())
	time.Sleep(500 * time.Millisecond) // rounds fail while the queue is away
	assert.Empty(t, q.taken())

	q.set(nil)
	require.Eventually(t, func() bool { return r.held() == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"queued"}, q.taken(), "only the message still queued is published again")
}
