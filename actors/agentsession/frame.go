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
	// FrameSessionExpired tells the client its access token expired: events
	// are withheld until it sends an auth frame with a fresh token, which
	// it must do before data.deadline or the socket closes with 4001.
	FrameSessionExpired = "session.expired"
	// FrameSessionResync follows the ack of an auth frame that brought an
	// expired session back: events were withheld since data.since, so the
	// client reloads what it shows through the API.
	FrameSessionResync = "session.resync"
)

// Frame types a client may send. FrameTyping is also what the server
// relays to the other agents who may see the conversation.
const (
	FramePing   = "ping"
	FrameRead   = "read"
	FrameTyping = "typing"
	// FrameAuth carries a fresh access token of the same user
	// ({"accessToken":"..."}): it extends an active session and brings an
	// expired one back.
	FrameAuth = "auth"
)

// Error codes of error frames; the same vocabulary as the HTTP contract.
const (
	CodeInvalidJSON           = "INVALID_JSON"
	CodeValidation            = "VALIDATION_ERROR"
	CodeUnauthorized          = "UNAUTHORIZED"
	CodeTokenExpired          = "TOKEN_EXPIRED"
	CodeTokenRevoked          = "TOKEN_REVOKED"
	CodeNotFound              = "NOT_FOUND"
	CodeForbidden             = "FORBIDDEN"
	CodeConflict              = "CONFLICT"
	CodeConversationClosed    = "CONVERSATION_CLOSED"
	CodeRateLimited           = "RATE_LIMITED"
	CodeDependencyUnavailable = "DEPENDENCY_UNAVAILABLE"
	CodeInternal              = "INTERNAL_ERROR"
)

// WebSocket close codes a session asks its Sink for. 4000-4999 are the
// application's own (RFC 6455, 7.4.2).
const (
	// CloseGoingAway: the server is shutting down.
	CloseGoingAway = 1001
	// ClosePolicyViolation: logout, revoked credentials or a role change
	// (DisconnectUser).
	ClosePolicyViolation = 1008
	// CloseTooBig: a client frame was over MaxFrameSize.
	CloseTooBig = 1009
	// CloseInternalError: the session hit a bug; the client should reconnect.
	CloseInternalError = 1011
	// CloseTryAgainLater: the client could not keep up with its events.
	CloseTryAgainLater = 1013
	// CloseSessionExpired: the access token expired and no fresh one came
	// within the grace period; the client refreshes and reconnects.
	CloseSessionExpired = 4001
	// CloseIdleTimeout: nothing came from the client (no frame, no pong)
	// for the idle timeout.
	CloseIdleTimeout = 4002
)

// Close reasons sent with the close codes.
const (
	ReasonSessionExpired = "session expired"
	ReasonIdleTimeout    = "idle timeout"
	ReasonInternal       = "internal error"
	ReasonTooSlow        = "client too slow"
	ReasonTooBig         = "frame too large"
	// ReasonEventsLost: this node missed events its sockets should have
	// had (the cluster's event stream trimmed them before it read them);
	// the client reconnects with its cursor.
	ReasonEventsLost = "events lost; reconnect"
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
	// CommandTimeout bounds one command (MarkRead, a typing frame's
	// visibility check, an auth frame's token check).
	CommandTimeout = 5 * time.Second
	// maxIDLength bounds ids sent by clients.
	maxIDLength = 128
	// maxTokenLength bounds the token of an auth frame.
	maxTokenLength = 4096
)

// Defaults of Options.
const (
	// DefaultGrace is how long an expired session waits for a fresh token.
	DefaultGrace = 60 * time.Second
	// DefaultIdleTimeout is how long a session waits for anything from its
	// client (a frame or a pong: the socket pings every 30 s).
	DefaultIdleTimeout = 75 * time.Second
	// DefaultTypingBurst and DefaultTypingInterval bound typing frames per
	// session: a burst of DefaultTypingBurst, then one per interval.
	DefaultTypingBurst    = 5
	DefaultTypingInterval = time.Second
)

// ErrForbidden is what a Commands implementation wraps when the user may
// not act on the conversation; the client gets a FORBIDDEN error frame.
var ErrForbidden = errors.New("forbidden")

// outFrame is every frame the server sends.
type outFrame struct {
	Type string `json:"type"`
	Data any    `json:"data"`
	// Cursor is the event's position in the cluster's event stream (only
	// events delivered through it have one): a socket resumes after it.
	Cursor string `json:"cursor,omitempty"`
}

type helloData struct {
	UserID     string      `json:"userId"`
	Role       actors.Role `json:"role"`
	ServerTime time.Time   `json:"serverTime"`
	// ExpiresAt is when the session's access token expires.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Cursor is where the socket's events start: a client that got no
	// event yet resumes after it.
	Cursor string `json:"cursor,omitempty"`
}

type pongData struct {
	ServerTime time.Time `json:"serverTime"`
}

type ackData struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversationId,omitempty"`
	// ExpiresAt acknowledges an auth frame: the session's new expiry.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

type expiredData struct {
	ExpiredAt time.Time `json:"expiredAt"`
	// Deadline is when the socket closes unless a fresh token comes.
	Deadline time.Time `json:"deadline"`
}

type resyncData struct {
	// Since is when events started being withheld.
	Since time.Time `json:"since"`
	// Withheld counts the events the session did not push.
	Withheld int `json:"withheld"`
	// Reason says why a resume could not replay what was missed
	// (Resync*); empty after an expiry.
	Reason string `json:"reason,omitempty"`
}

// typingData is the relayed typing frame's data.
type typingData struct {
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
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

// authRef is the data of an auth frame.
type authRef struct {
	AccessToken string `json:"accessToken"`
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

// parseAuth decodes the data of an auth frame.
func parseAuth(f inFrame) (string, *frameError) {
	var ref authRef
	if len(f.Data) == 0 || string(f.Data) == "null" {
		return "", &frameError{code: CodeValidation, message: "data.accessToken is required", typ: f.Type}
	}
	if err := strictDecode(f.Data, &ref); err != nil {
		return "", &frameError{code: CodeValidation, message: "data must be {\"accessToken\":string}", typ: f.Type}
	}
	switch {
	case ref.AccessToken == "":
		return "", &frameError{code: CodeValidation, message: "data.accessToken is required", typ: f.Type}
	case len(ref.AccessToken) > maxTokenLength:
		return "", &frameError{code: CodeValidation, message: "data.accessToken is too long", typ: f.Type}
	}
	return ref.AccessToken, nil
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
	case errors.Is(err, actors.ErrTokenExpired):
		return CodeTokenExpired, "access token has expired"
	case errors.Is(err, actors.ErrTokenRevoked):
		return CodeTokenRevoked, "access token has been revoked"
	case errors.Is(err, actors.ErrTokenInvalid):
		return CodeUnauthorized, "access token is invalid"
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
	return marshalEvent(typ, data, "")
}

// marshalEvent renders an event's frame with its cursor.
func marshalEvent(typ string, data any, cursor string) ([]byte, error) {
	b, err := json.Marshal(outFrame{Type: typ, Data: data, Cursor: cursor})
	if err != nil {
		return nil, fmt.Errorf("marshal %s frame: %w", typ, err)
	}
	return b, nil
}
