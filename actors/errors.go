package actors

import "errors"

// Sentinel errors returned by every store implementation. Wrap them with
// context using %w; callers match them with errors.Is.
var (
	// ErrNotFound means the record asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate means a unique key (email, phone, id) is already taken.
	ErrDuplicate = errors.New("duplicate")
	// ErrConflict means a conditional write lost: the record changed since it
	// was read (version or token hash mismatch), or was revoked.
	ErrConflict = errors.New("conflict")
	// ErrBadCursor means a paging cursor is not one the store handed out.
	ErrBadCursor = errors.New("invalid cursor")
	// ErrUnavailable means a backing service could not be reached; the edge
	// answers 503 DEPENDENCY_UNAVAILABLE.
	ErrUnavailable = errors.New("dependency unavailable")
	// ErrFenced means a write of a conversation key was refused because a
	// newer activation took the key's epoch (see EpochStore): the writer is
	// stale and nothing was changed.
	ErrFenced = errors.New("fenced: a newer activation holds the conversation's epoch")
)

// Refusals of a credential (an access token), shared by the HTTP edge and
// the agent sessions so that both tell a client the same reason.
var (
	// ErrTokenInvalid means a token is malformed, forged, of another issuer
	// or names no user; the holder must log in.
	ErrTokenInvalid = errors.New("token invalid")
	// ErrTokenExpired means a genuine token is past its expiry; the holder
	// should refresh it.
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenRevoked means a token, or the login it belongs to, was revoked
	// (logout, refresh-token reuse); the holder must log in again.
	ErrTokenRevoked = errors.New("token revoked")
)

// ErrCursorExpired means a resume cursor points before the oldest event
// still kept (or at none ever handed out): what was missed cannot be
// replayed, and the client reloads through the API instead.
var ErrCursorExpired = errors.New("cursor expired")
