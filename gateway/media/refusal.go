package media

import (
	"errors"
	"fmt"
	"hash"
)

// The reasons an upload is refused; a *Refusal wraps one of them.
var (
	// ErrUnsupported: the bytes are not a type WhatsApp accepts, disagree
	// with the name or declared type, fail the structural checks, or are a
	// polyglot (415 UNSUPPORTED_MEDIA_TYPE at the edge).
	ErrUnsupported = errors.New("unsupported media type")
	// ErrTooLarge: the file is over its type's limit or MaxBytes (413
	// PAYLOAD_TOO_LARGE).
	ErrTooLarge = errors.New("media too large")
	// ErrEmpty: the file has no bytes (400 VALIDATION_ERROR).
	ErrEmpty = errors.New("empty file")
	// ErrBodyRead: the request body broke off or failed while a file was
	// read (the client went away, or the body's own limit was hit); the
	// cause is wrapped too (e.g. *http.MaxBytesError).
	ErrBodyRead = errors.New("read upload body")
)

// Refusal is an upload refused for what it is. Message is written for the
// client: it names the detected type and, for size refusals, the limit.
type Refusal struct {
	// Reason is ErrUnsupported, ErrTooLarge or ErrEmpty.
	Reason error
	// Detected is the type the bytes were detected as ("" when none).
	Detected string
	// Limit is the size limit that applied (ErrTooLarge), in bytes.
	Limit   int64
	Message string

	// read digests the bytes of the file read before the refusal;
	// ReadFiles finishes it over the rest of the part (File.SHA256).
	read hash.Hash
}

func (r *Refusal) Error() string { return r.Message }

// Unwrap makes errors.Is(err, ErrUnsupported) and friends work.
func (r *Refusal) Unwrap() error { return r.Reason }

func unsupported(detected, format string, args ...any) *Refusal {
	return &Refusal{Reason: ErrUnsupported, Detected: detected, Message: fmt.Sprintf(format, args...)}
}

func tooLarge(detected string, limit int64, format string, args ...any) *Refusal {
	return &Refusal{Reason: ErrTooLarge, Detected: detected, Limit: limit, Message: fmt.Sprintf(format, args...)}
}
