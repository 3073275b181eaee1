package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/media/samples"
)

// quoteEscaper quotes a Content-Disposition parameter as mime/multipart
// does.
var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

// upFile is one file of a test upload.
type upFile struct {
	filename, contentType string
	data                  []byte
}

// multipartBody encodes files in field; it returns the body and its
// Content-Type.
func multipartBody(t testing.TB, field string, files ...upFile) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range files {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, field, quoteEscaper.Replace(f.filename)))
		if f.contentType != "" {
			hdr.Set("Content-Type", f.contentType)
		}
		pw, err := w.CreatePart(hdr)
		require.NoError(t, err)
		_, err = pw.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return b.Bytes(), w.FormDataContentType()
}

func (h *harness) upload(token string, f upFile) response {
	h.t.Helper()
	body, ct := multipartBody(h.t, "file", f)
	return h.call("POST", "/api/media/upload", token, body, "Content-Type", ct)
}

func (h *harness) bulkUpload(token string, files ...upFile) response {
	h.t.Helper()
	body, ct := multipartBody(h.t, "files", files...)
	return h.call("POST", "/api/media/bulk-upload", token, body, "Content-Type", ct)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// requireNothingKept checks no record and no bytes of data exist, and the
// intake's spool is empty.
func (h *harness) requireNothingKept(data []byte) {
	h.t.Helper()
	ctx := context.Background()
	n, err := h.store.CountMediaBySHA256(ctx, sha(data))
	require.NoError(h.t, err)
	assert.Zero(h.t, n, "no record of the file")
	_, err = h.blobs.Open(ctx, sha(data))
	assert.ErrorIs(h.t, err, actors.ErrNotFound, "no bytes of the file")
	h.requireSpoolEmpty()
}

func (h *harness) requireSpoolEmpty() {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		left, err := os.ReadDir(h.spool)
		return err == nil && len(left) == 0
	}, 5*time.Second, 10*time.Millisecond, "the spool is emptied")
}

// mediaOf is the media object of an answer.
func mediaOf(t *testing.T, r response) map[string]any {
	t.Helper()
	m, ok := r.data()["media"].(map[string]any)
	require.True(t, ok, r.String())
	return m
}

func TestMediaUploadAcceptsWhatWhatsAppTakes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	for name, s := range samples.Accepted() {
		t.Run(name, func(t *testing.T) {
			r := h.upload(agent.Access, upFile{s.Filename, s.MimeType, s.Data})
			require.Equal(t, http.StatusCreated, r.Status, r.String())
			m := mediaOf(t, r)
			assert.NotEmpty(t, m["id"])
			assert.Equal(t, s.Filename, m["filename"])
			assert.Equal(t, s.MimeType, m["mimeType"])
			assert.EqualValues(t, len(s.Data), m["size"])
			assert.Equal(t, sha(s.Data), m["sha256"])
			assert.Equal(t, actors.MediaStored, m["status"])
			assert.Contains(t, m, "waMediaId")
			assert.Nil(t, m["waMediaId"])
			assert.NotContains(t, m, "conversationId", "not linked")
			_, err := time.Parse(time.RFC3339, m["createdAt"].(string))
			require.NoError(t, err)

			got := h.call("GET", "/api/media/"+m["id"].(string), agent.Access, nil)
			require.Equal(t, http.StatusOK, got.Status, got.String())
			assert.Equal(t, m, mediaOf(t, got))
			content := h.call("GET", "/api/media/"+m["id"].(string)+"/content", agent.Access, nil)
			require.Equal(t, http.StatusOK, content.Status)
			assert.Equal(t, s.Data, content.Raw)
			assert.Equal(t, s.MimeType, content.Header.Get("Content-Type"))
		})
	}
	h.requireSpoolEmpty()
}

func TestMediaUploadRefusesAndKeepsNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	png := samples.PNG()
	for _, tc := range []struct {
		name string
		file upFile
		// status and code are the answer; mentions what its message names
		// (the detected type, the limit).
		status   int
		code     string
		mentions []string
	}{
		{"html named png", upFile{"photo.png", "image/png", samples.HTML()}, 415, "UNSUPPORTED_MEDIA_TYPE", []string{"text/html"}},
		{"svg with a script", upFile{"logo.svg", "image/svg+xml", samples.SVGWithScript()}, 415, "UNSUPPORTED_MEDIA_TYPE", []string{"image/svg+xml"}},
		{"elf named pdf", upFile{"invoice.pdf", "application/pdf", samples.ELF()}, 415, "UNSUPPORTED_MEDIA_TYPE", []string{"application/x-executable"}},
		{"zip named docx", upFile{"letter.docx", samples.MimeDOCX, samples.ZIP()}, 415, "UNSUPPORTED_MEDIA_TYPE", []string{"application/zip"}},
		{"jpeg/zip polyglot", upFile{"photo.jpg", "image/jpeg", samples.JPEGZipPolyglot()}, 415, "UNSUPPORTED_MEDIA_TYPE", []string{"image/jpeg", "ZIP"}},
		{"ogg vorbis", upFile{"voice.ogg", "audio/ogg", samples.OggVorbis()}, 415, "UNSUPPORTED_MEDIA_TYPE", []string{"audio/ogg", "Vorbis", "Opus"}},
		{"declared type contradicts the bytes", upFile{"photo.png", "application/pdf", png}, 415, "UNSUPPORTED_MEDIA_TYPE", []string{"image/png", "application/pdf"}},
		{"extension contradicts the bytes", upFile{"photo.jpg", "", png}, 415, "UNSUPPORTED_MEDIA_TYPE", []string{"image/png"}},
		{"oversize image", upFile{"big.png", "image/png", samples.PNGOfSize(5<<20 + 1)}, 413, "PAYLOAD_TOO_LARGE", []string{"image/png", "5 MB"}},
		{"oversize static sticker", upFile{"s.webp", "image/webp", samples.WebPOfSize(100<<10+2, false)}, 413, "PAYLOAD_TOO_LARGE", []string{"image/webp", "100 KB"}},
		{"empty file", upFile{"empty.png", "image/png", nil}, 400, "VALIDATION_ERROR", []string{"empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.upload(agent.Access, tc.file)
			requireError(t, r, tc.status, tc.code)
			for _, m := range tc.mentions {
				assert.Contains(t, r.Env["message"], m)
			}
			h.requireNothingKept(tc.file.data)
		})
	}
	// Every refusal was audited as a failed upload by the agent.
	var failed int
	for _, rec := range h.auditRecords(actors.AuditFilter{ActorID: agent.ID, Action: "media.upload"}) {
		if rec.Outcome == actors.OutcomeFailure {
			failed++
		}
	}
	assert.Equal(t, 11, failed)
}

func TestMediaUploadPathTraversalNameIsOnlyADisplayName(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	pdf := samples.PDF()
	r := h.upload(agent.Access, upFile{"../../../../etc/cron.d/x\u202e.pdf", "application/pdf", pdf})
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	m := mediaOf(t, r)
	assert.Equal(t, "x.pdf", m["filename"])
	c := h.call("GET", "/api/media/"+m["id"].(string)+"/content", agent.Access, nil)
	require.Equal(t, http.StatusOK, c.Status)
	assert.Equal(t, `attachment; filename="x.pdf"; filename*=UTF-8''x.pdf`, c.Header.Get("Content-Disposition"))
	// The bytes live under their digest, nowhere the name points.
	b, err := h.blobs.Open(context.Background(), sha(pdf))
	require.NoError(t, err)
	require.NoError(t, b.Close())
	assert.NoFileExists(t, "/etc/cron.d/x.pdf")
}

func TestMediaUploadRefusesBadBodies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{mediaMaxBytes: 1 << 20})
	agent := h.register()
	png := samples.PNG()
	requireError(t, h.call("POST", "/api/media/upload", agent.Access, png, "Content-Type", "image/png"), 415, "UNSUPPORTED_MEDIA_TYPE")

	body, ct := multipartBody(t, "attachment", upFile{"a.png", "", png})
	r := h.call("POST", "/api/media/upload", agent.Access, body, "Content-Type", ct)
	requireError(t, r, 400, "VALIDATION_ERROR")
	assert.Equal(t, "UNKNOWN_FIELD", r.Env["errors"].([]any)[0].(map[string]any)["code"])

	body, ct = multipartBody(t, "file", upFile{"a.png", "", png}, upFile{"b.png", "", png})
	requireError(t, h.call("POST", "/api/media/upload", agent.Access, body, "Content-Type", ct), 400, "VALIDATION_ERROR")

	body, ct = multipartBody(t, "file")
	requireError(t, h.call("POST", "/api/media/upload", agent.Access, body, "Content-Type", ct), 400, "VALIDATION_ERROR")

	// MEDIA_MAX_BYTES is 1 MB here: a 2 MB image is over it, whatever
	// WhatsApp's 5 MB, and a body far over it is refused before it is read.
	big := samples.PNGOfSize(2 << 20)
	r = h.upload(agent.Access, upFile{"big.png", "", big})
	requireError(t, r, 413, "PAYLOAD_TOO_LARGE")
	assert.Contains(t, r.Env["message"], "1 MB")
	assert.Contains(t, r.Env["message"], "MEDIA_MAX_BYTES")
	body, ct = multipartBody(t, "file", upFile{"huge.png", "", samples.PNGOfSize(3 << 20)})
	r = h.call("POST", "/api/media/upload", agent.Access, body, "Content-Type", ct)
	requireError(t, r, 413, "PAYLOAD_TOO_LARGE")
	h.requireNothingKept(png)
	h.requireNothingKept(big)

	body, ct = multipartBody(t, "file", upFile{"a.png", "", png})
	requireError(t, h.call("POST", "/api/media/upload", "", body, "Content-Type", ct), 401, "UNAUTHORIZED")
}

func TestMediaBulkUpload(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	good := []upFile{
		{"a.png", "image/png", samples.PNG()},
		{"b.pdf", "", samples.PDF()},
		{"v.ogg", "audio/ogg", samples.OggOpus()},
	}
	bad := []upFile{
		{"evil.png", "image/png", samples.HTML()},
		{"big.jpg", "", samples.JPEGOfSize(5<<20 + 100)},
		{"prog.pdf", "", samples.ELF()},
	}
	r := h.bulkUpload(agent.Access, good[0], bad[0], good[1], bad[1], bad[2], good[2])
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	items := r.data()["items"].([]any)
	require.Len(t, items, 6)
	wantErr := []string{"", "UNSUPPORTED_MEDIA_TYPE", "", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", ""}
	for i, it := range items {
		item := it.(map[string]any)
		if wantErr[i] != "" {
			require.Contains(t, item, "error", "item %d", i)
			assert.NotContains(t, item, "media")
			e := item["error"].(map[string]any)
			assert.Equal(t, wantErr[i], e["code"], "item %d", i)
			assert.NotEmpty(t, e["message"])
			continue
		}
		require.Contains(t, item, "media", "item %d", i)
		m := item["media"].(map[string]any)
		got := h.call("GET", "/api/media/"+m["id"].(string), agent.Access, nil)
		assert.Equal(t, http.StatusOK, got.Status, "item %d is stored", i)
	}
	for _, f := range bad {
		h.requireNothingKept(f.data)
	}

	// Eleven files: the whole request is refused and nothing is kept.
	eleven := make([]upFile, 11)
	for i := range eleven {
		eleven[i] = upFile{fmt.Sprintf("p%d.png", i), "", samples.PNGOfSize(1000 + i)}
	}
	r = h.bulkUpload(agent.Access, eleven...)
	requireError(t, r, 400, "VALIDATION_ERROR")
	assert.Equal(t, "TOO_MANY_FILES", r.Env["errors"].([]any)[0].(map[string]any)["code"])
	for _, f := range eleven {
		h.requireNothingKept(f.data)
	}
}

func TestMediaContentHeadersAndRanges(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	data := samples.PDF()
	r := h.upload(agent.Access, upFile{"Quittung für März \"2024\".pdf", "application/pdf", data})
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	id := mediaOf(t, r)["id"].(string)
	path := "/api/media/" + id + "/content"

	full := h.call("GET", path, agent.Access, nil)
	require.Equal(t, http.StatusOK, full.Status)
	assert.Equal(t, data, full.Raw)
	assert.Equal(t, "application/pdf", full.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="Quittung f_r M_rz _2024_.pdf"; filename*=UTF-8''Quittung%20f%C3%BCr%20M%C3%A4rz%20_2024_.pdf`,
		full.Header.Get("Content-Disposition"))
	assert.Equal(t, "nosniff", full.Header.Get("X-Content-Type-Options"))
	assert.Contains(t, full.Header.Get("Content-Security-Policy"), "sandbox")
	assert.Equal(t, `"`+sha(data)+`"`, full.Header.Get("ETag"))
	assert.Equal(t, "bytes", full.Header.Get("Accept-Ranges"))

	part := h.call("GET", path, agent.Access, nil, "Range", "bytes=9-18")
	require.Equal(t, http.StatusPartialContent, part.Status)
	assert.Equal(t, data[9:19], part.Raw)
	assert.Equal(t, fmt.Sprintf("bytes 9-18/%d", len(data)), part.Header.Get("Content-Range"))

	tail := h.call("GET", path, agent.Access, nil, "Range", "bytes=-6")
	require.Equal(t, http.StatusPartialContent, tail.Status)
	assert.Equal(t, data[len(data)-6:], tail.Raw)

	notModified := h.call("GET", path, agent.Access, nil, "If-None-Match", `"`+sha(data)+`"`)
	assert.Equal(t, http.StatusNotModified, notModified.Status)

	beyond := h.call("GET", path, agent.Access, nil, "Range", fmt.Sprintf("bytes=%d-", len(data)+10))
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, beyond.Status)

	// Each download is audited, ranges named.
	var details []string
	for _, rec := range h.auditRecords(actors.AuditFilter{ActorID: agent.ID, Action: "media.download"}) {
		assert.Equal(t, "media:"+id, rec.Resource)
		details = append(details, rec.Detail)
	}
	assert.Len(t, details, 5)
	assert.Contains(t, details, "application/pdf range bytes=9-18")
}
