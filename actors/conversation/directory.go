package conversation

import "time"

// Reply is a pending answer from an actor.
type Reply interface {
	Result() (any, error)
}

// Directory delivers messages to conversation actors by key, activating
// them on demand. Messages sent to one key are delivered in order. It is the
// only way callers reach conversations, so a cluster placement can replace
// the local one without changing them.
type Directory interface {
	// Send delivers msg without waiting.
	Send(key Key, msg any)
	// Request delivers msg and returns the actor's answer, or an error
	// after timeout.
	Request(key Key, msg any, timeout time.Duration) Reply
}
