package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
)

// Errors of a multipart body as a whole (the request fails; nothing is
// kept). A *PartError names the part.
var (
	// ErrMalformed: the body is not a readable multipart body, or broke
	// off between parts.
	ErrMalformed = errors.New("malformed multipart body")
	// ErrNoFile: the body holds no file part of the expected field.
	ErrNoFile = errors.New("no file in the body")
	// ErrTooManyFiles: more file parts than allowed.
	ErrTooManyFiles = errors.New("too many files")
	// ErrUnexpectedPart: a part of another field than the expected one.
	ErrUnexpectedPart = errors.New("unexpected part")
)

// bodyBuffer is the read buffer in front of a multipart body.
const bodyBuffer = 64 * KB

// PartError is a request-level error about one part: its field name.
type PartError struct {
	Field string
	Err   error
}

func (e *PartError) Error() string { return fmt.Sprintf("part %q: %v", e.Field, e.Err) }
func (e *PartError) Unwrap() error { return e.Err }

// File is one file part of a multipart body: received (Upload) or refused
// (Err, a *Refusal).
type File struct {
	// Name is the client's filename, cleaned for display; ContentType the
	// part's declared type.
	Name        string
	ContentType string
	// SHA256 is the lower-case hex digest of all the part's bytes, refused
	// or not: with Name and ContentType it identifies the file whatever
	// the boundary (an Idempotency-Key repeat is recognised by it).
	SHA256 string
	Upload *Upload
	Err    error
}

// ReadFiles reads the multipart body r (with boundary) part by part: each
// part must be a file of field, at most
// maxFiles of them, and each goes through Receive in turn, so one bad file is
// refused on its own (File.Err) while the others are received. When the
// body as a whole fails (ErrMalformed, ErrNoFile, ErrTooManyFiles,
// ErrUnexpectedPart, ErrBodyRead for a body cut off or over its limit, or a
// spool failure), every file received so far is discarded and the error is
// returned. The caller discards the Uploads of the files it gets back.
func (in *Intake) ReadFiles(ctx context.Context, r io.Reader, boundary, field string, maxFiles int) (_ []File, err error) {
	if boundary == "" {
		return nil, fmt.Errorf("%w: no boundary", ErrMalformed)
	}
	end := &finalBoundary{r: r, delim: []byte("--" + boundary + "--")}
	// The multipart reader reads 4 KB at a time; a larger buffer in front
	// makes one read of the connection per 64 KB instead.
	mr := multipart.NewReader(bufio.NewReaderSize(end, bodyBuffer), boundary)
	var files []File
	defer func() {
		if err != nil {
			DiscardAll(files)
		}
	}()
	for {
		part, err := mr.NextPart()
		// The final boundary is io.EOF itself; a body that ends before it
		// is io.EOF wrapped, which is malformed.
		if err == io.EOF {
			if !end.seen {
				// A header cut off also ends in a bare io.EOF.
				return nil, fmt.Errorf("%w: the body ends before its final boundary", ErrMalformed)
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		if part.FormName() != field {
			_ = part.Close()
			return nil, &PartError{Field: part.FormName(), Err: ErrUnexpectedPart}
		}
		if len(files) == maxFiles {
			_ = part.Close()
			return nil, &PartError{Field: field, Err: fmt.Errorf("%w: at most %d", ErrTooManyFiles, maxFiles)}
		}
		name, ctype := partFilename(part), part.Header.Get("Content-Type")
		u, err := in.Receive(ctx, part, name, ctype)
		var refusal *Refusal
		switch {
		case errors.As(err, &refusal):
			// The rest of a refused file is read (to reach the next part)
			// into its digest.
			if refusal.read == nil {
				return nil, fmt.Errorf("refusal of %q without its digest: %w", name, err) // a bug of Receive
			}
			if _, err := io.Copy(refusal.read, part); err != nil {
				_ = part.Close()
				return nil, fmt.Errorf("%w: %w", ErrBodyRead, err)
			}
			sum := hex.EncodeToString(refusal.read.Sum(nil))
			refusal.read = nil
			files = append(files, File{Name: cleanName(name), ContentType: ctype, SHA256: sum, Err: refusal})
		case err != nil:
			_ = part.Close()
			return nil, err
		default:
			files = append(files, File{Name: u.Filename, ContentType: ctype, SHA256: u.SHA256, Upload: u})
		}
		_ = part.Close()
	}
	if len(files) == 0 {
		return nil, &PartError{Field: field, Err: ErrNoFile}
	}
	return files, nil
}

// DiscardAll discards the uploads of files.
func DiscardAll(files []File) {
	for _, f := range files {
		if f.Upload != nil {
			f.Upload.Discard()
		}
	}
}

// partFilename is the filename parameter of a part's Content-Disposition
// exactly as sent (RFC 2231 filename* decoded), without the path stripping
// of multipart.Part.FileName: SanitizeFilename decides what is shown.
func partFilename(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}

// finalBoundary passes a body through and notes whether its final
// delimiter ("--boundary--") went by: the multipart reader answers io.EOF
// both for it and for a body cut off inside a part's header.
type finalBoundary struct {
	r     io.Reader
	delim []byte
	// tail keeps the last len(delim)-1 bytes, for a delimiter split across
	// reads.
	tail []byte
	seen bool
}

func (f *finalBoundary) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && !f.seen {
		buf := append(f.tail, p[:n]...)
		f.seen = bytes.Contains(buf, f.delim)
		keep := min(len(buf), len(f.delim)-1)
		f.tail = append(f.tail[:0], buf[len(buf)-keep:]...)
	}
	return n, err
}
