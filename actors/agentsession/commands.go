package agentsession

import (
	"context"
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// readDone is the outcome of a read command, piped back to the actor.
type readDone struct {
	conversationID string
	err            error
}

// typingDone is the outcome of a typing frame's visibility check.
type typingDone struct {
	conversationID string
	conversation   actors.Conversation
	err            error
}

// read runs MarkRead off the mailbox and pipes the outcome back.
func (a *sessionActor) read(c actor.Context, conversationID string) {
	commands := a.s.hub.opts.Commands
	if commands == nil {
		a.replyError(c, &frameError{code: CodeInternal, message: "read is not available", typ: FrameRead}, conversationID)
		return
	}
	if a.reads >= MaxReadsInFlight {
		a.replyError(c, &frameError{code: CodeRateLimited, message: "too many reads in flight", typ: FrameRead}, conversationID)
		return
	}
	a.reads++
	user := a.s.user
	a.runCommand(c, func(ctx context.Context) any {
		return readDone{conversationID: conversationID, err: commands.MarkRead(ctx, user, conversationID)}
	})
}

func (a *sessionActor) readDone(c actor.Context, m readDone) {
	a.reads--
	if m.err == nil {
		a.reply(c, FrameAck, ackData{Type: FrameRead, ConversationID: m.conversationID})
		return
	}
	a.commandFailed(c, FrameRead, m.conversationID, m.err)
}

// typing checks that the user may see the conversation (off the mailbox),
// then relays the typing frame to the others who may see it. A session
// takes a burst of TypingBurst typing frames, then one per TypingInterval.
func (a *sessionActor) typing(c actor.Context, conversationID string) {
	commands := a.s.hub.opts.Commands
	switch {
	case commands == nil:
		a.replyError(c, &frameError{code: CodeInternal, message: "typing is not available", typ: FrameTyping}, conversationID)
		return
	case a.typings >= MaxReadsInFlight || !a.takeTyping():
		a.replyError(c, &frameError{code: CodeRateLimited, message: "too many typing frames", typ: FrameTyping}, conversationID)
		return
	}
	a.typings++
	user := a.s.user
	a.runCommand(c, func(ctx context.Context) any {
		conv, err := commands.Visible(ctx, user, conversationID)
		return typingDone{conversationID: conversationID, conversation: conv, err: err}
	})
}

// takeTyping takes a token of the typing bucket.
func (a *sessionActor) takeTyping() bool {
	opts := a.s.hub.opts
	now := a.clock.Now()
	if !a.typingAt.IsZero() {
		a.typingTokens += float64(now.Sub(a.typingAt)) / float64(opts.TypingInterval)
	}
	a.typingTokens = min(a.typingTokens, float64(opts.TypingBurst))
	a.typingAt = now
	if a.typingTokens < 1 {
		return false
	}
	a.typingTokens--
	return true
}

func (a *sessionActor) typingDone(c actor.Context, m typingDone) {
	a.typings--
	if m.err != nil {
		a.commandFailed(c, FrameTyping, m.conversationID, m.err)
		return
	}
	if a.state != StateActive {
		a.replyError(c, errExpired(FrameTyping), m.conversationID)
		return
	}
	a.s.hub.relayTyping(a.s, m.conversation)
	a.reply(c, FrameAck, ackData{Type: FrameTyping, ConversationID: m.conversationID})
}

// commandFailed answers a failed read or typing frame with an error frame.
func (a *sessionActor) commandFailed(c actor.Context, typ, conversationID string, err error) {
	if errors.Is(err, context.Canceled) && a.ctx.Err() != nil {
		return
	}
	code, message := commandError(err)
	if code == CodeInternal || code == CodeDependencyUnavailable {
		a.log().Warn(typ+" frame", zap.String("conversation_id", conversationID), zap.Error(err))
	} else {
		a.log().Debug(typ+" frame refused", zap.String("conversation_id", conversationID), zap.Error(err))
	}
	a.replyError(c, &frameError{code: code, message: message, typ: typ}, conversationID)
}
