package agentsession

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
)

// greet makes a registered session push its hello and become active.
type greet struct{}

// disconnected tells the session DisconnectUser (or an oversized frame)
// closed its socket: it moves to Closed.
type disconnected struct{}

// clientFrame is a frame the client sent, handed over by Deliver.
type clientFrame struct{ b []byte }

// sessionActor is one socket's agent session. Its fields are touched only
// from Receive, one message at a time.
type sessionActor struct {
	s     *Session
	clock Clock
	// lg is the session's logger, made on first use (log): most sessions
	// never log, and a logger with a field costs an encoding of it.
	lg *zap.Logger
	// ctx is cancelled when the actor stops; commands derive from it.
	ctx    context.Context
	cancel context.CancelFunc

	state State
	// expiresAt is when the current access token expires (zero: never).
	expiresAt time.Time
	// expiredAt is when the session last became Expired (the outbox
	// counts the events withheld since).
	expiredAt time.Time
	// timers are the pending expiry, grace and idle timers; gens the
	// generation each was armed with (a stale firing is ignored).
	timers [timerKinds]Timer
	gens   [timerKinds]uint64
	gen    uint64

	// reads and typings count the commands in flight; authing is set while
	// an auth frame's token is checked.
	reads, typings int
	authing        bool
	// typingTokens is the typing bucket, last refilled at typingAt.
	typingTokens float64
	typingAt     time.Time
}

// Receive handles one message.
func (a *sessionActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.start(c)
	case *actor.Stopping, *actor.Restarting:
		if a.cancel != nil {
			a.cancel()
		}
		a.stopTimers()
	case *actor.Stopped:
		a.s.markStopped()
	case greet:
		a.greet(c)
	case replayed:
		a.resumed(c, m)
	case clientFrame:
		<-a.s.slots
		a.handle(c, m.b)
	case timerFired:
		a.timerFired(c, m)
	case readDone:
		a.readDone(c, m)
	case typingDone:
		a.typingDone(c, m)
	case authDone:
		a.authDone(c, m)
	case disconnected:
		a.disconnected(c)
	}
}

func (a *sessionActor) start(c actor.Context) {
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if a.s.started.Swap(true) {
		// Restarted after a panic: the client's view may be stale; make it
		// reconnect and start from a fresh hello.
		a.log().Warn("agent session restarted; closing its socket")
		a.shut(c, CloseInternalError, ReasonInternal)
	}
}

// log is the session's logger, with its agent's id.
func (a *sessionActor) log() *zap.Logger {
	if a.lg == nil {
		a.lg = a.s.hub.log.With(zap.String("agent_id", a.s.user.ID))
	}
	return a.lg
}

// push hands one of the session's own frames to the socket; a full buffer
// closes the socket.
func (a *sessionActor) push(c actor.Context, b *Frame) {
	if a.state == StateClosed {
		return
	}
	if a.s.pushOwn(b) {
		return
	}
	a.tooSlow(c)
}

// tooSlow closes a socket whose buffer is full.
func (a *sessionActor) tooSlow(c actor.Context) {
	a.log().Info("agent socket too slow; closing")
	a.shut(c, CloseTryAgainLater, ReasonTooSlow)
}

// shut moves the session to Closed: it asks the socket to close with code,
// stops counting for presence, stops its timers and the actor.
func (a *sessionActor) shut(c actor.Context, code int, reason string) {
	a.setState(StateClosed)
	a.s.transition(StateClosed)
	a.s.closing.Store(true)
	a.s.sink.Close(code, reason)
	a.s.hub.setActive(a.s, false)
	a.stopTimers()
	c.Stop(c.Self())
}

// disconnected is a close decided outside the actor (the socket is already
// asked to close).
func (a *sessionActor) disconnected(c actor.Context) {
	if a.state == StateClosed {
		return
	}
	a.setState(StateClosed)
	a.s.transition(StateClosed)
	a.s.hub.setActive(a.s, false)
	a.stopTimers()
	c.Stop(c.Self())
}

func (a *sessionActor) reply(c actor.Context, typ string, data any) {
	if b := a.frame(typ, data); b != nil {
		a.push(c, b)
	}
}

// frame marshals one of the session's own frames; nil (logged) on failure.
func (a *sessionActor) frame(typ string, data any) *Frame {
	b, err := marshalFrame(typ, data)
	if err != nil {
		// Only this package's own types get here: a bug.
		a.log().Error("reply dropped", zap.Error(err))
		return nil
	}
	return RawFrame(b)
}

func (a *sessionActor) replyError(c actor.Context, e *frameError, conversationID string) {
	a.reply(c, FrameError, errorData{Code: e.code, Message: e.message, Type: e.typ, ConversationID: conversationID})
}

// handle answers one client frame.
func (a *sessionActor) handle(c actor.Context, b []byte) {
	if a.state == StateClosed {
		return
	}
	f, ferr := parseFrame(b)
	if ferr != nil {
		a.replyError(c, ferr, "")
		return
	}
	switch f.Type {
	case FramePing:
		a.reply(c, FramePong, pongData{ServerTime: a.now()})
	case FrameAuth:
		token, ferr := parseAuth(f)
		if ferr != nil {
			a.replyError(c, ferr, "")
			return
		}
		a.auth(c, token)
	case FrameTyping, FrameRead:
		id, ferr := parseConversationRef(f)
		if ferr != nil {
			a.replyError(c, ferr, "")
			return
		}
		if a.state != StateActive {
			a.replyError(c, errExpired(f.Type), id)
			return
		}
		if f.Type == FrameRead {
			a.read(c, id)
		} else {
			a.typing(c, id)
		}
	default:
		a.replyError(c, &frameError{code: CodeValidation, message: "unknown frame type", typ: f.Type}, "")
	}
}

// errExpired answers a frame an expired session does not take.
func errExpired(typ string) *frameError {
	return &frameError{code: CodeTokenExpired, message: "session expired; send an auth frame with a fresh access token", typ: typ}
}

// runCommand runs work off the mailbox, bounded by CommandTimeout, and
// sends its result back to the actor. Session.Closed waits for it.
func (a *sessionActor) runCommand(c actor.Context, work func(ctx context.Context) any) {
	ctx, self, root := a.ctx, c.Self(), c.ActorSystem().Root
	a.s.work.Add(1)
	go func() {
		defer a.s.work.Done()
		cctx, cancel := context.WithTimeout(ctx, CommandTimeout)
		msg := work(cctx)
		cancel()
		if ctx.Err() != nil {
			return // the session stopped; nobody to tell
		}
		root.Send(self, msg)
	}()
}

func (a *sessionActor) now() time.Time { return a.clock.Now().UTC() }
