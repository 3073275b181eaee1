package agentsession

import (
	"context"
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// State is where an agent session is in its life.
//
//	New ──hello──▶ Active ──token expires──▶ Expired ──grace passes──▶ Closed (4001)
//	                 ▲ │                        │
//	                 │ └──auth frame (extends)  │
//	                 └──────auth frame──────────┘
//
// Any state goes to Closed on logout, revocation or a role change (1008),
// idle timeout (4002), a slow client (1013), an oversized frame (1009),
// server shutdown (1001, through the socket) or a bug (1011).
type State int32

// The states of a session.
const (
	// StateNew: spawned and registered; hello not sent yet.
	StateNew State = iota
	// StateActive: hello sent and the access token valid; events are
	// pushed and the user counts as online.
	StateActive
	// StateExpired: the access token expired; events are withheld, the
	// user does not count as online, and an auth frame with a fresh token
	// of the same user brings the session back within the grace period.
	StateExpired
	// StateClosed: the socket is closing or closed.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateNew:
		return "new"
	case StateActive:
		return "active"
	case StateExpired:
		return "expired"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// timerKind names a session timer.
type timerKind int

const (
	timerExpiry timerKind = iota
	timerGrace
	timerIdle
	timerKinds
)

// timerFired is a timer's message to its actor.
type timerFired struct {
	kind timerKind
	gen  uint64
}

// authDone is the outcome of an auth frame's token check.
type authDone struct {
	userID    string
	expiresAt time.Time
	err       error
}

// setState is the actor's own state; State() follows the outbox (unlockOut).
func (a *sessionActor) setState(st State) {
	a.state = st
}

// greet starts a registered session: Active (or straight to Expired if the
// token expired meanwhile), hello first, and its timers.
func (a *sessionActor) greet(c actor.Context) {
	if a.state != StateNew || a.s.closing.Load() {
		return
	}
	a.expiresAt = a.s.expiresAt
	a.arm(c, timerIdle, a.s.hub.opts.IdleTimeout)
	hello := a.frame(FrameHello, helloData{UserID: a.s.user.ID, Role: a.s.user.Role, ServerTime: a.now(), ExpiresAt: timePtr(a.expiresAt),
		Cursor: a.s.helloCursor})
	if a.expiresAt.IsZero() || a.now().Before(a.expiresAt) {
		if a.s.resume != "" {
			// Stays New (keeping live events) until the replay is read.
			a.startReplay(c)
			return
		}
		a.activate(c)
		// The events published since Open follow the hello.
		if !a.s.transition(StateActive, hello) {
			a.tooSlow(c)
		}
		return
	}
	a.expire(c, hello)
}

// activate makes the session Active for its commands and presence (before
// any frame says so) and runs its expiry timer; the caller moves the
// outbox with the frame that says so.
func (a *sessionActor) activate(c actor.Context) {
	a.setState(StateActive)
	a.s.hub.setActive(a.s, true)
	a.armExpiry(c)
}

func (a *sessionActor) armExpiry(c actor.Context) {
	if a.expiresAt.IsZero() {
		a.stopTimer(timerExpiry)
		return
	}
	a.arm(c, timerExpiry, a.expiresAt.Sub(a.now()))
}

// expire moves a session to Expired: the user goes offline, the client is
// told (after before, the hello of a session whose token expired before
// it), events are withheld from then on and the grace timer runs.
func (a *sessionActor) expire(c actor.Context, before ...*Frame) {
	a.setState(StateExpired)
	a.expiredAt = a.now()
	a.s.hub.setActive(a.s, false)
	grace := a.s.hub.opts.Grace
	a.log().Debug("agent session expired", zap.Duration("grace", grace))
	a.arm(c, timerGrace, grace)
	frames := append(before, a.frame(FrameSessionExpired, expiredData{ExpiredAt: a.expiredAt, Deadline: a.expiredAt.Add(grace)}))
	if !a.s.transition(StateExpired, frames...) {
		a.tooSlow(c)
	}
}

func (a *sessionActor) timerFired(c actor.Context, m timerFired) {
	if m.gen != a.gens[m.kind] || a.state == StateClosed {
		return // stale: re-armed or stopped since
	}
	a.timers[m.kind] = nil
	switch m.kind {
	case timerExpiry:
		if a.state != StateActive {
			return
		}
		if left := a.expiresAt.Sub(a.now()); left > 0 {
			a.arm(c, timerExpiry, left) // fired early
			return
		}
		a.expire(c)
	case timerGrace:
		if a.state == StateExpired {
			a.log().Info("agent session closed: token expired and not renewed")
			a.shut(c, CloseSessionExpired, ReasonSessionExpired)
		}
	case timerIdle:
		idle := a.clock.Now().Sub(time.Unix(0, a.s.lastHeard.Load()))
		timeout := a.s.hub.opts.IdleTimeout
		if idle < timeout {
			a.arm(c, timerIdle, timeout-idle)
			return
		}
		a.log().Info("agent session closed: idle", zap.Duration("idle", idle))
		a.shut(c, CloseIdleTimeout, ReasonIdleTimeout)
	}
}

// arm (re)starts the timer of kind to fire after d.
func (a *sessionActor) arm(c actor.Context, kind timerKind, d time.Duration) {
	a.stopTimer(kind)
	a.gen++
	gen, self, root := a.gen, c.Self(), c.ActorSystem().Root
	a.gens[kind] = gen
	a.timers[kind] = a.clock.AfterFunc(max(d, 0), func() { root.Send(self, timerFired{kind: kind, gen: gen}) })
}

func (a *sessionActor) stopTimer(kind timerKind) {
	if t := a.timers[kind]; t != nil {
		t.Stop()
		a.timers[kind] = nil
	}
	a.gens[kind] = 0
}

func (a *sessionActor) stopTimers() {
	for k := range timerKinds {
		a.stopTimer(k)
	}
}

// auth checks the token of an auth frame off the mailbox.
func (a *sessionActor) auth(c actor.Context, token string) {
	commands := a.s.hub.opts.Commands
	switch {
	case commands == nil:
		a.replyError(c, &frameError{code: CodeInternal, message: "auth is not available", typ: FrameAuth}, "")
		return
	case a.authing:
		a.replyError(c, &frameError{code: CodeRateLimited, message: "an auth frame is already being checked", typ: FrameAuth}, "")
		return
	}
	a.authing = true
	a.runCommand(c, func(ctx context.Context) any {
		userID, exp, err := commands.Authenticate(ctx, token)
		return authDone{userID: userID, expiresAt: exp, err: err}
	})
}

// authDone applies a checked token: same user and not expired extends an
// active session, and brings an expired one back (ack, then a resync frame
// since events were withheld).
func (a *sessionActor) authDone(c actor.Context, m authDone) {
	a.authing = false
	if a.state == StateClosed || a.s.closing.Load() {
		return
	}
	if m.err != nil {
		if errors.Is(m.err, context.Canceled) && a.ctx.Err() != nil {
			return
		}
		code, message := commandError(m.err)
		if code == CodeInternal || code == CodeDependencyUnavailable {
			a.log().Warn("auth frame", zap.Error(m.err))
		} else {
			a.log().Debug("auth frame refused", zap.Error(m.err))
		}
		if reason := refusalOf(m.err); reason != "" {
			a.refused(reason)
		}
		a.replyError(c, &frameError{code: code, message: message, typ: FrameAuth}, "")
		return
	}
	if m.userID != a.s.user.ID {
		a.log().Info("auth frame with another user's token refused")
		a.refused(RefusalOtherUser)
		a.replyError(c, &frameError{code: CodeForbidden, message: "access token belongs to another user", typ: FrameAuth}, "")
		return
	}
	if !m.expiresAt.IsZero() && !a.now().Before(m.expiresAt) {
		a.refused(RefusalTokenExpired)
		a.replyError(c, &frameError{code: CodeTokenExpired, message: "access token has expired", typ: FrameAuth}, "")
		return
	}
	a.expiresAt = m.expiresAt
	if a.state != StateExpired {
		a.armExpiry(c)
		a.reply(c, FrameAck, ackData{Type: FrameAuth, ExpiresAt: timePtr(a.expiresAt)})
		return
	}
	a.stopTimer(timerGrace)
	a.activate(c)
	withheld, ok := a.s.renew(a.frame(FrameAck, ackData{Type: FrameAuth, ExpiresAt: timePtr(a.expiresAt)}), a.expiredAt)
	a.log().Debug("agent session renewed", zap.Int("withheld", withheld))
	if !ok {
		a.tooSlow(c)
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// refused tells Refusals, if any, of a token this session's auth frame
// presented and the session refused.
func (a *sessionActor) refused(reason string) {
	if r := a.s.hub.opts.Refusals; r != nil {
		r.Refused(a.s.user.ID, a.s.source, reason)
	}
}

// refusalOf is the Refusals reason of a token Authenticate refused; "" for
// other errors (the store down, say), which are not refusals.
func refusalOf(err error) string {
	switch {
	case errors.Is(err, actors.ErrTokenExpired):
		return RefusalTokenExpired
	case errors.Is(err, actors.ErrTokenRevoked):
		return RefusalTokenRevoked
	case errors.Is(err, actors.ErrTokenInvalid):
		return RefusalTokenInvalid
	default:
		return ""
	}
}
