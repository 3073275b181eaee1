package fsblobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/persistence/sealed"
)

var (
	_ actors.MediaBlobs = (*Store)(nil)
	_ mediabytes.Blobs  = (*Store)(nil)
)

// Name prefixes of the files beside the blobs in a leaf directory: a Put
// in progress (or left by a crash), and bytes a Release set aside.
const (
	tempPrefix   = ".tmp-"
	hiddenPrefix = ".hidden-"
)

// Permissions of what the store creates: only the engine's user reads
// media (os.CreateTemp makes files 0600).
const dirPerm = 0o750

// Store keeps media bytes as files under a root directory, one file per
// SHA-256 at root/ab/cd/<sha> (ab and cd being the digest's first two
// pairs of hex digits). It is safe for concurrent use, also by several
// Stores on one root.
type Store struct {
	root string
	// keys seal the bytes at rest; nil is encryption off (see sealing.go).
	keys *sealed.Keyring
	// noSweep: Open does not sweep (WithoutSweep).
	noSweep bool
}

// Open returns the store under root, creating the directory when missing,
// and sweeps it (Sweep): temporary files of Puts that died are removed and
// bytes a Release set aside before a crash are put back.
func Open(root string, opts ...Option) (*Store, error) {
	if root == "" {
		return nil, errors.New("open media blob store: empty root directory")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open media blob store %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("open media blob store %s: %w", abs, err)
	}
	s := &Store{root: abs}
	for _, o := range opts {
		o(s)
	}
	if s.noSweep {
		return s, nil
	}
	if _, err := s.Sweep(); err != nil {
		return nil, fmt.Errorf("open media blob store %s: %w", abs, err)
	}
	return s, nil
}

// Root is the directory the store keeps its files in.
func (s *Store) Root() string { return s.root }

// dir is the leaf directory of a valid sha.
func (s *Store) dir(sha string) string {
	return filepath.Join(s.root, sha[0:2], sha[2:4])
}

// path is the file of a valid sha.
func (s *Store) path(sha string) string {
	return filepath.Join(s.dir(sha), sha)
}

func checkSHA(op, sha string) error {
	if !mediabytes.ValidSHA256(sha) {
		return fmt.Errorf("%s %q: %w", op, truncate(sha), mediabytes.ErrInvalidSHA256)
	}
	return nil
}

// truncate keeps an invalid key short in an error.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Put stores size bytes read from r under sha. The bytes go to a temporary
// file in sha's directory, hashed and counted on the way; only when they
// are exactly size bytes with digest sha is the file synced and renamed
// into place (and the directory synced), so a reader sees the whole file
// or none, and a crash leaves at most a temporary file, which Sweep
// removes. Otherwise it returns mediabytes.ErrMismatch, or the reader's or
// the disk's error, and keeps nothing. When sha is stored already Put
// returns at once without reading r.
func (s *Store) Put(ctx context.Context, sha string, size int64, r io.Reader) error {
	op := "put media bytes"
	if err := checkSHA(op, sha); err != nil {
		return err
	}
	op += " " + sha
	if size < 0 {
		return fmt.Errorf("%s: negative size %d: %w", op, size, mediabytes.ErrMismatch)
	}
	final := s.path(sha)
	if _, err := os.Stat(final); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.mkdirs(sha); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.write(ctx, sha, size, r, final); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// write copies r into a locked temporary file beside final, checks it, and
// renames it into place. The lock tells Sweep the file is being written.
func (s *Store) write(ctx context.Context, sha string, size int64, r io.Reader, final string) (err error) {
	f, err := os.CreateTemp(s.dir(sha), tempPrefix+sha+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		cerr := f.Close()
		if !renamed {
			_ = os.Remove(tmp)
			return
		}
		if err == nil && cerr != nil {
			err = cerr
		}
	}()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("lock temporary file: %w", err)
	}
	// The digest and length are the plaintext's, taken before sealing.
	h := sha256.New()
	var n countWriter
	plain := io.TeeReader(io.LimitReader(ctxReader{ctx: ctx, r: r}, size+1), io.MultiWriter(h, &n))
	if _, err := io.Copy(f, s.keys.SealReader(sealed.BlobAAD(sha), plain)); err != nil {
		return fmt.Errorf("write after %d bytes: %w", n, err)
	}
	if int64(n) != size {
		return fmt.Errorf("read %d bytes%s, want %d: %w", min(int64(n), size+1), orMore(int64(n) > size), size, mediabytes.ErrMismatch)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return fmt.Errorf("digest is %s: %w", got, mediabytes.ErrMismatch)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	renamed = true
	if err := syncDir(s.dir(sha)); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

func orMore(more bool) string {
	if more {
		return " or more"
	}
	return ""
}

// mkdirs creates sha's directory and syncs the parents of what it created,
// so the new directory entries survive a crash with the file.
func (s *Store) mkdirs(sha string) error {
	leaf := s.dir(sha)
	if _, err := os.Stat(leaf); err == nil {
		return nil
	}
	mid := filepath.Dir(leaf)
	_, midErr := os.Stat(mid)
	if err := os.MkdirAll(leaf, dirPerm); err != nil {
		return err
	}
	if err := syncDir(mid); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	if midErr != nil {
		if err := syncDir(s.root); err != nil {
			return fmt.Errorf("sync directory: %w", err)
		}
	}
	return nil
}

// syncDir fsyncs a directory, making renames and creations in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// blob is an open stored file.
type blob struct {
	*os.File
	size int64
}

func (b blob) Size() int64 { return b.size }

// Open returns the bytes of sha, an *os.File positioned at the start (a
// reader of the plaintext when the bytes are sealed);
// actors.ErrNotFound when sha is not stored. The file stays readable to
// the end even when the bytes are deleted meanwhile.
func (s *Store) Open(_ context.Context, sha string) (actors.MediaBlob, error) {
	op := "open media bytes"
	if err := checkSHA(op, sha); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(sha))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s %s: %w", op, sha, actors.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, sha, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s %s: %w", op, sha, err)
	}
	sr, isSealed, err := s.keys.OpenStream(sealed.BlobAAD(sha), f, st.Size())
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s %s: %w", op, sha, err)
	}
	if isSealed {
		return sr, nil
	}
	return blob{File: f, size: st.Size()}, nil
}

// Delete removes the bytes of sha; a no-op when absent. Readers that have
// the file open read on to its end. Only mediabytes.Release should call
// it: bytes another record references must stay.
func (s *Store) Delete(_ context.Context, sha string) error {
	op := "delete media bytes"
	if err := checkSHA(op, sha); err != nil {
		return err
	}
	if err := os.Remove(s.path(sha)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, sha, err)
	}
	if err := syncDir(s.dir(sha)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: sync directory: %w", op, sha, err)
	}
	return nil
}

// Hide renames the bytes of sha to a hidden name in the same directory in
// one atomic step and returns that name (relative to the root);
// actors.ErrNotFound when sha is not stored.
func (s *Store) Hide(_ context.Context, sha string) (string, error) {
	op := "hide media bytes"
	if err := checkSHA(op, sha); err != nil {
		return "", err
	}
	name, err := randomName(hiddenPrefix + sha + "-")
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", op, sha, err)
	}
	hidden := filepath.Join(s.dir(sha), name)
	if err := os.Rename(s.path(sha), hidden); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s %s: %w", op, sha, actors.ErrNotFound)
		}
		return "", fmt.Errorf("%s %s: %w", op, sha, err)
	}
	return filepath.ToSlash(filepath.Join(sha[0:2], sha[2:4], name)), nil
}

// hiddenPath checks a key Hide returned and gives its file and digest.
func (s *Store) hiddenPath(key string) (path, sha string, err error) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], hiddenPrefix) {
		return "", "", fmt.Errorf("hidden key %q: not made by Hide", truncate(key))
	}
	sha, _, ok := strings.Cut(strings.TrimPrefix(parts[2], hiddenPrefix), "-")
	if !ok || !mediabytes.ValidSHA256(sha) || parts[0] != sha[0:2] || parts[1] != sha[2:4] {
		return "", "", fmt.Errorf("hidden key %q: not made by Hide", truncate(key))
	}
	return filepath.Join(s.root, parts[0], parts[1], parts[2]), sha, nil
}

// Unhide renames hidden bytes back to their sha. A sha stored again
// meanwhile is replaced by the hidden copy, which has the same bytes, in
// one atomic rename; readers of either keep reading.
func (s *Store) Unhide(_ context.Context, hidden string) error {
	path, sha, err := s.hiddenPath(hidden)
	if err != nil {
		return fmt.Errorf("unhide media bytes: %w", err)
	}
	if err := os.Rename(path, s.path(sha)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("unhide media bytes %s: %w", sha, err)
	}
	if err := syncDir(s.dir(sha)); err != nil {
		return fmt.Errorf("unhide media bytes %s: sync directory: %w", sha, err)
	}
	return nil
}

// Purge removes hidden bytes; a key that is gone is a no-op.
func (s *Store) Purge(_ context.Context, hidden string) error {
	path, sha, err := s.hiddenPath(hidden)
	if err != nil {
		return fmt.Errorf("purge media bytes: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("purge media bytes %s: %w", sha, err)
	}
	return nil
}
