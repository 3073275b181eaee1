package media

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// spoolPattern names the temporary files of uploads being checked.
const spoolPattern = "upload-*.part"

// spoolBuffer is the write buffer of a spool file; spoolWriters keeps
// them between uploads.
const spoolBuffer = 256 * KB

var spoolWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, spoolBuffer) }}

// Options configure an Intake.
type Options struct {
	// Dir is where uploads are spooled while they are read and checked;
	// created when missing. Files left there by a crash are removed by
	// NewIntake.
	Dir string
	// SweepAfter spares, in NewIntake's sweep, spool files changed within
	// it: those may be uploads of another process on the same Dir (several
	// engines over one MongoDB). 0 removes every spool file, for a process
	// that owns Dir alone.
	SweepAfter time.Duration
	// MaxBytes is the most any one file may have, whatever its type
	// (MEDIA_MAX_BYTES); the smaller of it and the type's limit applies.
	MaxBytes int64
}

// Intake receives uploaded files: it streams each to a spool file (never
// whole in memory), hashing and counting as it goes, stops at the limit,
// decides the type from the bytes and checks it. It is safe for concurrent
// use.
type Intake struct {
	dir      string
	maxBytes int64
}

// NewIntake returns an Intake spooling in o.Dir, after removing the spool
// files a previous process left behind (those not changed within
// o.SweepAfter).
func NewIntake(o Options) (*Intake, error) {
	if o.MaxBytes <= 0 {
		return nil, fmt.Errorf("media intake: MaxBytes must be positive, got %d", o.MaxBytes)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("media intake: create spool directory %s: %w", o.Dir, err)
	}
	left, err := filepath.Glob(filepath.Join(o.Dir, spoolPattern))
	if err != nil {
		return nil, fmt.Errorf("media intake: list spool directory %s: %w", o.Dir, err)
	}
	for _, p := range left {
		if o.SweepAfter > 0 {
			if fi, err := os.Stat(p); err != nil || time.Since(fi.ModTime()) < o.SweepAfter {
				continue
			}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("media intake: remove leftover %s: %w", p, err)
		}
	}
	return &Intake{dir: o.Dir, maxBytes: o.MaxBytes}, nil
}

// MaxBytes is the overall per-file limit.
func (in *Intake) MaxBytes() int64 { return in.maxBytes }

// Upload is a received file that passed every check, spooled until it is
// stored. The caller stores it (Open) and then Discards it.
type Upload struct {
	// Filename is the sanitised display name.
	Filename string
	// MimeType is WhatsApp's name of the detected type; Category its kind
	// of message (image, sticker, audio, video, document).
	MimeType string
	Category string
	// Animated is set for an animated sticker.
	Animated bool
	Size     int64
	// SHA256 is the lower-case hex digest of the bytes.
	SHA256 string

	path string
	once sync.Once
}

// Open opens the spooled bytes for reading.
func (u *Upload) Open() (*os.File, error) {
	f, err := os.Open(u.path)
	if err != nil {
		return nil, fmt.Errorf("open spooled upload: %w", err)
	}
	return f, nil
}

// Discard removes the spooled bytes; safe to call more than once.
func (u *Upload) Discard() {
	u.once.Do(func() { _ = os.Remove(u.path) })
}

// Receive reads one file from r (a multipart part), named filename by the
// client and declared as declaredType (the part's Content-Type, "" when
// absent). It returns the checked Upload, or an error: a *Refusal
// (ErrUnsupported, ErrTooLarge, ErrEmpty) for what the file is, ErrBodyRead
// when r failed, or another error when the spool failed. On any error
// nothing is left in the spool directory.
func (in *Intake) Receive(ctx context.Context, r io.Reader, filename, declaredType string) (*Upload, error) {
	sp, err := os.CreateTemp(in.dir, spoolPattern)
	if err != nil {
		return nil, fmt.Errorf("create spool file: %w", err)
	}
	u := &Upload{path: sp.Name()}
	ok := false
	defer func() {
		_ = sp.Close()
		if !ok {
			u.Discard()
		}
	}()
	r = ctxReader{ctx: ctx, r: r}
	h := sha256.New()
	// A refusal carries the digest of what was read so far, so that
	// ReadFiles can finish it over the rest of the part.
	refuse := func(rf *Refusal) (*Upload, error) {
		rf.read = h
		return nil, rf
	}

	head, err := readHead(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBodyRead, err)
	}
	h.Write(head)
	if len(head) == 0 {
		return refuse(&Refusal{Reason: ErrEmpty, Message: "the file is empty (0 bytes)"})
	}
	d, refusal := detect(head)
	if refusal != nil {
		return refuse(refusal)
	}
	limit := min(typeLimit(d), in.maxBytes)
	size, err := spool(sp, h, head, r, limit)
	if err != nil {
		return nil, err
	}
	if size > limit {
		return refuse(tooLarge(d.detected, limit, "detected %s larger than %s, the limit for %s", d.detected, FormatSize(limit), limitSubject(d, limit, in.maxBytes)))
	}
	refusal, err = checkStructure(sp, size, &d)
	if err != nil {
		return nil, fmt.Errorf("check %s upload: %w", d.detected, err)
	}
	if refusal != nil {
		return refuse(refusal)
	}
	if refusal := agree(d, filename, declaredType); refusal != nil {
		return refuse(refusal)
	}
	if final := min(typeLimit(d), in.maxBytes); size > final { // the checks refined the type (MP4 audio or video)
		return refuse(tooLarge(d.t.MimeType, final, "detected %s larger than %s, the limit for %s", d.t.MimeType, FormatSize(final), limitSubject(d, final, in.maxBytes)))
	}
	u.Filename = SanitizeFilename(filename, d.t)
	u.MimeType, u.Category, u.Animated = d.t.MimeType, d.t.Category, d.animated
	u.Size, u.SHA256 = size, hex.EncodeToString(h.Sum(nil))
	ok = true
	return u, nil
}

// readHead reads up to sniffLen bytes: fewer only when r ends (io.EOF)
// first. Any other error, io.ErrUnexpectedEOF of a body cut off included,
// is returned.
func readHead(r io.Reader) ([]byte, error) {
	head := make([]byte, sniffLen)
	n := 0
	for n < len(head) {
		m, err := r.Read(head[n:])
		n += m
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return head[:n], nil
}

// typeLimit is the size limit of the detected type.
func typeLimit(d detection) int64 {
	if d.animated {
		return AnimatedStickerLimit
	}
	return d.t.Limit
}

// spool writes head (already hashed) and the rest of r to sp, hashing the
// rest into h; it reads at most limit+1 bytes in all, so a size over limit
// means the file is too large.
func spool(sp *os.File, h hash.Hash, head []byte, r io.Reader, limit int64) (int64, error) {
	// Parts arrive a few KB per read; the spool file is written in
	// spoolBuffer pieces.
	bw := spoolWriters.Get().(*bufio.Writer)
	bw.Reset(sp)
	defer func() { bw.Reset(nil); spoolWriters.Put(bw) }()
	if _, err := bw.Write(head); err != nil {
		return 0, fmt.Errorf("write spool file: %w", err)
	}
	w := io.MultiWriter(bw, h)
	size := int64(len(head))
	if size == sniffLen && size <= limit { // else the file ended within the head, or is already over
		n, err := io.Copy(w, readErrMarker{io.LimitReader(r, limit+1-size)})
		size += n
		var re readErr
		switch {
		case errors.As(err, &re):
			return size, fmt.Errorf("%w: %w", ErrBodyRead, re.err)
		case err != nil:
			return size, fmt.Errorf("write spool file: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return size, fmt.Errorf("write spool file: %w", err)
	}
	return size, nil
}

// limitSubject names what a size limit is of, for the refusal message.
func limitSubject(d detection, limit, maxBytes int64) string {
	switch {
	case limit == maxBytes && maxBytes < typeLimit(d):
		return "any file on this server (MEDIA_MAX_BYTES)"
	case d.t.Category == CategorySticker && d.animated:
		return "animated stickers on WhatsApp"
	case d.t.Category == CategorySticker:
		return "static stickers on WhatsApp"
	}
	return d.t.Category + " files of type " + d.t.MimeType + " on WhatsApp"
}

// agree refuses a file whose name's extension or declared type disagree
// with the detected type.
func agree(d detection, filename, declared string) *Refusal {
	clean := cleanName(filename)
	if _, ext := splitExt(clean); ext != "" && !d.t.agreesWithExt(ext) {
		return unsupported(d.t.MimeType, "the file is named %q but its bytes are %s (expected an extension of %s)", clean, d.t.MimeType, strings.Join(d.t.Exts, ", "))
	}
	if !d.t.agreesWithDeclared(declared) {
		return unsupported(d.t.MimeType, "the file is declared as %q but its bytes are %s", declared, d.t.MimeType)
	}
	return nil
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

// readErr marks an error of the reader (the client's body) apart from one
// of the writer (the spool file) inside io.Copy.
type readErr struct{ err error }

func (e readErr) Error() string { return e.err.Error() }

type readErrMarker struct{ r io.Reader }

func (m readErrMarker) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		return n, readErr{err}
	}
	return n, err
}
