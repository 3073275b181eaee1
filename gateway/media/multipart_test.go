package media_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/media"
	"github.com/wacc/engine/gateway/media/samples"
)

// part is one part of a test body.
type part struct {
	field, filename, contentType string
	data                         []byte
}

// body encodes parts as multipart/form-data with a fixed boundary.
func body(t testing.TB, parts ...part) []byte {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	require.NoError(t, w.SetBoundary("testboundary"))
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.field, p.filename))
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		pw, err := w.CreatePart(h)
		require.NoError(t, err)
		_, err = pw.Write(p.data)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return b.Bytes()
}

func reader(b []byte) io.Reader { return bytes.NewReader(b) }

func TestReadFilesMixed(t *testing.T) {
	in, dir := newIntake(t, 100*media.MB)
	parts := []part{
		{"files", "a.png", "image/png", samples.PNG()},
		{"files", "evil.png", "image/png", samples.HTML()},
		{"files", "../../x/voice.ogg", "", samples.OggOpus()},
		{"files", "empty.pdf", "", nil},
		{"files", "big.jpg", "", samples.JPEGOfSize(5*media.MB + 10)},
		{"files", "doc.docx", "application/octet-stream", samples.DOCX()},
	}
	files, err := in.ReadFiles(t.Context(), reader(body(t, parts...)), "testboundary", "files", 10)
	require.NoError(t, err)
	require.Len(t, files, 6)
	for i, f := range files {
		sum := sha256.Sum256(parts[i].data)
		assert.Equal(t, hex.EncodeToString(sum[:]), f.SHA256, "file %d: the digest of the whole part, refused or not", i)
		assert.Equal(t, parts[i].contentType, f.ContentType)
	}
	want := []struct {
		name   string
		reason error
	}{{"a.png", nil}, {"evil.png", media.ErrUnsupported}, {"voice.ogg", nil}, {"empty.pdf", media.ErrEmpty}, {"big.jpg", media.ErrTooLarge}, {"doc.docx", nil}}
	for i, w := range want {
		assert.Equal(t, w.name, files[i].Name, "file %d", i)
		if w.reason == nil {
			require.NoError(t, files[i].Err, "file %d", i)
			require.NotNil(t, files[i].Upload)
			continue
		}
		assert.ErrorIs(t, files[i].Err, w.reason, "file %d", i)
		assert.Nil(t, files[i].Upload)
	}
	left, err := openDir(dir)
	require.NoError(t, err)
	assert.Len(t, left, 3, "only the received files are spooled")
	media.DiscardAll(files)
	spoolEmpty(t, dir)
}

func TestReadFilesRefusesTheBody(t *testing.T) {
	png := part{"files", "a.png", "", samples.PNG()}
	eleven := make([]part, 11)
	for i := range eleven {
		eleven[i] = png
	}
	whole := body(t, png, png)
	for _, tc := range []struct {
		name  string
		body  io.Reader
		want  error
		field string
	}{
		{name: "eleven files", body: bytes.NewReader(body(t, eleven...)), want: media.ErrTooManyFiles, field: "files"},
		{name: "another field", body: bytes.NewReader(body(t, png, part{"note", "n.txt", "", []byte("hi")})), want: media.ErrUnexpectedPart, field: "note"},
		{name: "no file", body: bytes.NewReader(body(t)), want: media.ErrNoFile, field: "files"},
		{name: "not multipart", body: bytes.NewReader([]byte("hello")), want: media.ErrMalformed},
		{name: "cut off in the second file", body: io.MultiReader(bytes.NewReader(whole[:len(whole)-50]), errReader{io.ErrUnexpectedEOF}), want: media.ErrBodyRead},
		{name: "cut off in the second file's header", body: bytes.NewReader(whole[:len(whole)/2+40]), want: media.ErrMalformed},
		{name: "cut off before the final boundary", body: bytes.NewReader(whole[:len(whole)-4]), want: media.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, dir := newIntake(t, 100*media.MB)
			files, err := in.ReadFiles(t.Context(), tc.body, "testboundary", "files", 10)
			require.Error(t, err)
			assert.Nil(t, files)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			} else {
				assert.True(t, errors.Is(err, media.ErrMalformed) || errors.Is(err, media.ErrBodyRead), "%v", err)
			}
			if tc.field != "" {
				var pe *media.PartError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tc.field, pe.Field)
			}
			spoolEmpty(t, dir)
		})
	}
}

func TestReadFilesKeepsTheRawFilename(t *testing.T) {
	in, _ := newIntake(t, media.MB)
	files, err := in.ReadFiles(t.Context(), reader(body(t, part{"file", `..\..\windows\evil.png`, "", samples.PNG()})), "testboundary", "file", 1)
	require.NoError(t, err)
	defer media.DiscardAll(files)
	assert.Equal(t, "evil.png", files[0].Upload.Filename)
}
