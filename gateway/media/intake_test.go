package media_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/media"
	"github.com/wacc/engine/gateway/media/samples"
)

func newIntake(t *testing.T, maxBytes int64) (*media.Intake, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "spool")
	in, err := media.NewIntake(media.Options{Dir: dir, MaxBytes: maxBytes})
	require.NoError(t, err)
	return in, dir
}

// spoolEmpty asserts nothing is left in the spool directory.
func spoolEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, left, "spool directory")
}

func TestReceiveAccepts(t *testing.T) {
	in, dir := newIntake(t, 100*media.MB)
	for name, s := range samples.Accepted() {
		t.Run(name, func(t *testing.T) {
			u, err := in.Receive(t.Context(), bytes.NewReader(s.Data), s.Filename, "")
			require.NoError(t, err)
			assert.Equal(t, s.MimeType, u.MimeType)
			assert.Equal(t, s.Filename, u.Filename)
			assert.EqualValues(t, len(s.Data), u.Size)
			sum := sha256.Sum256(s.Data)
			assert.Equal(t, hex.EncodeToString(sum[:]), u.SHA256)
			f, err := u.Open()
			require.NoError(t, err)
			got, err := io.ReadAll(f)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			assert.Equal(t, s.Data, got, "the spool holds the bytes")
			u.Discard()
			u.Discard()
			spoolEmpty(t, dir)
		})
	}
}

func TestReceiveCategoriesAndAnimation(t *testing.T) {
	in, _ := newIntake(t, 100*media.MB)
	for _, tc := range []struct {
		name     string
		data     []byte
		filename string
		category string
		animated bool
	}{
		{"jpeg is an image", samples.JPEG(), "a.jpg", media.CategoryImage, false},
		{"static webp is a sticker", samples.WebP(), "s.webp", media.CategorySticker, false},
		{"animated webp is an animated sticker", samples.WebPAnimated(), "s.webp", media.CategorySticker, true},
		{"sound-only mp4 is audio", samples.M4A(), "v.m4a", media.CategoryAudio, false},
		{"opus is audio", samples.OggOpus(), "v.opus", media.CategoryAudio, false},
		{"3gp is video", samples.ThreeGP(), "c.3gp", media.CategoryVideo, false},
		{"docx is a document", samples.DOCX(), "d.docx", media.CategoryDocument, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := in.Receive(t.Context(), bytes.NewReader(tc.data), tc.filename, "")
			require.NoError(t, err)
			defer u.Discard()
			assert.Equal(t, tc.category, u.Category)
			assert.Equal(t, tc.animated, u.Animated)
		})
	}
}

func TestReceiveRefuses(t *testing.T) {
	png := samples.PNG()
	truncatedOgg := samples.OggOpus()
	truncatedOgg[40] ^= 0xFF // a byte of the OpusHead page: its CRC no longer fits
	wrongRIFF := samples.WebP()
	wrongRIFF[4]++
	truncatedPDF := samples.PDF()[:200]
	for _, tc := range []struct {
		name     string
		data     []byte
		filename string
		declared string
		maxBytes int64
		// reason is the sentinel; detected the type the refusal names; limit
		// the limit it names (ErrTooLarge).
		reason   error
		detected string
		limit    int64
	}{
		{name: "html named png", data: samples.HTML(), filename: "photo.png", reason: media.ErrUnsupported, detected: "text/html"},
		{name: "svg with a script", data: samples.SVGWithScript(), filename: "logo.svg", reason: media.ErrUnsupported, detected: "image/svg+xml"},
		{name: "elf named pdf", data: samples.ELF(), filename: "invoice.pdf", reason: media.ErrUnsupported, detected: "application/x-executable"},
		{name: "zip named docx", data: samples.ZIP(), filename: "letter.docx", reason: media.ErrUnsupported, detected: "application/zip"},
		{name: "jpeg with a zip appended", data: samples.JPEGZipPolyglot(), filename: "photo.jpg", reason: media.ErrUnsupported, detected: "image/jpeg"},
		{name: "png with html in a text chunk", data: pngWithText(png, "<html><script>alert(1)</script>"), filename: "p.png", reason: media.ErrUnsupported, detected: "image/png"},
		{name: "ogg vorbis", data: samples.OggVorbis(), filename: "voice.ogg", reason: media.ErrUnsupported, detected: "audio/ogg"},
		{name: "ogg with a broken crc", data: truncatedOgg, filename: "voice.ogg", reason: media.ErrUnsupported, detected: "audio/ogg"},
		{name: "webp whose riff size lies", data: wrongRIFF, filename: "s.webp", reason: media.ErrUnsupported, detected: "image/webp"},
		{name: "truncated pdf", data: truncatedPDF, filename: "x.pdf", reason: media.ErrUnsupported, detected: "application/pdf"},
		{name: "pdf with javascript", data: pdfWith("/OpenAction << /S /Java#53cript /JS (app.alert(1)) >>"), filename: "x.pdf", reason: media.ErrUnsupported, detected: "application/pdf"},
		{name: "text with binary after its start", data: append(bytes.Repeat([]byte("hello\n"), 1000), 0, 1, 2), filename: "a.txt", reason: media.ErrUnsupported, detected: "text/plain"},
		{name: "png named jpg", data: png, filename: "photo.jpg", reason: media.ErrUnsupported, detected: "image/png"},
		{name: "declared type contradicts the bytes", data: png, filename: "photo.png", declared: "application/pdf", reason: media.ErrUnsupported, detected: "image/png"},
		{name: "bidi override hides the real extension", data: png, filename: "invoice\u202egnp.exe", reason: media.ErrUnsupported, detected: "image/png"},
		{name: "video mp4 named m4a", data: samples.MP4(), filename: "v.m4a", reason: media.ErrUnsupported, detected: "video/mp4"},
		{name: "pixel flood png", data: pngSized(png, 50000, 50000), filename: "p.png", reason: media.ErrUnsupported, detected: "image/png"},
		{name: "png too wide", data: pngSized(png, 100000, 1), filename: "p.png", reason: media.ErrUnsupported, detected: "image/png"},
		{name: "png of zero pixels", data: pngSized(png, 0, 10), filename: "p.png", reason: media.ErrUnsupported, detected: "image/png"},
		{name: "pixel flood jpeg", data: jpegSized(samples.JPEG(), 65000, 65000), filename: "p.jpg", reason: media.ErrUnsupported, detected: "image/jpeg"},
		{name: "jpeg without a frame header", data: []byte("\xff\xd8\xff\xda\x00\x02\xff\xd9"), filename: "p.jpg", reason: media.ErrUnsupported, detected: "image/jpeg"},
		{name: "docx zip bomb", data: zipBombDOCX(64 * media.MB), filename: "r.docx", reason: media.ErrUnsupported, detected: media.MimeDOCX},
		{name: "empty", data: nil, filename: "a.png", reason: media.ErrEmpty},
		{name: "oversize image", data: samples.PNGOfSize(5*media.MB + 1), filename: "big.png", reason: media.ErrTooLarge, detected: "image/png", limit: 5 * media.MB},
		{name: "oversize static sticker", data: samples.WebPOfSize(100*media.KB+2, false), filename: "s.webp", reason: media.ErrTooLarge, detected: "image/webp", limit: 100 * media.KB},
		{name: "oversize animated sticker", data: samples.WebPOfSize(500*media.KB+2, true), filename: "s.webp", reason: media.ErrTooLarge, detected: "image/webp", limit: 500 * media.KB},
		{name: "over MEDIA_MAX_BYTES", data: samples.PNGOfSize(300 * media.KB), filename: "p.png", maxBytes: 200 * media.KB, reason: media.ErrTooLarge, detected: "image/png", limit: 200 * media.KB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maxBytes := tc.maxBytes
			if maxBytes == 0 {
				maxBytes = 100 * media.MB
			}
			in, dir := newIntake(t, maxBytes)
			u, err := in.Receive(t.Context(), bytes.NewReader(tc.data), tc.filename, tc.declared)
			require.Error(t, err)
			assert.Nil(t, u)
			require.ErrorIs(t, err, tc.reason)
			var r *media.Refusal
			require.ErrorAs(t, err, &r)
			assert.Equal(t, tc.detected, r.Detected)
			assert.Equal(t, tc.limit, r.Limit)
			if tc.detected != "" {
				assert.Contains(t, r.Message, tc.detected, "the message names the detected type")
			}
			if tc.limit != 0 {
				assert.Contains(t, r.Message, media.FormatSize(tc.limit), "the message names the limit")
			}
			spoolEmpty(t, dir)
		})
	}
}

func TestReceiveStopsAtTheLimit(t *testing.T) {
	in, dir := newIntake(t, 100*media.MB)
	r := &countingReader{r: io.MultiReader(bytes.NewReader(samples.PNG()), neverEnding{})}
	_, err := in.Receive(t.Context(), r, "big.png", "image/png")
	require.ErrorIs(t, err, media.ErrTooLarge)
	assert.LessOrEqual(t, r.n, int64(5*media.MB+64*media.KB), "reading stops one byte past the limit (plus a buffer)")
	spoolEmpty(t, dir)
}

func TestReceiveBodyFailure(t *testing.T) {
	in, dir := newIntake(t, 100*media.MB)
	cut := io.MultiReader(bytes.NewReader(samples.PNGOfSize(100 * media.KB)[:50*media.KB]), errReader{io.ErrUnexpectedEOF})
	_, err := in.Receive(t.Context(), cut, "p.png", "")
	require.ErrorIs(t, err, media.ErrBodyRead)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	var r *media.Refusal
	assert.False(t, errors.As(err, &r), "a broken body is no refusal")
	spoolEmpty(t, dir)

	short := io.MultiReader(bytes.NewReader(samples.PNG()[:100]), errReader{io.ErrUnexpectedEOF})
	_, err = in.Receive(t.Context(), short, "p.png", "")
	require.ErrorIs(t, err, media.ErrBodyRead, "cut off within the first 4 KB")
	spoolEmpty(t, dir)
}

func TestNewIntakeSweepsLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	left := filepath.Join(dir, "upload-123.part")
	keep := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(left, []byte("half"), 0o600))
	require.NoError(t, os.WriteFile(keep, []byte("mine"), 0o600))
	_, err := media.NewIntake(media.Options{Dir: dir, MaxBytes: media.MB})
	require.NoError(t, err)
	assert.NoFileExists(t, left)
	assert.FileExists(t, keep)
	_, err = media.NewIntake(media.Options{Dir: dir})
	assert.Error(t, err, "MaxBytes is required")

	// Beside other processes, only files untouched for SweepAfter go.
	fresh := filepath.Join(dir, "upload-fresh.part")
	stale := filepath.Join(dir, "upload-stale.part")
	require.NoError(t, os.WriteFile(fresh, []byte("live"), 0o600))
	require.NoError(t, os.WriteFile(stale, []byte("dead"), 0o600))
	old := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))
	_, err = media.NewIntake(media.Options{Dir: dir, MaxBytes: media.MB, SweepAfter: time.Hour})
	require.NoError(t, err)
	assert.FileExists(t, fresh)
	assert.NoFileExists(t, stale)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type neverEnding struct{}

func (neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestReceiveAcceptsLargePhotos: the pixel-flood limits leave room for any
// phone camera's photo and for long screenshots.
func TestReceiveAcceptsLargePhotos(t *testing.T) {
	in, dir := newIntake(t, 100*media.MB)
	for _, tc := range []struct {
		name     string
		data     []byte
		filename string
	}{
		{"48 MP png", pngSized(samples.PNG(), 8000, 6000), "p.png"},
		{"long screenshot png", pngSized(samples.PNG(), 1080, 16384), "p.png"},
		{"64 MP jpeg", jpegSized(samples.JPEG(), 9248, 6936), "p.jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := in.Receive(t.Context(), bytes.NewReader(tc.data), tc.filename, "")
			require.NoError(t, err)
			u.Discard()
			spoolEmpty(t, dir)
		})
	}
}
