package call

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// command handles one Command and returns its answer.
func (a *Actor) command(cmd Command) Result {
	if err := a.ensureLoaded(); err != nil {
		if _, ok := cmd.(BeginConnect); ok {
			return Result{Connect: ConnectWait, Err: err}
		}
		return Result{Err: err}
	}
	if s, ok := cmd.(Start); ok {
		return a.start(s)
	}
	if a.call == nil {
		r := Result{Err: fmt.Errorf("call %s: %w", a.id, actors.ErrNotFound)}
		if _, ok := cmd.(BeginConnect); ok {
			// No call, no job to hold: the sender acks it.
			r.Connect = ConnectSkip
		}
		return r
	}
	switch m := cmd.(type) {
	case Activate:
		return a.answer(nil)
	case BeginConnect:
		a.republish = false
		return a.beginConnect()
	case Connected:
		a.republish = false
		return a.connected(m)
	case ConnectFailed:
		a.republish = false
		return a.connectFailed(m)
	case Callback:
		return a.callback(m.Event)
	case Requeue:
		return a.requeue()
	}
	return a.answer(fmt.Errorf("call %s: command %T not handled", a.id, cmd))
}

// start stores a new call, queues its connect job and announces it.
func (a *Actor) start(m Start) Result {
	if a.call != nil {
		return a.answer(nil)
	}
	c := m.Call
	if c.ID != a.id {
		return Result{Err: fmt.Errorf("start call %s: the command names call %q", a.id, c.ID)}
	}
	now := a.now()
	c.State, c.Status = actors.StateNew, actors.CallQueued
	c.ExotelSid, c.DurationSec, c.RecordingURL, c.Reason, c.LookupAttempts = "", 0, "", "", 0
	c.DeadlineAt, c.NextLookupAt, c.ConnectStartedAt = time.Time{}, time.Time{}, time.Time{}
	c.LastEventAt, c.AnsweredAt, c.EndedAt = time.Time{}, time.Time{}, time.Time{}
	if c.StartedAt.IsZero() {
		c.StartedAt = now
	}
	c.StartedAt = c.StartedAt.UTC().Truncate(time.Millisecond)
	c.CreatedAt, c.UpdatedAt, c.Version = now, now, 1
	ctx, cancel := a.io()
	defer cancel()
	err := a.env.Store.CreateCall(ctx, c)
	switch {
	case errors.Is(err, actors.ErrConflict):
		return Result{Err: fmt.Errorf("start call %s of agent %s: %w", a.id, c.AgentID, ErrAgentBusy)}
	case errors.Is(err, actors.ErrDuplicate):
		// Stored already: by a write of ours that timed out, or by another
		// activation. Answer the stored call, as a repeated Start does.
		stored, err := a.env.Store.Call(ctx, a.id)
		if err != nil {
			return Result{Err: unavailable("read call "+a.id, err)}
		}
		a.call, a.republish = &stored, stored.State == actors.StateNew
		return a.answer(nil)
	case err != nil:
		return Result{Err: unavailable("create call "+a.id, err)}
	}
	a.call = &c
	if err := a.publishJob(ctx); err != nil {
		next := *a.call
		closeAs(&next, actors.CallFailed, "connect request not queued: "+err.Error(), now)
		if serr := a.save(ctx, &next); serr != nil {
			// Stored as new without a job: re-published by the timer.
			a.republish = true
			a.log().Error("call neither queued nor closed; will re-publish its job", zap.Error(err), zap.NamedError("save_error", serr))
			return a.answer(err)
		}
		a.log().Warn("call closed: its connect job was not queued", zap.Error(err))
		a.announce(c.AgentID, "calls.status", actors.OutcomeFailure)
		return a.answer(err)
	}
	a.announce(c.AgentID, "calls.status", actors.OutcomeSuccess)
	return a.answer(nil)
}

// beginConnect tells the sender whether it may place the call now.
func (a *Actor) beginConnect() Result {
	c := a.call
	if !c.Live() || c.ExotelSid != "" {
		return Result{Call: *c, Connect: ConnectSkip}
	}
	now := a.now()
	switch {
	case a.connectingFresh(now):
		return Result{Call: *c, Connect: ConnectWait}
	case !c.ConnectStartedAt.IsZero():
		// Placed or not, the sender finds out before anything else (even
		// past QueueTTL: a placed call must be tracked).
		return Result{Call: *c, Connect: ConnectResolve}
	}
	ctx, cancel := a.io()
	defer cancel()
	if a.queueExpired(now) {
		if err := a.cancelQueued(ctx, now); err != nil {
			return a.connectAnswer(ConnectWait, err)
		}
		return Result{Call: *a.call, Connect: ConnectSkip}
	}
	next := *c
	next.ConnectStartedAt = now
	if err := a.save(ctx, &next); err != nil {
		return a.connectAnswer(ConnectWait, err)
	}
	return Result{Call: *a.call, Connect: ConnectGo}
}

// connectAnswer is an answer to BeginConnect; the call may be gone (a
// stale activation).
func (a *Actor) connectAnswer(k Connect, err error) Result {
	r := a.answer(err)
	r.Connect = k
	return r
}

// cancelQueued closes a call Exotel did not accept within QueueTTL.
func (a *Actor) cancelQueued(ctx context.Context, now time.Time) error {
	next := *a.call
	closeAs(&next, actors.CallCanceled, fmt.Sprintf("not accepted by Exotel within %s of the request", a.env.Config.QueueTTL), now)
	if err := a.transition(ctx, &next); err != nil {
		return err
	}
	a.log().Warn("queued call canceled: Exotel did not accept it in time", zap.Duration("queue_ttl", a.env.Config.QueueTTL))
	return nil
}

// connected records Exotel's acceptance.
func (a *Actor) connected(m Connected) Result {
	c := a.call
	if m.Sid == "" {
		return a.answer(fmt.Errorf("connected call %s: no CallSid", a.id))
	}
	if c.ExotelSid != "" && c.ExotelSid != m.Sid {
		a.log().Error("call placed twice at Exotel", zap.String("call_sid", c.ExotelSid), zap.String("second_call_sid", m.Sid))
		return a.answer(fmt.Errorf("connected call %s as %s: it is Exotel's %s: %w", a.id, m.Sid, c.ExotelSid, actors.ErrConflict))
	}
	ctx, cancel := a.io()
	defer cancel()
	if !c.Live() {
		if c.ExotelSid == "" {
			// Closed (canceled) while its connect was in flight: keep the
			// sid, so that its callbacks find the call.
			next := *c
			next.ExotelSid = m.Sid
			if err := a.transition(ctx, &next); err != nil {
				return a.answer(err)
			}
			a.log().Warn("closed call was placed at Exotel after all", zap.String("call_sid", m.Sid))
		}
		return a.answer(fmt.Errorf("connected call %s: %w", a.id, ErrClosed))
	}
	if c.State != actors.StateNew {
		return a.answer(nil)
	}
	now := a.now()
	next := *c
	next.State, next.ExotelSid, next.Reason = actors.StateActive, m.Sid, ""
	next.ConnectStartedAt, next.DeadlineAt = time.Time{}, a.deadline(now)
	if actors.CallStatusRank(m.Status) > actors.CallStatusRank(next.Status) {
		next.Status = m.Status
		if actors.CallTerminal(m.Status) {
			closeAs(&next, m.Status, "", now)
		}
	}
	if err := a.transition(ctx, &next); err != nil {
		return a.answer(err)
	}
	return a.answer(nil)
}

// connectFailed records a connect that did not place the call.
func (a *Actor) connectFailed(m ConnectFailed) Result {
	c := a.call
	if !c.Live() {
		return a.answer(fmt.Errorf("connect of call %s failed: %w", a.id, ErrClosed))
	}
	if c.ExotelSid != "" {
		a.log().Warn("connect failure of a call Exotel has; ignored", zap.String("reason", m.Reason))
		return a.answer(nil)
	}
	if !m.StartedAt.IsZero() && !c.ConnectStartedAt.IsZero() && !m.StartedAt.Equal(c.ConnectStartedAt) {
		// Another delivery of the job began connecting since.
		return a.answer(nil)
	}
	ctx, cancel := a.io()
	defer cancel()
	next := *c
	if m.Final {
		reason := m.Reason
		if reason == "" {
			reason = "connect request failed"
		}
		closeAs(&next, actors.CallFailed, reason, a.now())
		return a.answer(a.transition(ctx, &next))
	}
	if c.ConnectStartedAt.IsZero() {
		return a.answer(nil)
	}
	next.ConnectStartedAt = time.Time{}
	return a.answer(a.save(ctx, &next))
}

// callback applies one stored Exotel callback, then marks it applied.
func (a *Actor) callback(ev actors.CallEvent) Result {
	c := a.call
	ctx, cancel := a.io()
	defer cancel()
	applied := false
	if ev.CallSid != "" && c.ExotelSid != "" && ev.CallSid != c.ExotelSid {
		a.log().Warn("callback of another Exotel call ignored", zap.String("call_sid", c.ExotelSid), zap.String("event_call_sid", ev.CallSid))
	} else {
		next := *c
		if a.applyEvent(&next, ev) {
			if err := a.transition(ctx, &next); err != nil {
				return a.answer(err)
			}
			applied = true
		}
	}
	r := a.answer(nil)
	r.Applied = applied
	if ev.ID != "" {
		err := a.env.Store.MarkCallEventApplied(ctx, ev.ID, a.now())
		switch {
		case errors.Is(err, actors.ErrNotFound):
			// Not stored (a caller's bug): nothing to mark.
			a.log().Warn("applied callback is not stored", zap.String("event_id", ev.ID))
		case err != nil:
			// Applied but not marked: replayed later, which changes nothing.
			r.Err = unavailable("mark callback "+ev.ID+" applied", err)
		}
	}
	return r
}

// applyEvent applies ev to next monotonically and reports whether it
// changed anything: a status applies only above the held one's rank, a
// terminal status is final, and the other fields only fill blanks from a
// callback that agrees with the call's status.
func (a *Actor) applyEvent(next *actors.Call, ev actors.CallEvent) bool {
	now := a.now()
	at := now
	if !ev.DateUpdated.IsZero() {
		at = ev.DateUpdated.UTC().Truncate(time.Millisecond)
	}
	changed := false
	if next.ExotelSid == "" && ev.CallSid != "" {
		next.ExotelSid, changed = ev.CallSid, true
	}
	if next.State == actors.StateNew && next.ExotelSid != "" {
		// Exotel has the call though its connect answer never came (a
		// timeout): it is active.
		next.State, next.ConnectStartedAt, next.DeadlineAt = actors.StateActive, time.Time{}, a.deadline(now)
		changed = true
	}
	if next.Live() {
		switch {
		case actors.CallStatusRank(ev.Status) > actors.CallStatusRank(next.Status):
			next.Status, changed = ev.Status, true
			if ev.Status == actors.CallInProgress && next.AnsweredAt.IsZero() {
				next.AnsweredAt = at
			}
			if actors.CallTerminal(ev.Status) {
				closeAs(next, ev.Status, "", at)
			}
		case ev.Status == actors.CallInProgress && next.AnsweredAt.IsZero():
			// Answered, after the connect's own in-progress.
			next.AnsweredAt, changed = at, true
		}
	}
	if ev.Status == next.Status {
		if next.DurationSec == 0 && ev.DurationSec > 0 {
			next.DurationSec, changed = ev.DurationSec, true
		}
		if next.RecordingURL == "" && ev.RecordingURL != "" {
			next.RecordingURL, changed = ev.RecordingURL, true
		}
		if fillAnswered(next) {
			changed = true
		}
	}
	if changed && at.After(next.LastEventAt) {
		next.LastEventAt = at
	}
	return changed
}

// fillAnswered derives when a completed call with talk time but no answered
// callback was answered.
func fillAnswered(c *actors.Call) bool {
	if c.Status != actors.CallCompleted || c.DurationSec <= 0 || !c.AnsweredAt.IsZero() || c.EndedAt.IsZero() {
		return false
	}
	c.AnsweredAt = c.EndedAt.Add(-time.Duration(c.DurationSec) * time.Second)
	return true
}

// requeue re-opens a call that failed before Exotel accepted it.
func (a *Actor) requeue() Result {
	c := a.call
	if c.Live() {
		return a.answer(nil)
	}
	if c.Status != actors.CallFailed || c.ExotelSid != "" {
		return a.answer(fmt.Errorf("requeue call %s (%s): %w", a.id, c.Status, ErrClosed))
	}
	now := a.now()
	next := *c
	next.State, next.Status, next.Reason, next.StartedAt = actors.StateNew, actors.CallQueued, "", now
	next.EndedAt, next.ConnectStartedAt, next.DeadlineAt, next.NextLookupAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	next.LookupAttempts = 0
	next.Version, next.UpdatedAt = c.Version+1, now
	ctx, cancel := a.io()
	defer cancel()
	if err := a.env.Store.SaveCall(ctx, next); err != nil {
		if !errors.Is(err, actors.ErrConflict) {
			return a.answer(unavailable("requeue call "+a.id, err))
		}
		// The agent's other live call, or another activation's write.
		stored, rerr := a.env.Store.Call(ctx, a.id)
		if rerr != nil {
			return a.answer(unavailable("read call "+a.id, rerr))
		}
		if stored.Version == c.Version {
			return a.answer(fmt.Errorf("requeue call %s of agent %s: %w", a.id, c.AgentID, ErrAgentBusy))
		}
		a.retire = true
		return a.answer(fmt.Errorf("requeue call %s: %w", a.id, ErrStale))
	}
	*a.call = next
	a.announce("system", "calls.status", actors.OutcomeSuccess)
	return a.answer(nil)
}
