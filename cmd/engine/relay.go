package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// relayCapacity bounds the jobs the relay holds for publishing again.
const relayCapacity = 100_000

// Backoff of the relay between rounds that failed.
const (
	relayMinBackoff = 200 * time.Millisecond
	relayMaxBackoff = 5 * time.Second
)

// relayStore is what the relay reads of a message: whether it still waits
// to be sent.
type relayStore interface {
	Message(ctx context.Context, id string) (actors.Message, error)
}

// relay is the conversations' outbox in front of the outbound queue. A
// publish whose outcome is unknown (actors.ErrPublishUnknown: it reached
// the broker, whose confirm was lost) may have queued its job or not; the
// conversation then keeps the message queued and accepts the send, and
// the relay publishes the job again until the queue confirms a publish or
// the message is no longer queued (the sender sent or failed it). A
// message that ends up with two jobs is sent once: the sender sends a
// message only while it is queued. Jobs still held when the engine stops
// are published again at the next start-up (outbound.recover), since their
// messages are queued in the store.
type relay struct {
	queue actors.OutboundPublisher
	store relayStore
	log   *zap.Logger

	mu      sync.Mutex
	pending map[string]actors.OutboundJob // by kind and message id
	wake    chan struct{}
}

var _ actors.OutboundPublisher = (*relay)(nil)

func newRelay(queue actors.OutboundPublisher, store relayStore, log *zap.Logger) *relay {
	return &relay{queue: queue, store: store, log: log.With(zap.String("component", "outbox_relay")),
		pending: map[string]actors.OutboundJob{}, wake: make(chan struct{}, 1)}
}

// Publish publishes job; when its outcome is unknown, it keeps the job to
// publish it again and returns the error, so the caller knows the send
// may already be queued.
func (r *relay) Publish(ctx context.Context, job actors.OutboundJob) error {
	err := r.queue.Publish(ctx, job)
	if err == nil || !errors.Is(err, actors.ErrPublishUnknown) {
		return err
	}
	r.mu.Lock()
	full := len(r.pending) >= relayCapacity
	if !full {
		r.pending[job.Kind+"/"+job.MessageID] = job
	}
	r.mu.Unlock()
	if full {
		r.log.Error("outbox relay full; the message stays queued in the store until the next start-up publishes it",
			zap.String("message_id", job.MessageID), zap.Int("held", relayCapacity))
		return err
	}
	r.log.Warn("publish outcome unknown; the relay publishes the job again", zap.String("message_id", job.MessageID), zap.Error(err))
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return err
}

// held is the number of jobs waiting to be published again.
func (r *relay) held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Run publishes the held jobs again until ctx ends, backing off while the
// queue keeps failing.
func (r *relay) Run(ctx context.Context) error {
	backoff := relayMinBackoff
	for {
		wait := backoff
		if r.held() == 0 {
			wait = time.Hour
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if n := r.held(); n > 0 {
				r.log.Warn("outbox relay stopped; its messages are published again at the next start-up", zap.Int("held", n))
			}
			return nil
		case <-r.wake:
			t.Stop()
		case <-t.C:
		}
		if r.round(ctx) {
			backoff = relayMinBackoff
		} else {
			backoff = min(2*backoff, relayMaxBackoff)
		}
	}
}

// round publishes each held job once, dropping those confirmed or whose
// message is no longer queued; it stops at the first failed publish (the
// queue is still down) and reports whether every job was settled.
func (r *relay) round(ctx context.Context) bool {
	r.mu.Lock()
	jobs := make([]actors.OutboundJob, 0, len(r.pending))
	for _, j := range r.pending {
		jobs = append(jobs, j)
	}
	r.mu.Unlock()
	for _, job := range jobs {
		if ctx.Err() != nil {
			return false
		}
		if !r.settle(ctx, job) {
			return false
		}
		r.mu.Lock()
		delete(r.pending, job.Kind+"/"+job.MessageID)
		r.mu.Unlock()
	}
	return true
}

// settle publishes job again unless its message is gone or no longer
// queued; it reports whether the job needs nothing more.
func (r *relay) settle(ctx context.Context, job actors.OutboundJob) bool {
	log := r.log.With(zap.String("message_id", job.MessageID))
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	m, err := r.store.Message(mctx, job.MessageID)
	cancel()
	switch {
	case errors.Is(err, actors.ErrNotFound):
		log.Warn("relayed job of a message that is gone; dropped")
		return true
	case err != nil:
		log.Warn("relay: load message", zap.Error(err))
		return false
	case m.Status != actors.StatusQueued:
		log.Debug("relayed job no longer needed", zap.String("status", m.Status))
		return true
	}
	if err := r.queue.Publish(ctx, job); err != nil {
		log.Warn("relay: publish again", zap.Error(err))
		return false
	}
	log.Info("job published again after an unknown outcome")
	return true
}
