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

	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/persistence/sealed"
)

// Option configures Open.
type Option func(*Store)

// WithKeyring seals the bytes of every Put with k (persistence/sealed;
// nil: encryption off). Files keep their plaintext's SHA-256 as their
// name, so identical uploads are still stored once (dedupe by plaintext
// digest); Open reads sealed and plaintext files alike.
func WithKeyring(k *sealed.Keyring) Option { return func(s *Store) { s.keys = k } }

// WithoutSweep skips the Sweep of Open: for a second process (engine
// reencrypt) beside the engine that owns the directory.
func WithoutSweep() Option { return func(s *Store) { s.noSweep = true } }

// countWriter counts the bytes written through it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// ReencryptKinds are the kinds Reencrypt takes.
func (s *Store) ReencryptKinds() []string { return []string{"media"} }

// Reencrypt reseals under the current key the files of up to limit
// digests after after (in digest order): plaintext files and files sealed
// under an older key. Each file is rewritten to a locked temporary file
// and renamed over the old one, so readers see the old or the new file,
// both whole. It is safe while the engine runs, with one narrow race: bytes
// released (Hide) between the check and the rename come back as an
// unreferenced file, which costs disk but exposes nothing. Idempotent.
func (s *Store) Reencrypt(ctx context.Context, kind, after string, limit int) (sealed.Batch, error) {
	if kind != "media" {
		return sealed.Batch{}, fmt.Errorf("reencrypt: unknown kind %q", kind)
	}
	if !s.keys.On() {
		return sealed.Batch{}, fmt.Errorf("reencrypt media: %w", sealed.ErrNoKeys)
	}
	shas, err := s.digestsAfter(after, limit)
	if err != nil {
		return sealed.Batch{}, fmt.Errorf("reencrypt media after %q: %w", after, err)
	}
	var b sealed.Batch
	for _, sha := range shas {
		if err := ctx.Err(); err != nil {
			return b, err
		}
		b.Scanned++
		b.Next = sha
		moved, err := s.reseal(ctx, sha)
		if err != nil {
			return b, fmt.Errorf("reencrypt media %s: %w", sha, err)
		}
		switch moved {
		case resealDone:
			b.Resealed++
		case resealRaced:
			b.Raced++
		}
	}
	if len(shas) < limit {
		b.Next = ""
	}
	return b, nil
}

type resealOutcome int

const (
	resealFresh resealOutcome = iota
	resealDone
	resealRaced
)

// reseal rewrites one file under the current key when it is stale.
func (s *Store) reseal(ctx context.Context, sha string) (resealOutcome, error) {
	final := s.path(sha)
	f, err := os.Open(final)
	if errors.Is(err, fs.ErrNotExist) {
		return resealRaced, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return 0, err
	}
	head := make([]byte, min(before.Size(), int64(sealed.StreamHeadLen)))
	if _, err := io.ReadFull(f, head); err != nil {
		return 0, err
	}
	if id, ok := sealed.StreamKeyID(head); ok && id == s.keys.Current() {
		return resealFresh, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	sr, isSealed, openErr := s.keys.OpenStream(sealed.BlobAAD(sha), f, before.Size())
	tmp, err := os.CreateTemp(s.dir(sha), tempPrefix+sha+"-*")
	if err != nil {
		return 0, err
	}
	renamed := false
	defer func() {
		_ = tmp.Close()
		if !renamed {
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := lockFile(tmp); err != nil {
		return 0, fmt.Errorf("lock temporary file: %w", err)
	}
	// reseal writes the sealed stream of plain to tmp and reports whether
	// plain was the bytes of sha.
	reseal := func(plain io.Reader) (bool, error) {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return false, err
		}
		if err := tmp.Truncate(0); err != nil {
			return false, err
		}
		h := sha256.New()
		src := io.TeeReader(ctxReader{ctx: ctx, r: plain}, h)
		if _, err := io.Copy(tmp, s.keys.SealReader(sealed.BlobAAD(sha), src)); err != nil {
			return false, err
		}
		return hex.EncodeToString(h.Sum(nil)) == sha, nil
	}
	var ok bool
	if openErr == nil && isSealed {
		ok, err = reseal(sr)
	}
	if !ok && (isSealed || openErr != nil) {
		// Not a stream that opens to sha's bytes: it may be a file stored
		// before encryption whose bytes merely start like a sealed stream,
		// which its digest tells.
		if _, serr := f.Seek(0, io.SeekStart); serr != nil {
			return 0, serr
		}
		if plainOK, perr := reseal(f); perr == nil && plainOK {
			ok, err = true, nil
		} else if err == nil {
			err = openErr
		}
	} else if !isSealed {
		ok, err = reseal(f)
	}
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("stored bytes do not have digest %s: %w", sha, mediabytes.ErrMismatch)
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	// Only if the file is still the one read: not released meanwhile.
	now, err := os.Stat(final)
	if err != nil || !os.SameFile(before, now) {
		return resealRaced, nil
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return 0, err
	}
	renamed = true
	return resealDone, syncDir(s.dir(sha))
}

// digestsAfter lists up to limit stored digests greater than after, in
// order, walking only the directories that can hold them.
func (s *Store) digestsAfter(after string, limit int) ([]string, error) {
	var out []string
	tops, err := os.ReadDir(s.root)
	if err != nil {
		return nil, err
	}
	for _, top := range tops {
		if !top.IsDir() || !isHexPair(top.Name()) || (len(after) >= 2 && top.Name() < after[:2]) {
			continue
		}
		mids, err := os.ReadDir(filepath.Join(s.root, top.Name()))
		if err != nil {
			return nil, err
		}
		for _, mid := range mids {
			if !mid.IsDir() || !isHexPair(mid.Name()) || (len(after) >= 4 && top.Name()+mid.Name() < after[:4]) {
				continue
			}
			files, err := os.ReadDir(filepath.Join(s.root, top.Name(), mid.Name()))
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				if f.Name() <= after || !mediabytes.ValidSHA256(f.Name()) {
					continue
				}
				out = append(out, f.Name())
				if len(out) == limit {
					return out, nil
				}
			}
		}
	}
	return out, nil
}
