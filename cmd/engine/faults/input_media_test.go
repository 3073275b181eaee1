//go:build faults

package faults

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io/fs"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/media/samples"
)

// multipartFile is a body of POST /api/media/upload: one part "file" with
// the filename and Content-Type given verbatim (the client's claim).
func multipartFile(t *testing.T, filename, ctype string, data []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, strings.NewReplacer(`"`, "%22", "\r", "%0D", "\n", "%0A").Replace(filename)))
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	part, err := w.CreatePart(h)
	require.NoError(t, err)
	_, err = part.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return w.FormDataContentType(), b.Bytes()
}

// upload posts one file and returns the status and the decoded answer.
func upload(p *proc, token, filename, ctype string, data []byte) (int, map[string]any) {
	p.t.Helper()
	ct, body := multipartFile(p.t, filename, ctype, data)
	st, _, raw := p.do("POST", "/api/media/upload", token, body, "Content-Type", ct)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return st, out
}

func mediaOf(body map[string]any) map[string]any {
	d, _ := body["data"].(map[string]any)
	m, _ := d["media"].(map[string]any)
	return m
}

// Test12_UploadLyingAboutItsType: HTML, SVG and an executable declared
// image/png and named photo.png → 415, and nothing is kept.
func Test12_UploadLyingAboutItsType(t *testing.T) {
	t.Parallel()
	r := covers(t, 12)
	p := inputEngine.get(t)
	token := p.admin()
	for name, data := range map[string][]byte{"html": samples.HTML(), "svg": samples.SVGWithScript(), "elf": samples.ELF(),
		"pe": append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), make([]byte, 512)...), "zip": samples.ZIP()} {
		for _, ctype := range []string{"image/png", "application/octet-stream", ""} {
			st, body := upload(p, token, "photo.png", ctype, data)
			requireRefused(t, st, body, 415, "", name+" as "+ctype)
			assert.Equal(t, "UNSUPPORTED_MEDIA_TYPE", body["code"], name)
			r.count("inputs", 1)
		}
	}
	// The real thing is accepted, so the refusals are about the bytes.
	st, body := upload(p, token, "photo.png", "image/png", samples.PNG())
	require.Equal(t, 201, st, body)
	assert.Equal(t, "image/png", mediaOf(body)["mimeType"])
	assertNoSpool(t, inputEngine.dir)
}

// assertNoSpool: no upload left a spool file behind.
func assertNoSpool(t *testing.T, dataDir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dataDir, "media-spool", "*"))
	assert.Empty(t, left, "spool files left behind")
}

// Test13_Polyglots: a JPEG with a ZIP appended is refused; a JPEG with a
// script appended is either refused or, if kept, only ever served as an
// attachment with nosniff and a sandboxing CSP.
func Test13_Polyglots(t *testing.T) {
	t.Parallel()
	r := covers(t, 13)
	p := inputEngine.get(t)
	token := p.admin()
	jpeg := samples.JPEG()
	refused := map[string][]byte{
		"jpeg+zip":          samples.JPEGZipPolyglot(),
		"html inside jpeg":  append(append(append([]byte{}, jpeg[:20]...), []byte("<html><script>alert(1)</script>")...), jpeg[20:]...),
		"pdf header inside": append(append(append([]byte{}, jpeg[:100]...), []byte("%PDF-1.7\n")...), jpeg[100:]...),
	}
	for name, data := range refused {
		st, body := upload(p, token, "photo.jpg", "image/jpeg", data)
		requireRefused(t, st, body, 415, "", name)
		r.count("inputs", 1)
	}
	for name, data := range map[string][]byte{
		"script appended":    append(append([]byte{}, jpeg...), []byte("<script>alert(document.cookie)</script>")...),
		"html page appended": append(append([]byte{}, jpeg...), samples.HTML()...),
		"plain jpeg":         jpeg,
	} {
		st, body := upload(p, token, "photo.jpg", "image/jpeg", data)
		r.count("inputs", 1)
		if st == 415 {
			continue
		}
		require.Equal(t, 201, st, "%s: %v", name, body)
		id := mediaOf(body)["id"].(string)
		st, h, raw := p.do("GET", "/api/media/"+id+"/content", token, nil)
		require.Equal(t, 200, st, name)
		assert.Equal(t, data, raw, "%s: served byte for byte", name)
		assert.Equal(t, "image/jpeg", h.Get("Content-Type"), name)
		assert.True(t, strings.HasPrefix(h.Get("Content-Disposition"), "attachment"), "%s: %q", name, h.Get("Content-Disposition"))
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), name)
		assert.Contains(t, h.Get("Content-Security-Policy"), "sandbox", name)
	}
}

// Test14_HostileFilenames: traversal, an encoded NUL, 1000 characters, RTL
// overrides → stored under a generated id; the name is only sanitised
// display text, and no file outside the media store is written.
func Test14_HostileFilenames(t *testing.T) {
	t.Parallel()
	r := covers(t, 14)
	p := inputEngine.get(t)
	token := p.admin()
	png := samples.PNG()
	names := []string{"../../etc/passwd", `..\..\windows\win.ini`, "/etc/passwd.png", "a%00.png", "a\x00.png", strings.Repeat("n", 1000) + ".png",
		"invoice\u202egnp.exe.png", "zero\u200bwidth.png", "<script>.png", "CON.png", ".htaccess.png", "....png", "a/../../b.png", "%2e%2e%2fpasswd.png"}
	seen := map[string]bool{}
	for _, name := range names {
		st, body := upload(p, token, name, "image/png", png)
		r.count("inputs", 1)
		if st == 400 || st == 415 { // refused (e.g. win.ini holding a PNG): fine, nothing kept
			requireRefused(t, st, body, st, "", fmt.Sprintf("%q", name))
			continue
		}
		require.Equal(t, 201, st, "%q: %v", name, body)
		m := mediaOf(body)
		id, _ := m["id"].(string)
		shown, _ := m["filename"].(string)
		assert.False(t, seen[id], "a fresh id for each upload")
		seen[id] = true
		assert.NotContains(t, id, "passwd")
		assert.NotContains(t, id, ".")
		assert.NotEmpty(t, shown)
		assert.LessOrEqual(t, len(shown), 200, "%q shown as %q", name, shown)
		assert.True(t, utf8.ValidString(shown))
		for _, bad := range []string{"/", `\`, "\x00", "\u202e", "\u200b", "<", ">", ".."} {
			assert.NotContains(t, shown, bad, "%q shown as %q", name, shown)
		}
		assert.False(t, strings.HasPrefix(shown, "."), "%q shown as %q", name, shown)
		st, h, _ := p.do("GET", "/api/media/"+id+"/content", token, nil)
		require.Equal(t, 200, st)
		cd := h.Get("Content-Disposition")
		assert.True(t, strings.HasPrefix(cd, "attachment"), cd)
		assert.NotContains(t, cd, "/", cd)
		assert.NotContains(t, cd, "\u202e", cd)
	}
	// Nothing was written under a client's name: the data directory holds
	// content-addressed files only.
	_ = filepath.WalkDir(inputEngine.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			assert.NotContains(t, d.Name(), "passwd", path)
			assert.NotContains(t, d.Name(), "win.ini", path)
			assert.NotContains(t, d.Name(), "script", path)
		}
		return nil
	})
	_, err := os.Stat(filepath.Join(filepath.Dir(inputEngine.dir), "etc", "passwd"))
	assert.True(t, os.IsNotExist(err))
	assertNoSpool(t, inputEngine.dir)
}

// pixelFloodPNG is a PNG whose header claims w×h pixels, with a tiny IDAT:
// a decoder that trusts the header allocates w×h×4 bytes.
func pixelFloodPNG(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		var b bytes.Buffer
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
		return b.Bytes()
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

// zipBombDOCX is a valid DOCX carrying an entry of n zero bytes (deflated
// about a thousandfold).
func zipBombDOCX(t *testing.T, n int64) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(samples.DOCX()), int64(len(samples.DOCX())))
	require.NoError(t, err)
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range zr.File {
		require.NoError(t, zw.Copy(f))
	}
	w, err := zw.Create("word/media/image1.bin")
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(zeros)) {
		_, err = w.Write(zeros[:min(int64(len(zeros)), left)])
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return b.Bytes()
}

// Test15_PixelFloodAndZipBomb: a PNG claiming 50000×50000 pixels in a few
// hundred bytes, and archives that inflate a thousandfold, are refused
// from their headers, before anything is decoded or inflated.
func Test15_PixelFloodAndZipBomb(t *testing.T) {
	t.Parallel()
	r := covers(t, 15)
	p := inputEngine.get(t)
	token := p.admin()
	for _, dim := range [][2]uint32{{50000, 50000}, {100000, 1}, {1, 100000}, {20000, 20000}} {
		flood := pixelFloodPNG(dim[0], dim[1])
		st, body := upload(p, token, "flood.png", "image/png", flood)
		requireRefused(t, st, body, 415, "", fmt.Sprintf("a %d×%d PNG of %d bytes", dim[0], dim[1], len(flood)))
		r.count("inputs", 1)
	}
	bomb := zipBombDOCX(t, 200<<20)
	t.Logf("zip bomb: %d bytes inflating to 200 MiB", len(bomb))
	for _, name := range []string{"report.docx", "archive.zip"} {
		st, body := upload(p, token, name, "", bomb)
		requireRefused(t, st, body, 415, "", name+" inflating 200 MiB")
		r.count("inputs", 1)
	}
	assertNoSpool(t, inputEngine.dir)
	// An ordinary DOCX and a normal PNG still pass.
	st, body := upload(p, token, "report.docx", "", samples.DOCX())
	assert.Equal(t, 201, st, body)
	st, body = upload(p, token, "small.png", "", pixelFloodPNG(64, 64))
	assert.Contains(t, []int{201, 415}, st, body) // its IDAT is not 64×64 of pixels: refusing it is fine too
}
