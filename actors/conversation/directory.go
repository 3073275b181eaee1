package conversation

import (
	"errors"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

// Reply is a pending answer from an actor (protoactor's *actor.Future is
// one). Read it with Await.
type Reply interface {
	Result() (any, error)
}

// Directory delivers commands to conversation actors by key, activating
// them on demand. Commands sent to one key are delivered in order. It is
// the only way callers reach conversations, so a cluster placement can
// replace the local one without changing them.
type Directory interface {
	// Send delivers cmd without waiting.
	Send(key Key, cmd Command)
	// Request delivers cmd and returns the actor's pending answer, which
	// fails after timeout. Read it with Await, or use Ask.
	Request(key Key, cmd Command, timeout time.Duration) Reply
}

// ErrNoAnswer means the Directory brought no answer back (the actor did not
// answer within the timeout, or the command could not be delivered). The
// command may or may not have been applied. It is an actors.ErrUnavailable;
// an actor's own answer never is an ErrNoAnswer.
var ErrNoAnswer = fmt.Errorf("conversation did not answer: %w", actors.ErrUnavailable)

// Ask delivers cmd to the conversation of key and waits at most timeout for
// its Result. The error is nil when the command succeeded; otherwise it is
// the actor's *Failure (errors.Is matches ErrClosed, ErrOutsideWindow,
// ErrQueueUnavailable, ErrStale, ErrInvalidKey, actors.ErrNotFound,
// actors.ErrConflict, actors.ErrDuplicate or actors.ErrUnavailable by its
// Code), returned with the rest of the Result, or ErrNoAnswer.
//
// A command refused with ErrStale (the activation it reached was replaced
// or retired, and applied nothing) is delivered again, to the key's next
// activation, up to staleRetries times within timeout.
func Ask(dir Directory, key Key, cmd Command, timeout time.Duration) (Result, error) {
	deadline := time.Now().Add(timeout)
	wait := staleBackoff
	for retry := 0; ; retry++ {
		res, err := Await(key, dir.Request(key, cmd, time.Until(deadline)))
		if err == nil || !errors.Is(err, ErrStale) || retry == staleRetries || time.Until(deadline) <= 2*wait {
			return res, err
		}
		time.Sleep(wait)
		wait *= 2
	}
}

// Retries of a command refused as stale (see Ask).
const (
	staleRetries = 4
	staleBackoff = 25 * time.Millisecond
)

// Await reads a Reply of the conversation of key as Ask does: for callers
// that put several requests in flight before reading their answers.
func Await(key Key, r Reply) (Result, error) {
	v, err := r.Result()
	if err != nil {
		return Result{}, fmt.Errorf("ask %s: %w: %w", key.Name(), ErrNoAnswer, err)
	}
	res, ok := ResultOf(v)
	if !ok {
		return Result{}, fmt.Errorf("ask %s: answer is %T, not a conversation.Result", key.Name(), v)
	}
	if res.Failure != nil {
		return res, res.Failure
	}
	return res, nil
}

// ResultOf is the Result an actor's answer stands for: a Result as it is,
// and the answer to an Inbound (the Result less its Message) as its
// Result. ok is false when answer is neither. A wire format carries an
// answer as ResultOf gives it.
func ResultOf(answer any) (res Result, ok bool) {
	switch a := answer.(type) {
	case Result:
		return a, true
	case inboundAnswer:
		return Result{Conversation: a.Conversation, Duplicate: a.Duplicate, Failure: a.Failure}, true
	}
	return Result{}, false
}
