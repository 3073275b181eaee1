package mediabytes

import (
	"context"
	"errors"

	"github.com/wacc/engine/actors"
)

// Blobs is a byte store the reference-safe functions of this package can
// use: actors.MediaBlobs, plus setting a blob aside in one atomic step so a
// deletion can be taken back. The filesystem store (persistence/fsblobs)
// and the GridFS store (persistence/mongostore) implement it.
type Blobs interface {
	actors.MediaBlobs
	// Hide moves the bytes of sha out of sight in one atomic step: Open
	// and Put no longer find them, so a Put after Hide writes them anew.
	// It returns the key of the hidden bytes for Unhide or Purge;
	// actors.ErrNotFound when sha is not stored.
	Hide(ctx context.Context, sha string) (hidden string, err error)
	// Unhide puts hidden bytes back under their sha. When sha was stored
	// again meanwhile, the hidden copy is dropped instead (the bytes are
	// the same). A hidden key that is gone is a no-op.
	Unhide(ctx context.Context, hidden string) error
	// Purge removes hidden bytes for good; a key that is gone is a no-op.
	Purge(ctx context.Context, hidden string) error
}

// Errors of the byte stores, wrapped with the operation and the digest.
var (
	// ErrMismatch means the bytes given to Put are not the declared size
	// or do not have the declared SHA-256. Nothing was kept.
	ErrMismatch = errors.New("bytes do not match the declared size or sha256")
	// ErrInvalidSHA256 means a digest is not 64 lower-case hex digits; a
	// store refuses it before touching anything, so no key can name a
	// path or a query of the caller's choosing.
	ErrInvalidSHA256 = errors.New("sha256 must be 64 lower-case hex digits")
)

// ValidSHA256 reports whether sha is 64 lower-case hex digits.
func ValidSHA256(sha string) bool {
	if len(sha) != 64 {
		return false
	}
	for i := range len(sha) {
		c := sha[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
