package mediabytes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wacc/engine/actors"
)

// openRetries are the pauses before Open tries again to find bytes that
// are missing: about 1.6 s in all.
var openRetries = []time.Duration{10 * time.Millisecond, 40 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond, time.Second}

// Open opens the bytes of a medium whose record exists. When they are
// missing it tries again for about a second and a half before returning
// actors.ErrNotFound: a Release racing the upload of the same bytes hides
// them for the instant between its two counts and then puts them back (see
// the package documentation), and a download in that instant must not fail.
// Other errors are returned at once.
func Open(ctx context.Context, blobs actors.MediaBlobs, sha string) (actors.MediaBlob, error) {
	for i := 0; ; i++ {
		b, err := blobs.Open(ctx, sha)
		if err == nil || !errors.Is(err, actors.ErrNotFound) || i == len(openRetries) {
			return b, err
		}
		t := time.NewTimer(openRetries[i])
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("open media bytes %s: %w", sha, ctx.Err())
		case <-t.C:
		}
	}
}
