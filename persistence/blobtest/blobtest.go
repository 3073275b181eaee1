package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
)

// Harness describes the store under test.
type Harness struct {
	// Open returns a fresh, empty store and registers its own cleanup.
	Open func(t *testing.T) mediabytes.Blobs
	// ChunkSize is the unit the store keeps bytes in (a GridFS chunk), so
	// the suite reads and seeks across its boundaries; 0 when the store has
	// none (the suite then uses 1024).
	ChunkSize int
	// Residue lists what s holds besides complete blobs (temporary files,
	// chunks of no file, hidden bytes): nothing may be left after a Put
	// failed or a hidden blob was purged.
	Residue func(t *testing.T, s mediabytes.Blobs) []string
}

// blobCase is one behaviour checked against a fresh store.
type blobCase struct {
	name  string
	check func(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs)
}

// Run runs the contract suite of mediabytes.Blobs (and so of
// actors.MediaBlobs) against the stores h opens.
func Run(t *testing.T, h Harness) {
	if h.ChunkSize == 0 {
		h.ChunkSize = 1024
	}
	cases := []blobCase{
		{name: "put then open reads the bytes back", check: checkRoundTrip},
		{name: "an empty blob", check: checkEmpty},
		{name: "seek and read across chunk boundaries", check: checkSeek},
		{name: "wrong size or digest keeps nothing", check: checkMismatch},
		{name: "a reader cut mid-stream keeps nothing", check: checkCutReader},
		{name: "a cancelled context keeps nothing", check: checkCancelled},
		{name: "putting stored bytes again reads nothing and succeeds", check: checkIdempotent},
		{name: "delete then open is not found", check: checkDelete},
		{name: "invalid digests are refused before anything is touched", check: checkInvalidSHA},
		{name: "concurrent puts of one digest store it once", check: checkConcurrentPuts},
		{name: "concurrent readers seek independently", check: checkConcurrentReaders},
		{name: "hide, unhide and purge", check: checkHide},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := h.Open(t)
			require.NotNil(t, s, "open returned a nil store")
			tc.check(t, t.Context(), h, s)
		})
	}
}

// sample is n pseudo-random bytes (seeded, so a failure repeats) and their
// digest.
func sample(seed uint64, n int) ([]byte, string) {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b, Digest(b)
}

// Digest is the SHA-256 of b in lower-case hex, the key of b in a store.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// readAll opens sha and reads it whole.
func readAll(t *testing.T, ctx context.Context, s actors.MediaBlobs, sha string) []byte {
	t.Helper()
	b, err := s.Open(ctx, sha)
	require.NoError(t, err, "open %s", sha)
	defer func() { require.NoError(t, b.Close()) }()
	got, err := io.ReadAll(b)
	require.NoError(t, err, "read %s", sha)
	assert.Equal(t, int64(len(got)), b.Size(), "Size of %s", sha)
	return got
}

func requireAbsent(t *testing.T, ctx context.Context, s actors.MediaBlobs, sha string) {
	t.Helper()
	b, err := s.Open(ctx, sha)
	if err == nil {
		_ = b.Close()
	}
	require.ErrorIs(t, err, actors.ErrNotFound, "open %s", sha)
}

func requireNoResidue(t *testing.T, h Harness, s mediabytes.Blobs) {
	t.Helper()
	if h.Residue != nil {
		require.Empty(t, h.Residue(t, s), "residue left in the store")
	}
}

func put(t *testing.T, ctx context.Context, s actors.MediaBlobs, b []byte) string {
	t.Helper()
	sha := Digest(b)
	require.NoError(t, s.Put(ctx, sha, int64(len(b)), bytes.NewReader(b)), "put %s", sha)
	return sha
}

func checkRoundTrip(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	for i, n := range []int{1, h.ChunkSize - 1, h.ChunkSize, h.ChunkSize + 1, 3*h.ChunkSize + 17} {
		b, sha := sample(uint64(i+1), n)
		require.NoError(t, s.Put(ctx, sha, int64(n), iotest.OneByteReader(bytes.NewReader(b))), "put %d bytes one at a time", n)
		assert.Equal(t, b, readAll(t, ctx, s, sha), "%d bytes", n)
		assert.Equal(t, b, readAll(t, ctx, s, sha), "%d bytes, opened again", n)
	}
	requireNoResidue(t, h, s)
}

func checkEmpty(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	sha := put(t, ctx, s, nil)
	b, err := s.Open(ctx, sha)
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, int64(0), b.Size())
	n, err := b.Read(make([]byte, 8))
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)
	end, err := b.Seek(0, io.SeekEnd)
	require.NoError(t, err)
	assert.Equal(t, int64(0), end)
}

func checkSeek(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	c := int64(h.ChunkSize)
	data, sha := sample(7, int(3*c+17))
	size := int64(len(data))
	require.NoError(t, s.Put(ctx, sha, size, bytes.NewReader(data)))

	b, err := s.Open(ctx, sha)
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, size, b.Size())

	// Each step seeks, then reads n bytes (fewer at the end).
	steps := []struct {
		name   string
		offset int64
		whence int
		want   int64 // position after the seek
		n      int
	}{
		{name: "to the end, as http.ServeContent does for the size", offset: 0, whence: io.SeekEnd, want: size, n: 10},
		{name: "back to the start", offset: 0, whence: io.SeekStart, want: 0, n: 5},
		{name: "forward within the chunk", offset: 10, whence: io.SeekCurrent, want: 15, n: 20},
		{name: "just before a boundary, reading across it", offset: c - 3, whence: io.SeekStart, want: c - 3, n: 7},
		{name: "exactly on a boundary", offset: 2 * c, whence: io.SeekStart, want: 2 * c, n: int(c)},
		{name: "backwards across a chunk", offset: -c - 5, whence: io.SeekCurrent, want: 2*c - 5, n: 9},
		{name: "across two boundaries", offset: c - 1, whence: io.SeekStart, want: c - 1, n: int(2*c + 2)},
		{name: "the last byte", offset: -1, whence: io.SeekEnd, want: size - 1, n: 4},
		{name: "into the last, short chunk", offset: -20, whence: io.SeekEnd, want: size - 20, n: 40},
		{name: "past the end", offset: 5, whence: io.SeekEnd, want: size + 5, n: 3},
		{name: "the first byte again", offset: 0, whence: io.SeekStart, want: 0, n: 1},
	}
	for _, st := range steps {
		pos, err := b.Seek(st.offset, st.whence)
		require.NoError(t, err, st.name)
		require.Equal(t, st.want, pos, st.name)
		got, err := io.ReadAll(io.LimitReader(b, int64(st.n)))
		require.NoError(t, err, st.name)
		from, to := min(pos, size), min(pos+int64(st.n), size)
		require.Equal(t, data[from:to], got, st.name)
	}
	_, err = b.Seek(-1, io.SeekStart)
	assert.Error(t, err, "a negative position")
	_, err = b.Seek(0, 42)
	assert.Error(t, err, "an unknown whence")

	// A byte range as http.ServeContent serves one.
	sec := io.NewSectionReader(readerAt{b}, c-100, 2*c)
	got, err := io.ReadAll(sec)
	require.NoError(t, err)
	assert.Equal(t, data[c-100:3*c-100], got, "a range spanning three chunks")

	// The standard reader checks: reads, seeks and their interplay.
	fresh, err := s.Open(ctx, sha)
	require.NoError(t, err)
	defer fresh.Close()
	require.NoError(t, iotest.TestReader(fresh, data))
}

// readerAt serves ReadAt by seeking a MediaBlob (one reader at a time).
type readerAt struct{ b actors.MediaBlob }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := r.b.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(r.b, p)
}

func checkMismatch(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	data, sha := sample(11, 2*h.ChunkSize+5)
	other, _ := sample(12, len(data))
	tests := []struct {
		name string
		size int64
		body []byte
	}{
		{name: "fewer bytes than declared", size: int64(len(data)), body: data[:len(data)-1]},
		{name: "more bytes than declared", size: int64(len(data)) - 1, body: data},
		{name: "many more bytes than declared", size: int64(h.ChunkSize), body: data},
		{name: "the declared size, other bytes", size: int64(len(data)), body: other},
		{name: "a negative size", size: -1, body: data},
		{name: "nothing at all", size: int64(len(data)), body: nil},
	}
	for _, tt := range tests {
		err := s.Put(ctx, sha, tt.size, bytes.NewReader(tt.body))
		require.ErrorIs(t, err, mediabytes.ErrMismatch, tt.name)
		requireAbsent(t, ctx, s, sha)
		requireNoResidue(t, h, s)
	}
	require.NoError(t, s.Put(ctx, sha, int64(len(data)), bytes.NewReader(data)), "the right bytes afterwards")
	assert.Equal(t, data, readAll(t, ctx, s, sha))
}

// cutReader yields the first n bytes of its data, then io.ErrUnexpectedEOF,
// like a request body whose client went away.
type cutReader struct {
	data []byte
	n    int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := copy(p, c.data[:min(len(c.data), c.n)])
	c.data, c.n = c.data[k:], c.n-k
	return k, nil
}

func checkCutReader(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	data, sha := sample(13, 3*h.ChunkSize)
	for _, cut := range []int{0, 1, h.ChunkSize, h.ChunkSize + 1, len(data) - 1} {
		err := s.Put(ctx, sha, int64(len(data)), &cutReader{data: data, n: cut})
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut after %d bytes", cut)
		requireAbsent(t, ctx, s, sha)
		requireNoResidue(t, h, s)
	}
}

// cancelReader cancels its context after n bytes.
type cancelReader struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	k, err := c.r.Read(p[:min(len(p), max(c.n, 1))])
	c.n -= k
	return k, err
}

func checkCancelled(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	data, sha := sample(14, 4*h.ChunkSize)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err := s.Put(cctx, sha, int64(len(data)), &cancelReader{r: bytes.NewReader(data), n: h.ChunkSize + 3, cancel: cancel})
	require.Error(t, err)
	requireAbsent(t, ctx, s, sha)
	requireNoResidue(t, h, s)
}

// failReader fails the test if it is read.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("Put read bytes that are stored already")
	return 0, errors.New("must not be read")
}

func checkIdempotent(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	data, sha := sample(15, h.ChunkSize+9)
	require.NoError(t, s.Put(ctx, sha, int64(len(data)), bytes.NewReader(data)))
	require.NoError(t, s.Put(ctx, sha, int64(len(data)), failReader{t}))
	require.NoError(t, s.Put(ctx, sha, int64(len(data)), bytes.NewReader(data)))
	assert.Equal(t, data, readAll(t, ctx, s, sha))
	requireNoResidue(t, h, s)
}

func checkDelete(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	a, shaA := sample(16, 2*h.ChunkSize)
	b, shaB := sample(17, 10)
	require.NoError(t, s.Put(ctx, shaA, int64(len(a)), bytes.NewReader(a)))
	require.NoError(t, s.Put(ctx, shaB, int64(len(b)), bytes.NewReader(b)))
	require.NoError(t, s.Delete(ctx, shaA))
	requireAbsent(t, ctx, s, shaA)
	assert.Equal(t, b, readAll(t, ctx, s, shaB), "other bytes stay")
	require.NoError(t, s.Delete(ctx, shaA), "deleting absent bytes")
	requireNoResidue(t, h, s)

	// Stored again after a delete.
	require.NoError(t, s.Put(ctx, shaA, int64(len(a)), bytes.NewReader(a)))
	assert.Equal(t, a, readAll(t, ctx, s, shaA))
}

func checkInvalidSHA(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	data, sha := sample(18, 10)
	bad := []string{
		"", "abc", sha[:63], sha + "0", "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
		"../../../../etc/passwd", "../" + sha[3:], sha[:62] + "/x", sha[:63] + "g", sha[:60] + "\x00abc",
		`{"$ne":""}`, ".tmp-" + sha[5:],
	}
	for _, k := range bad {
		require.ErrorIs(t, s.Put(ctx, k, int64(len(data)), bytes.NewReader(data)), mediabytes.ErrInvalidSHA256, "put %q", k)
		_, err := s.Open(ctx, k)
		require.ErrorIs(t, err, mediabytes.ErrInvalidSHA256, "open %q", k)
		require.ErrorIs(t, s.Delete(ctx, k), mediabytes.ErrInvalidSHA256, "delete %q", k)
		_, err = s.Hide(ctx, k)
		require.ErrorIs(t, err, mediabytes.ErrInvalidSHA256, "hide %q", k)
	}
	requireNoResidue(t, h, s)
	requireAbsent(t, ctx, s, sha)
}

func checkConcurrentPuts(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	data, sha := sample(19, 3*h.ChunkSize+1)
	const n = 12
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Put(ctx, sha, int64(len(data)), iotest.HalfReader(bytes.NewReader(data)))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "put %d", i)
	}
	assert.Equal(t, data, readAll(t, ctx, s, sha))
	requireNoResidue(t, h, s)
	require.NoError(t, s.Delete(ctx, sha))
	requireAbsent(t, ctx, s, sha)
}

func checkConcurrentReaders(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	data, sha := sample(20, 4*h.ChunkSize+3)
	require.NoError(t, s.Put(ctx, sha, int64(len(data)), bytes.NewReader(data)))
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			b, err := s.Open(ctx, sha)
			if !assert.NoError(t, err) {
				return
			}
			defer b.Close()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for range 20 {
				off := r.Int64N(int64(len(data)))
				n := r.IntN(2 * h.ChunkSize)
				if _, err := b.Seek(off, io.SeekStart); !assert.NoError(t, err) {
					return
				}
				got, err := io.ReadAll(io.LimitReader(b, int64(n)))
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, data[off:min(off+int64(n), int64(len(data)))], got, "reader %d at %d", i, off)
			}
		})
	}
	wg.Wait()
}

func checkHide(t *testing.T, ctx context.Context, h Harness, s mediabytes.Blobs) {
	data, sha := sample(21, 2*h.ChunkSize+1)
	_, err := s.Hide(ctx, sha)
	require.ErrorIs(t, err, actors.ErrNotFound, "hiding absent bytes")

	// Hidden bytes are out of sight, and put back.
	put(t, ctx, s, data)
	hidden, err := s.Hide(ctx, sha)
	require.NoError(t, err)
	requireAbsent(t, ctx, s, sha)
	_, err = s.Hide(ctx, sha)
	require.ErrorIs(t, err, actors.ErrNotFound, "hiding twice")
	require.NoError(t, s.Unhide(ctx, hidden))
	assert.Equal(t, data, readAll(t, ctx, s, sha))
	require.NoError(t, s.Unhide(ctx, hidden), "unhiding twice")
	require.NoError(t, s.Purge(ctx, hidden), "purging what was put back")
	assert.Equal(t, data, readAll(t, ctx, s, sha), "purging a key that is gone leaves the bytes")

	// A Put after Hide stores the bytes anew; Unhide then keeps one copy.
	hidden, err = s.Hide(ctx, sha)
	require.NoError(t, err)
	put(t, ctx, s, data)
	assert.Equal(t, data, readAll(t, ctx, s, sha))
	require.NoError(t, s.Unhide(ctx, hidden))
	assert.Equal(t, data, readAll(t, ctx, s, sha))
	requireNoResidue(t, h, s)

	// Purged bytes are gone for good.
	hidden, err = s.Hide(ctx, sha)
	require.NoError(t, err)
	require.NoError(t, s.Purge(ctx, hidden))
	require.NoError(t, s.Unhide(ctx, hidden), "unhiding purged bytes")
	requireAbsent(t, ctx, s, sha)
	requireNoResidue(t, h, s)

	// Keys Hide did not make are refused.
	for _, k := range []string{"", "x", "../" + sha, sha, fmt.Sprintf("%s/%s/%s", sha[:2], sha[2:4], sha)} {
		assert.Error(t, s.Unhide(ctx, k), "unhide %q", k)
		assert.Error(t, s.Purge(ctx, k), "purge %q", k)
	}
}
