package agentsession

import (
	"context"
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
)

// greet makes a registered session push its hello.
type greet struct{}

// clientFrame is a frame the client sent, handed over by Deliver.
type clientFrame struct{ b []byte }

// readDone is the outcome of a read command, piped back to the actor.
type readDone struct {
	conversationID string
	err            error
}

// sessionActor is one socket's agent session. Its fields are touched only
// from Receive, one message at a time.
type sessionActor struct {
	s   *Session
	log *zap.Logger
	// ctx is cancelled when the actor stops; commands derive from it.
	ctx    context.Context
	cancel context.CancelFunc
	// reads counts read commands in flight.
	reads int
	// done is set once the actor asked its socket to close; later
	// messages are ignored.
	done bool
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
	case *actor.Stopped:
		a.s.markStopped()
	case greet:
		if !a.done {
			a.reply(c, FrameHello, helloData{UserID: a.s.userID, Role: a.s.role, ServerTime: now()})
		}
	case *eventFrame:
		if b := m.frame(a.s.hub.log); b != nil {
			a.push(c, b)
		}
	case clientFrame:
		<-a.s.slots
		a.handle(c, m.b)
	case readDone:
		a.readDone(c, m)
	}
}

func (a *sessionActor) start(c actor.Context) {
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if a.s.started.Swap(true) {
		// Restarted after a panic: the client's view may be stale; make it
		// reconnect and start from a fresh hello.
		a.log.Warn("agent session restarted; closing its socket")
		a.shut(c, CloseInternalError, "internal error")
	}
}

// push hands a frame to the socket; a full buffer closes the socket.
func (a *sessionActor) push(c actor.Context, b []byte) {
	if a.done {
		return
	}
	if a.s.sink.Push(b) {
		return
	}
	a.log.Info("agent socket too slow; closing")
	a.shut(c, CloseTryAgainLater, "client too slow")
}

// shut asks the socket to close and stops the actor.
func (a *sessionActor) shut(c actor.Context, code int, reason string) {
	a.done = true
	a.s.closing.Store(true)
	a.s.sink.Close(code, reason)
	c.Stop(c.Self())
}

func (a *sessionActor) reply(c actor.Context, typ string, data any) {
	b, err := marshalFrame(typ, data)
	if err != nil {
		// Only this package's own types get here: a bug.
		a.log.Error("reply dropped", zap.Error(err))
		return
	}
	a.push(c, b)
}

func (a *sessionActor) replyError(c actor.Context, e *frameError, conversationID string) {
	a.reply(c, FrameError, errorData{Code: e.code, Message: e.message, Type: e.typ, ConversationID: conversationID})
}

// handle answers one client frame.
func (a *sessionActor) handle(c actor.Context, b []byte) {
	if a.done {
		return
	}
	f, ferr := parseFrame(b)
	if ferr != nil {
		a.replyError(c, ferr, "")
		return
	}
	switch f.Type {
	case FramePing:
		a.reply(c, FramePong, pongData{ServerTime: now()})
	case FrameTyping:
		id, ferr := parseConversationRef(f)
		if ferr != nil {
			a.replyError(c, ferr, "")
			return
		}
		a.reply(c, FrameAck, ackData{Type: FrameTyping, ConversationID: id})
	case FrameRead:
		id, ferr := parseConversationRef(f)
		if ferr != nil {
			a.replyError(c, ferr, "")
			return
		}
		a.read(c, id)
	default:
		a.replyError(c, &frameError{code: CodeValidation, message: "unknown frame type", typ: f.Type}, "")
	}
}

// read runs MarkRead off the mailbox and pipes the outcome back.
func (a *sessionActor) read(c actor.Context, conversationID string) {
	commands := a.s.hub.commands
	if commands == nil {
		a.replyError(c, &frameError{code: CodeInternal, message: "read is not available", typ: FrameRead}, conversationID)
		return
	}
	if a.reads >= MaxReadsInFlight {
		a.replyError(c, &frameError{code: CodeRateLimited, message: "too many reads in flight", typ: FrameRead}, conversationID)
		return
	}
	a.reads++
	ctx, userID, self, root := a.ctx, a.s.userID, c.Self(), c.ActorSystem().Root
	a.s.work.Add(1)
	go func() {
		defer a.s.work.Done()
		cctx, cancel := context.WithTimeout(ctx, CommandTimeout)
		err := commands.MarkRead(cctx, userID, conversationID)
		cancel()
		if ctx.Err() != nil {
			return // the session stopped; nobody to tell
		}
		root.Send(self, readDone{conversationID: conversationID, err: err})
	}()
}

func (a *sessionActor) readDone(c actor.Context, m readDone) {
	a.reads--
	if m.err == nil {
		a.reply(c, FrameAck, ackData{Type: FrameRead, ConversationID: m.conversationID})
		return
	}
	if errors.Is(m.err, context.Canceled) && a.ctx.Err() != nil {
		return
	}
	code, message := commandError(m.err)
	if code == CodeInternal || code == CodeDependencyUnavailable {
		a.log.Warn("mark read", zap.String("conversation_id", m.conversationID), zap.Error(m.err))
	} else {
		a.log.Debug("mark read refused", zap.String("conversation_id", m.conversationID), zap.Error(m.err))
	}
	a.replyError(c, &frameError{code: code, message: message, typ: FrameRead}, m.conversationID)
}

func now() time.Time { return time.Now().UTC() }
