package agentsession

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// Frame types the server sends besides the events of actors.Event*.
const (
	FrameHello = "hello"
	FramePong  = "pong"
	FrameAck   = "ack"
	FrameError = "error"
)

// Frame types a client may send.
const (
	FramePing   = "ping"
	FrameRead   = "read"
	FrameTyping = "typing"
)

// Error codes of error frames; the same vocabulary as the HTTP contract.
const (
	CodeInvalidJSON           = "INVALID_JSON"
	CodeValidation            = "VALIDATION_ERROR"
	CodeNotFound              = "NOT_FOUND"
	CodeForbidden             = "FORBIDDEN"
	CodeConflict              = "CONFLICT"
	CodeConversationClosed    = "CONVERSATION_CLOSED"
	CodeRateLimited           = "RATE_LIMITED"
	CodeDependencyUnavailable = "DEPENDENCY_UNAVAILABLE"
	CodeInternal              = "INTERNAL_ERROR"
)

// WebSocket close codes a session asks its Sink for.
const (
	// CloseGoingAway: the server is shutting down.
	CloseGoingAway = 1001
	// ClosePolicyViolation: logout or revoked credentials (DisconnectUser).
	ClosePolicyViolation = 1008
	// CloseTooBig: a client frame was over MaxFrameSize.
	CloseTooBig = 1009
	// CloseInternalError: the session hit a bug; the client should reconnect.
	CloseInternalError = 1011
	// CloseTryAgainLater: the client could not keep up with its events.
	CloseTryAgainLater = 1013
)

// Limits of one session.
const (
	// MaxFrameSize is the largest client frame accepted, in bytes.
	MaxFrameSize = 64 << 10
	// MaxPendingFrames is how many client frames may wait in a session
	// before Deliver blocks.
	MaxPendingFrames = 64
	// MaxReadsInFlight is how many read commands a session runs at once.
	MaxReadsInFlight = 4
	// CommandTimeout bounds one command (MarkRead).
	CommandTimeout = 5 * time.Second
	// maxIDLength bounds ids sent by clients.
	maxIDLength = 128
)

// ErrForbidden is what a Commands implementation wraps when the user may
// not act on the conversation; the client gets a FORBIDDEN error frame.
var ErrForbidden = errors.New("forbidden")

// outFrame is every frame the server sends.
type outFrame struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

type helloData struct {
	UserID     string      `json:"userId"`
	Role       actors.Role `json:"role"`
	ServerTime time.Time   `json:"serverTime"`
}

type pongData struct {
	ServerTime time.Time `json:"serverTime"`
}

type ackData struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversationId,omitempty"`
}

type errorData struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Type and ConversationID name the client frame answered, when known.
	Type           string `json:"type,omitempty"`
	ConversationID string `json:"conversationId,omitempty"`
}

// inFrame is a client frame.
type inFrame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// conversationRef is the data of read and typing frames.
type conversationRef struct {
	ConversationID string `json:"conversationId"`
}

// frameError is a client frame the session rejects with an error frame.
type frameError struct {
	code, message, typ string
}

func (e *frameError) Error() string { return e.code + ": " + e.message }

// parseFrame decodes a client frame strictly: unknown fields are rejected,
// as in request bodies.
func parseFrame(b []byte) (inFrame, *frameError) {
	var f inFrame
	if !json.Valid(b) {
		return f, &frameError{code: CodeInvalidJSON, message: "frame is not valid JSON"}
	}
	if err := strictDecode(b, &f); err != nil {
		return f, &frameError{code: CodeValidation, message: "frame must be an object {\"type\":string,\"data\":object}"}
	}
	if f.Type == "" {
		return f, &frameError{code: CodeValidation, message: "type is required"}
	}
	return f, nil
}

// parseConversationRef decodes the data of a read or typing frame.
func parseConversationRef(f inFrame) (string, *frameError) {
	var ref conversationRef
	if len(f.Data) == 0 || string(f.Data) == "null" {
		return "", &frameError{code: CodeValidation, message: "data.conversationId is required", typ: f.Type}
	}
	if err := strictDecode(f.Data, &ref); err != nil {
		return "", &frameError{code: CodeValidation, message: "data must be {\"conversationId\":string}", typ: f.Type}
	}
	switch {
	case ref.ConversationID == "":
		return "", &frameError{code: CodeValidation, message: "data.conversationId is required", typ: f.Type}
	case len(ref.ConversationID) > maxIDLength:
		return "", &frameError{code: CodeValidation, message: "data.conversationId is too long", typ: f.Type}
	}
	return ref.ConversationID, nil
}

func strictDecode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// commandError maps a command's error to a stable code and a message that
// leaks no internals.
func commandError(err error) (code, message string) {
	switch {
	case errors.Is(err, actors.ErrNotFound):
		return CodeNotFound, "conversation not found"
	case errors.Is(err, ErrForbidden):
		return CodeForbidden, "not allowed on this conversation"
	case errors.Is(err, conversation.ErrClosed):
		return CodeConversationClosed, "conversation is closed"
	case errors.Is(err, actors.ErrConflict), errors.Is(err, conversation.ErrStale):
		return CodeConflict, "conversation changed; try again"
	case errors.Is(err, actors.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return CodeDependencyUnavailable, "try again later"
	default:
		return CodeInternal, "internal error"
	}
}

// marshalFrame renders a server frame. Only values of this package and
// events' Data reach it.
func marshalFrame(typ string, data any) ([]byte, error) {
	b, err := json.Marshal(outFrame{Type: typ, Data: data})
	if err != nil {
		return nil, fmt.Errorf("marshal %s frame: %w", typ, err)
	}
	return b, nil
}
