package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// file is a received upload opened for the checks: random access and its
// size.
type file interface {
	io.ReaderAt
}

// errCheckIO marks a failure to read the spooled file (not the client's
// fault).
var errCheckIO = errors.New("read spooled upload")

// checkStructure verifies the file is what its first bytes claim, beyond
// the magic number, and may refine d (an MP4 with only a sound track is
// audio/mp4). It refuses a ZIP reader's view of a file that is not a ZIP
// (a polyglot). A nil *Refusal and nil error accept the file.
func checkStructure(f file, size int64, d *detection) (*Refusal, error) {
	var r *Refusal
	var err error
	switch d.t.MimeType {
	case "image/png":
		r, err = checkPNG(f, size, d)
	case "image/jpeg":
		r, err = checkJPEG(f, size, d)
	case "image/webp":
		r, err = checkWebP(f, size, d)
	case "video/mp4", "audio/mp4", "video/3gpp":
		r, err = checkISO(f, size, d)
	case "audio/ogg":
		r, err = checkOgg(f, size, d)
	case "audio/amr":
		r, err = checkAMR(f, size, d)
	case "audio/aac":
		r, err = checkADTS(f, size, d)
	case "audio/mpeg":
		r, err = checkMP3(f, size, d)
	case "application/pdf":
		r, err = checkPDF(f, size, d)
	case MimeDOCX, MimeXLSX, MimePPTX:
		r, err = checkOffice(f, size, d)
	case "text/plain":
		r, err = checkText(f, size, d)
	}
	if r != nil || err != nil {
		return r, err
	}
	if !isZipType(d.t.MimeType) {
		return checkNotZip(f, size, d)
	}
	return nil, nil
}

func isZipType(t string) bool { return t == MimeDOCX || t == MimeXLSX || t == MimePPTX }

// readAt reads exactly len(b) bytes at off.
func readAt(f file, b []byte, off int64) error {
	if _, err := f.ReadAt(b, off); err != nil {
		return fmt.Errorf("%w at %d: %w", errCheckIO, off, err)
	}
	return nil
}

// eocdSearch is how far from the end a ZIP reader looks for the
// end-of-central-directory record: the record (22 bytes) and the longest
// comment (65535).
const eocdSearch = 22 + 65535

// findEOCD returns the offset of an end-of-central-directory record whose
// comment ends exactly at the end of the file (where ZIP readers find it),
// or -1, and the tail it searched.
func findEOCD(f file, size int64) (int64, []byte, error) {
	n := min(size, eocdSearch)
	tail := make([]byte, n)
	if err := readAt(f, tail, size-n); err != nil {
		return -1, nil, err
	}
	for i := len(tail) - 22; i >= 0; i-- {
		if tail[i] == 'P' && bytes.HasPrefix(tail[i:], []byte("PK\x05\x06")) && i+22+le16(tail, i+20) == len(tail) {
			return size - n + int64(i), tail, nil
		}
	}
	return -1, tail, nil
}

// checkNotZip refuses a file that a ZIP reader would open as an archive
// (an image, PDF or video with a ZIP appended).
func checkNotZip(f file, size int64, d *detection) (*Refusal, error) {
	at, _, err := findEOCD(f, size)
	if err != nil {
		return nil, err
	}
	if at >= 0 {
		return unsupported(d.detected, "detected %s with a ZIP archive appended (a ZIP reader opens it at byte %d); refused as a polyglot", d.detected, at), nil
	}
	return nil, nil
}

// checkText refuses "text" with NUL bytes: binary content behind a text
// start.
func checkText(f file, size int64, d *detection) (*Refusal, error) {
	buf := make([]byte, 64*KB)
	for off := int64(0); off < size; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), size-off)]
		if err := readAt(f, b, off); err != nil {
			return nil, err
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return unsupported(d.detected, "detected text/plain at the start but binary content (a NUL byte) at byte %d", off+int64(i)), nil
		}
	}
	return nil, nil
}

// checkPDF wants a PDF header at the start and %%EOF near the end, and
// refuses active content: the /JavaScript and /Launch names (also written
// with #xx escapes) anywhere outside compressed streams. Compressed object
// streams are not inflated; the bytes are served as an attachment in a
// sandbox either way.
func checkPDF(f file, size int64, d *detection) (*Refusal, error) {
	head := make([]byte, min(size, 8))
	if err := readAt(f, head, 0); err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(head, []byte("%PDF-")) {
		return unsupported(d.detected, "detected application/pdf but the file does not start with %%PDF-"), nil
	}
	tail := make([]byte, min(size, 1024))
	if err := readAt(f, tail, size-int64(len(tail))); err != nil {
		return nil, err
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return unsupported(d.detected, "detected application/pdf without %%%%EOF at its end (truncated or not a PDF)"), nil
	}
	name, err := pdfActiveName(f, size)
	if err != nil {
		return nil, err
	}
	if name != "" {
		return unsupported(d.detected, "detected application/pdf with active content (/%s); WhatsApp documents must not run code", name), nil
	}
	return nil, nil
}

// pdfActiveNames are the PDF names that run code or programs.
var pdfActiveNames = []string{"JavaScript", "Launch"}

// pdfActiveName scans the file's PDF names (a "/" and the regular
// characters after it, #xx decoded) for pdfActiveNames.
func pdfActiveName(f file, size int64) (string, error) {
	const overlap = 64 // longer than any name we look for, escaped
	buf := make([]byte, 64*KB+overlap)
	for off := int64(0); off < size; off += 64 * KB {
		b := buf[:min(int64(len(buf)), size-off)]
		if err := readAt(f, b, off); err != nil {
			return "", err
		}
		for i := bytes.IndexByte(b, '/'); i >= 0; {
			name := pdfName(b[i+1:])
			for _, a := range pdfActiveNames {
				if name == a {
					return a, nil
				}
			}
			j := bytes.IndexByte(b[i+1:], '/')
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return "", nil
}

// pdfName decodes the name at the start of b (up to a delimiter or white
// space), at most 32 bytes of it.
func pdfName(b []byte) string {
	var out []byte
	for i := 0; i < len(b) && len(out) < 32; i++ {
		c := b[i]
		if bytes.IndexByte([]byte("()<>[]{}/% \t\r\n\f\x00"), c) >= 0 {
			break
		}
		if c == '#' && i+2 < len(b) {
			if v, ok := unhex(b[i+1], b[i+2]); ok {
				out = append(out, v)
				i += 2
				continue
			}
		}
		out = append(out, c)
	}
	return string(out)
}

func unhex(a, b byte) (byte, bool) {
	x, ok1 := hexVal(a)
	y, ok2 := hexVal(b)
	return x<<4 | y, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func be32(b []byte, off int) int64 {
	if off < 0 || off+4 > len(b) {
		return 0
	}
	return int64(binary.BigEndian.Uint32(b[off:]))
}
