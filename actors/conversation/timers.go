package conversation

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// nextTimer is the earliest timer still to fire for c: the window warning
// (once per window) or the expiry; zero when c has none.
func (a *Actor) nextTimer(c *actors.Conversation) time.Time {
	if (c.State != actors.StateNew && c.State != actors.StateActive) || c.ExpiresAt.IsZero() {
		return time.Time{}
	}
	if w := a.env.Config.Warning; w > 0 && c.WarnedAt.IsZero() && w < a.env.Config.Window {
		return c.ExpiresAt.Add(-w)
	}
	return c.ExpiresAt
}

// tick fires whatever timers are due.
func (a *Actor) tick() Result {
	if err := a.loadIfNeeded(); err != nil {
		return Failed(err)
	}
	if a.conv == nil {
		return Result{}
	}
	now := a.now()
	next := a.current()
	var warned, expired bool
	if (next.State == actors.StateNew || next.State == actors.StateActive) && !next.ExpiresAt.IsZero() {
		if !now.Before(next.ExpiresAt) {
			next.State = actors.StateExpired
			expired = true
		} else if w := a.env.Config.Warning; w > 0 && next.WarnedAt.IsZero() && !now.Before(next.ExpiresAt.Add(-w)) {
			next.WarnedAt = now
			warned = true
		}
	}
	next.NextTimerAt = a.nextTimer(&next)
	if !expired && !warned && next.NextTimerAt.Equal(a.conv.NextTimerAt()) {
		a.armTimer()
		return Result{Conversation: next}
	}
	next.UpdatedAt = now
	ctx := a.io()
	defer ctx.finish()
	if err := a.save(ctx, &next); err != nil {
		return Failed(err)
	}
	c := &next
	if expired {
		a.log().Info("conversation expired", zap.String("conversation_id", c.ID))
		if a.env.Publisher != nil {
			a.publish(actors.EventConversationUpdated, c, "", c.View())
		}
	}
	if warned && c.AssigneeID != "" {
		a.notify(ctx, c.AssigneeID, actors.NotifyWindowExpiring, "Service window ends soon",
			fmt.Sprintf("The 24-hour window ends at %s; after that only templates can be sent.", c.ExpiresAt.Format(time.RFC3339)), c)
	}
	a.armTimer()
	return Result{Conversation: *c}
}

// wake is what an actor's timer sends it: a timer of its conversation may
// be due, or the actor may have been idle for the idle timeout. It does not
// count as activity.
type wake struct{}

// monoBase is the origin of mono.
var monoBase = time.Now()

// mono is the actor's clock in nanoseconds since monoBase: what the idle
// timeout and the armed timer are measured on (8 bytes where a time.Time
// takes 24). With the system clock it is monotonic.
func (a *Actor) mono() int64 { return int64(a.env.clock.Now().Sub(monoBase)) }

// timerRetry is how long a wake whose timer write failed (the store is
// down, say) waits before trying again. The conversation's timer stays due
// meanwhile, so retrying at once would spin; the sweeper also retries due
// conversations.
const timerRetry = 5 * time.Second

// wake fires the conversation's timers if they are due (as a Tick would),
// tells the parent the actor is idle once it has had no message for the idle
// timeout (the parent stops it), and re-arms the timer.
func (a *Actor) wake(c actor.Context) {
	a.armed = false
	failed := false
	if a.conv != nil && a.conv.due(a.env.clock.Now()) {
		// The window timer's Tick counted as activity, and still does.
		a.activeAt = a.mono()
		if r := a.tick(); r.Failure != nil {
			failed = true
			a.log().Warn("conversation timer not applied; will retry", zap.Duration("retry_in", timerRetry), zap.Error(r.Failure))
		}
	}
	if idle := a.env.Config.IdleTimeout; idle > 0 && a.mono()-a.activeAt >= int64(idle) {
		c.Send(c.Parent(), Idle{Key: a.key(), ID: a.self.Id})
		// Should the parent keep the actor (it never does), ask again
		// after another idle timeout, as protoactor's receive timeout did.
		a.activeAt = a.mono()
	}
	if failed {
		a.armIn(timerRetry)
		return
	}
	a.armTimer()
}

// armIn arms the actor's alarm for d from now, whatever it was armed for.
func (a *Actor) armIn(d time.Duration) {
	if a.self == nil {
		return
	}
	a.timerAt, a.armed = a.mono()+int64(d), true
	a.env.alarms.set(a, a.timerAt)
}

// nextTimerAt is the held conversation's NextTimerAt (zero when none).
func (a *Actor) nextTimerAt() time.Time {
	if a.conv == nil {
		return time.Time{}
	}
	return a.conv.NextTimerAt()
}

// armTimer makes the actor's timer wake it no later than the conversation's
// NextTimerAt and the end of the idle timeout. A timer that fires earlier
// than needed is kept: its wake re-arms it. So the common message, which
// moves both deadlines later, does not touch the timer at all.
func (a *Actor) armTimer() {
	if a.self == nil {
		return
	}
	nowAt := a.env.clock.Now()
	now := int64(nowAt.Sub(monoBase))
	var at int64
	due := false
	if next := a.nextTimerAt(); !next.IsZero() {
		d := max(next.Sub(nowAt), 0)
		at, due = now+int64(d+time.Millisecond), true
	}
	if idle := a.env.Config.IdleTimeout; idle > 0 {
		if end := a.activeAt + int64(idle); !due || end < at {
			at, due = end, true
		}
	}
	switch {
	case !due:
		// An alarm set while a wake was in flight may be armed even when
		// armed is not: cancel looks.
		a.env.alarms.cancel(a)
		a.armed = false
		return
	case a.armed && a.timerAt <= at:
		return
	}
	a.timerAt, a.armed = at, true
	a.env.alarms.set(a, at)
}
