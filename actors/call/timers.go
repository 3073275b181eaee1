package call

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// wake is what the actor's timer sends it: a timer of its call may be due,
// or failed work is to be tried again.
type wake struct{}

// due is when the actor's timer must next wake it; zero for never.
//
//	new      StartedAt+QueueTTL (cancel), or the end of a fresh connect
//	         when that is later; sooner for a pending re-publish
//	active   DeadlineAt (expire and look up)
//	expired  NextLookupAt, when no lookup is in flight
//
// Work that failed waits for retryAt, whatever else is due: what is due is
// in the past, and would otherwise wake the actor again at once.
func (a *Actor) due() time.Time {
	if !a.retryAt.IsZero() {
		return a.retryAt
	}
	var at time.Time
	if c := a.call; a.loaded && c != nil {
		switch c.State {
		case actors.StateNew:
			at = c.StartedAt.Add(a.env.Config.QueueTTL)
			end := c.ConnectStartedAt.Add(a.env.Config.ConnectTimeout)
			if !c.ConnectStartedAt.IsZero() && end.After(at) {
				at = end
			}
			if a.republish {
				// At once (after the message that activated the actor,
				// already in its mailbox), or once the connect is stale.
				r := a.env.Now()
				if a.connectingFresh(a.now()) {
					r = end
				}
				if r.Before(at) {
					at = r
				}
			}
		case actors.StateActive:
			at = c.DeadlineAt
		case actors.StateExpired:
			if a.lookup == nil {
				at = c.NextLookupAt
			}
		}
	}
	return at
}

// arm makes the timer wake the actor at due (stops it when nothing is).
func (a *Actor) arm() {
	at := a.due()
	if at.IsZero() {
		a.stopTimer()
		return
	}
	d := max(at.Sub(a.env.Now()), 0) + time.Millisecond
	if a.timer == nil {
		self, system := a.self, a.env.system
		a.timer = time.AfterFunc(d, func() { system.Root.Send(self, wake{}) })
		return
	}
	a.timer.Reset(d)
}

func (a *Actor) stopTimer() {
	if a.timer != nil {
		a.timer.Stop()
	}
}

// wake fires whatever is due: loading again, the queue TTL, the deadline,
// a lookup. Failed work is retried after timerRetry.
func (a *Actor) wake() {
	a.retryAt = time.Time{}
	if err := a.ensureLoaded(); err != nil {
		a.log().Warn("load call; will retry", zap.Duration("retry_in", timerRetry), zap.Error(err))
		return
	}
	c := a.call
	if c == nil || !c.Live() {
		return
	}
	now := a.now()
	ctx, cancel := a.io()
	defer cancel()
	var err error
	switch c.State {
	case actors.StateNew:
		if a.queueExpired(now) {
			err = a.cancelQueued(ctx, now)
		}
	case actors.StateActive:
		if !now.Before(c.DeadlineAt) {
			err = a.expire(ctx, now)
		}
	case actors.StateExpired:
		if a.lookup == nil && !now.Before(c.NextLookupAt) {
			a.startLookup()
		}
	}
	if err != nil && !errors.Is(err, ErrStale) {
		a.retryAt = now.Add(timerRetry)
		a.log().Warn("call timer not applied; will retry", zap.Duration("retry_in", timerRetry), zap.Error(err))
	}
}

// expire marks an active call without a terminal callback by its deadline
// expired and looks it up at Exotel.
func (a *Actor) expire(ctx context.Context, now time.Time) error {
	next := *a.call
	next.State, next.NextLookupAt = actors.StateExpired, now
	if err := a.transition(ctx, &next); err != nil {
		return err
	}
	a.log().Info("call expired without a terminal callback; looking it up", zap.String("call_sid", next.ExotelSid))
	a.startLookup()
	return nil
}

// maybeRepublish publishes the connect job of a call read from the store
// while new, unless a connect is in flight (then once it is stale), the
// queue TTL is due (the timer cancels it) or the sender showed it holds
// the job.
func (a *Actor) maybeRepublish() {
	c := a.call
	if !a.republish || c == nil {
		return
	}
	if c.State != actors.StateNew || c.ExotelSid != "" {
		a.republish = false
		return
	}
	now := a.now()
	if a.connectingFresh(now) || a.queueExpired(now) {
		return
	}
	ctx, cancel := a.io()
	defer cancel()
	if err := a.publishJob(ctx); err != nil {
		a.retryAt = now.Add(timerRetry)
		a.log().Warn("re-publish connect job; will retry", zap.Duration("retry_in", timerRetry), zap.Error(err))
		return
	}
	a.republish = false
	a.log().Info("connect job of a queued call published again")
}

// lookupRun is one call-details lookup in flight, off the mailbox.
type lookupRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// lookupDone brings a lookup's answer back to the actor.
type lookupDone struct {
	run *lookupRun
	sid string
	d   Details
	err error
}

// startLookup asks Exotel about the call on a goroutine of its own (the
// actor keeps taking callbacks meanwhile); the answer comes back as a
// lookupDone. stopped waits for it.
func (a *Actor) startLookup() {
	if a.lookup != nil {
		return
	}
	sid := a.call.ExotelSid
	ctx, cancel := context.WithTimeout(context.Background(), a.env.Config.IOTimeout)
	run := &lookupRun{cancel: cancel, done: make(chan struct{})}
	a.lookup = run
	self, system, lookup := a.self, a.env.system, a.env.Lookup
	go func() {
		defer close(run.done)
		defer cancel()
		m := lookupDone{run: run, sid: sid}
		defer func() {
			if p := recover(); p != nil {
				m.err = fmt.Errorf("look up call %s: panic: %v", sid, p)
			}
			system.Root.Send(self, m)
		}()
		switch {
		case sid == "":
			m.err = fmt.Errorf("look up call: no CallSid: %w", actors.ErrNotFound)
		case lookup == nil:
			m.err = fmt.Errorf("look up call %s: no Exotel lookup: %w", sid, actors.ErrUnavailable)
		default:
			m.d, m.err = lookup.Details(ctx, sid)
		}
	}()
}

// lookupDone settles an expired call from Exotel's answer: closed with a
// terminal status, closed failed when Exotel does not know it, otherwise
// looked up again after a backoff.
func (a *Actor) lookupDone(m lookupDone) {
	if m.run != a.lookup {
		return // of an earlier activation
	}
	a.lookup = nil
	c := a.call
	if c == nil || c.State != actors.StateExpired || c.ExotelSid != m.sid {
		return
	}
	now := a.now()
	next := *c
	next.LookupAttempts++
	announce := true
	switch {
	case errors.Is(m.err, actors.ErrNotFound):
		closeAs(&next, actors.CallFailed, "Exotel does not know the call", now)
	case m.err == nil && actors.CallTerminal(m.d.Status):
		ended := now
		if !m.d.EndedAt.IsZero() {
			ended = m.d.EndedAt.UTC().Truncate(time.Millisecond)
		}
		closeAs(&next, m.d.Status, "", ended)
		if next.DurationSec == 0 && m.d.DurationSec > 0 {
			next.DurationSec = m.d.DurationSec
		}
		if next.RecordingURL == "" {
			next.RecordingURL = m.d.RecordingURL
		}
		fillAnswered(&next)
	default:
		if m.err != nil {
			a.log().Warn("call-details lookup failed; will retry", zap.Int("attempt", next.LookupAttempts), zap.Error(m.err))
		}
		announce = false
		if m.err == nil && actors.CallStatusRank(m.d.Status) > actors.CallStatusRank(next.Status) {
			next.Status, announce = m.d.Status, true
		}
		next.NextLookupAt = now.Add(a.backoff(next.LookupAttempts))
	}
	ctx, cancel := a.io()
	defer cancel()
	var err error
	if announce {
		err = a.transition(ctx, &next)
	} else {
		err = a.save(ctx, &next)
	}
	switch {
	case err == nil && !next.Live():
		a.log().Info("expired call settled by lookup", zap.String("status", next.Status), zap.Int("attempt", next.LookupAttempts))
	case err != nil && !errors.Is(err, ErrStale):
		a.retryAt = now.Add(timerRetry)
		a.log().Warn("store lookup outcome; will look up again", zap.Duration("retry_in", timerRetry), zap.Error(err))
	}
}

// backoff is the wait after the n-th lookup (n ≥ 1): LookupBackoff doubled
// n-1 times, at most LookupMaxBackoff.
func (a *Actor) backoff(n int) time.Duration {
	d, limit := a.env.Config.LookupBackoff, a.env.Config.LookupMaxBackoff
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
