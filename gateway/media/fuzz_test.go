package media_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacc/engine/gateway/media"
	"github.com/wacc/engine/gateway/media/samples"
)

// FuzzReceive: whatever the bytes, name and declared type, Receive never
// panics; it accepts only a type WhatsApp takes, within its limit, with the
// right size and digest and a display name that is no path; a refusal
// carries a message; and nothing is left spooled after either.
func FuzzReceive(f *testing.F) {
	for _, s := range samples.Accepted() {
		f.Add(s.Data, s.Filename, s.MimeType)
	}
	for _, b := range [][]byte{samples.HTML(), samples.SVGWithScript(), samples.ELF(), samples.ZIP(), samples.JPEGZipPolyglot(), samples.OggVorbis()} {
		f.Add(b, "x.png", "")
	}
	dir := filepath.Join(f.TempDir(), "spool")
	in, err := media.NewIntake(media.Options{Dir: dir, MaxBytes: 256 * media.KB})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, filename, declared string) {
		u, err := in.Receive(t.Context(), bytes.NewReader(data), filename, declared)
		if err != nil {
			var r *media.Refusal
			if !errors.As(err, &r) || r.Message == "" {
				t.Fatalf("error is not a refusal with a message: %v", err)
			}
			assertSpoolEmpty(t, dir)
			return
		}
		typ, ok := media.Lookup(u.MimeType)
		switch {
		case !ok:
			t.Fatalf("accepted %s, not a WhatsApp type", u.MimeType)
		case u.Size != int64(len(data)) || u.Size == 0:
			t.Fatalf("size %d of %d bytes", u.Size, len(data))
		case u.Size > typ.Limit && !u.Animated, u.Size > 256*media.KB:
			t.Fatalf("accepted %d bytes of %s over its limit", u.Size, u.MimeType)
		case strings.ContainsAny(u.Filename, `/\`) || u.Filename == "" || len(u.Filename) > media.MaxFilenameBytes:
			t.Fatalf("display name %q", u.Filename)
		}
		sum := sha256.Sum256(data)
		if u.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatal("wrong digest")
		}
		u.Discard()
		assertSpoolEmpty(t, dir)
	})
}

// FuzzReadFiles: whatever the body, ReadFiles never panics, returns at most
// the allowed files, and leaves nothing spooled once the caller discards
// what it got (or on error).
func FuzzReadFiles(f *testing.F) {
	png := part{"files", "a.png", "image/png", samples.PNG()}
	f.Add(body(f, png, part{"files", "b.pdf", "", samples.PDF()}))
	f.Add(body(f, png, part{"files", "evil.png", "", samples.HTML()}))
	f.Add(body(f, part{"other", "x", "", []byte("x")}))
	f.Add(body(f))
	f.Add([]byte("--testboundary\r\nContent-Disposition: form-data; name=\"files\"; filename*=UTF-8''%E2%80%AEgnp.exe\r\n\r\nhello\r\n--testboundary--\r\n"))
	dir := filepath.Join(f.TempDir(), "spool")
	in, err := media.NewIntake(media.Options{Dir: dir, MaxBytes: 64 * media.KB})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := in.ReadFiles(t.Context(), bytes.NewReader(b), "testboundary", "files", 3)
		if err == nil {
			if len(files) == 0 || len(files) > 3 {
				t.Fatalf("%d files", len(files))
			}
			for _, fl := range files {
				if (fl.Upload == nil) == (fl.Err == nil) {
					t.Fatalf("file %q: upload %v, error %v", fl.Name, fl.Upload, fl.Err)
				}
			}
			media.DiscardAll(files)
		}
		assertSpoolEmpty(t, dir)
	})
}

func assertSpoolEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("%d files left in the spool", len(left))
	}
}
