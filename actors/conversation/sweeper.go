package conversation

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// TimerStore is what the sweeper reads.
type TimerStore interface {
	DueConversations(ctx context.Context, at time.Time, limit int) ([]actors.Conversation, error)
	NextTimer(ctx context.Context) (time.Time, bool, error)
}

// Sweeper fires conversation timers from the store, so warnings and
// expiries happen on time whether or not the conversation's actor is in
// memory, and after a restart. It sleeps until the earliest NextTimerAt,
// never longer than MaxSleep (which bounds how late a timer set by another
// node is noticed).
type Sweeper struct {
	Store     TimerStore
	Directory Directory
	Log       *zap.Logger
	// MaxSleep bounds one sleep (default 1s).
	MaxSleep time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Run sweeps until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error {
	maxSleep := s.MaxSleep
	if maxSleep <= 0 {
		maxSleep = time.Second
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	for {
		sleep := maxSleep
		if err := s.sweep(ctx, now()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.Log.Warn("sweep conversation timers", zap.Error(err))
		} else if next, ok, err := s.Store.NextTimer(ctx); err == nil && ok {
			sleep = min(max(next.Sub(now()), 10*time.Millisecond), maxSleep)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(sleep):
		}
	}
}

// sweep ticks every conversation whose timer is due and waits for the
// answers, so a slow actor is not ticked again before it answered.
func (s *Sweeper) sweep(ctx context.Context, at time.Time) error {
	for {
		due, err := s.Store.DueConversations(ctx, at, 500)
		if err != nil {
			return err
		}
		replies := make([]Reply, 0, len(due))
		for _, c := range due {
			replies = append(replies, s.Directory.Request(Key{PhoneNumberID: c.PhoneNumberID, WaID: c.WaID}, Tick{}, 10*time.Second))
		}
		failed := 0
		for i, r := range replies {
			if _, err := Await(Key{PhoneNumberID: due[i].PhoneNumberID, WaID: due[i].WaID}, r); err != nil {
				failed++
				s.Log.Warn("tick conversation", zap.String("conversation_id", due[i].ID), zap.Error(err))
			}
		}
		if len(due) < 500 || failed > 0 || ctx.Err() != nil {
			return nil
		}
	}
}
