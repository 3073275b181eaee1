package conversation

import (
	"context"
	"errors"

	"github.com/wacc/engine/actors"
)

// Errors a command can answer with. Callers match them with errors.Is on
// the error Ask returns.
var (
	// ErrClosed: the conversation is closed and takes no changes. Close,
	// Assign and MarkRead answer it whenever their ConversationID is not the
	// key's open conversation: callers route a command by a conversation
	// they found in the store, so an id that is not the open one names a
	// conversation closed since. An unknown id never reaches the actor; the
	// store's lookup answers actors.ErrNotFound.
	ErrClosed = errors.New("conversation closed")
	// ErrOutsideWindow: a free-form send after the service window.
	ErrOutsideWindow = errors.New("outside the customer-service window")
	// ErrQueueUnavailable: the outbound queue did not take the message;
	// it is recorded as failed and not sent. It is also an
	// actors.ErrUnavailable.
	ErrQueueUnavailable = errors.New("outbound queue unavailable")
	// ErrStale: another activation changed the conversation; this one
	// stopped. The caller may retry; the next message re-activates it.
	ErrStale = errors.New("conversation changed by another activation")
	// ErrParked: the conversation's actor exhausted its restart budget and
	// the conversation is parked for a while (see supervisors.ParkFor); the
	// command was not applied. It is also an actors.ErrUnavailable. Callers
	// that keep work (the inbox) wait for the park to end instead of
	// counting it as a failed attempt.
	ErrParked = errors.New("conversation parked after repeated failures")
)

// Code names the kind of a command's failure. It is what crosses a wire
// (with a message for logs) and what errors.Is matches on.
type Code string

// Failure codes. Each matches one sentinel (see Failure.Is).
const (
	CodeClosed           Code = "closed"            // ErrClosed
	CodeOutsideWindow    Code = "outside_window"    // ErrOutsideWindow
	CodeQueueUnavailable Code = "queue_unavailable" // ErrQueueUnavailable and actors.ErrUnavailable
	CodeStale            Code = "stale"             // ErrStale
	CodeFenced           Code = "fenced"            // actors.ErrFenced and ErrStale
	CodeParked           Code = "parked"            // ErrParked and actors.ErrUnavailable
	CodeInvalidKey       Code = "invalid_key"       // ErrInvalidKey
	CodeNotFound         Code = "not_found"         // actors.ErrNotFound
	CodeConflict         Code = "conflict"          // actors.ErrConflict
	CodeDuplicate        Code = "duplicate"         // actors.ErrDuplicate
	CodeUnavailable      Code = "unavailable"       // actors.ErrUnavailable (a store down or timing out)
	CodeInternal         Code = "internal"          // anything else: a bug or an unclassified error
)

// Failure is why a command failed, as the actor answered it: plain data
// that crosses a wire. It is also the error Ask returns for it:
// errors.Is(f, ErrClosed) holds for CodeClosed, and so on (see Code).
type Failure struct {
	Code Code `json:"code"`
	// Message is the actor's error text, for logs; never shown to clients.
	Message string `json:"message"`
}

// Error returns the actor's error text.
func (f *Failure) Error() string { return f.Message }

// Is reports whether target is the sentinel of f's code.
func (f *Failure) Is(target error) bool {
	switch f.Code {
	case CodeClosed:
		return target == ErrClosed
	case CodeOutsideWindow:
		return target == ErrOutsideWindow
	case CodeQueueUnavailable:
		return target == ErrQueueUnavailable || target == actors.ErrUnavailable
	case CodeStale:
		return target == ErrStale
	case CodeFenced:
		return target == actors.ErrFenced || target == ErrStale
	case CodeParked:
		return target == ErrParked || target == actors.ErrUnavailable
	case CodeInvalidKey:
		return target == ErrInvalidKey
	case CodeNotFound:
		return target == actors.ErrNotFound
	case CodeConflict:
		return target == actors.ErrConflict
	case CodeDuplicate:
		return target == actors.ErrDuplicate
	case CodeUnavailable:
		return target == actors.ErrUnavailable
	}
	return false
}

// Failed is the Result of a command that failed with err (nil: success).
func Failed(err error) Result { return Result{Failure: failureOf(err)} }

// failureOf classifies err into a Failure, nil for nil.
func failureOf(err error) *Failure {
	if err == nil {
		return nil
	}
	if f, ok := errors.AsType[*Failure](err); ok {
		return &Failure{Code: f.Code, Message: err.Error()}
	}
	return &Failure{Code: codeOf(err), Message: err.Error()}
}

// codeOf is the code of err; the more specific sentinels are checked first
// (a queue refusal wraps the queue's own unavailable error).
func codeOf(err error) Code {
	switch {
	case errors.Is(err, ErrClosed):
		return CodeClosed
	case errors.Is(err, ErrOutsideWindow):
		return CodeOutsideWindow
	case errors.Is(err, ErrQueueUnavailable):
		return CodeQueueUnavailable
	case errors.Is(err, actors.ErrFenced):
		return CodeFenced
	case errors.Is(err, ErrStale):
		return CodeStale
	case errors.Is(err, ErrParked):
		return CodeParked
	case errors.Is(err, ErrInvalidKey):
		return CodeInvalidKey
	case errors.Is(err, actors.ErrNotFound):
		return CodeNotFound
	case errors.Is(err, actors.ErrConflict):
		return CodeConflict
	case errors.Is(err, actors.ErrDuplicate):
		return CodeDuplicate
	case errors.Is(err, actors.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return CodeUnavailable
	}
	return CodeInternal
}
