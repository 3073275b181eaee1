package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/media/samples"
)

// uploadFile posts one file to the live engine's upload route, with extra
// headers, and returns the status and decoded answer.
func (l *live) uploadFile(token, filename string, data []byte, headers ...string) (int, map[string]any) {
	l.t.Helper()
	st, _, out := l.uploadFileH(token, filename, data, headers...)
	return st, out
}

// uploadFileH is uploadFile with the answer's headers.
func (l *live) uploadFileH(token, filename string, data []byte, headers ...string) (int, http.Header, map[string]any) {
	l.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, err := w.CreateFormFile("file", filename)
	require.NoError(l.t, err)
	_, err = fw.Write(data)
	require.NoError(l.t, err)
	require.NoError(l.t, w.Close())
	req, err := http.NewRequest("POST", l.url+"/api/media/upload", &b)
	require.NoError(l.t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := l.client.Do(req)
	require.NoError(l.t, err)
	defer func() { _ = res.Body.Close() }()
	var out map[string]any
	require.NoError(l.t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, res.Header, out
}

// TestMediaThroughTheEngine: the engine serves the media routes over SQLite
// and the files under DATA_DIR/media. An upload larger than MAX_BODY_BYTES
// is fine (the route has its own limit: MEDIA_MAX_BYTES), is not buffered
// but still honours Idempotency-Key, lands content-addressed on disk and
// reads back; a file over MEDIA_MAX_BYTES is refused naming it; spool files a
// crash left are swept at start.
func TestMediaThroughTheEngine(t *testing.T) {
	cfg := testConfig(t)
	cfg.MediaMaxBytes = 4 << 20
	leftover := filepath.Join(cfg.DataDir, "media-spool", "upload-1234.part")
	require.NoError(t, os.MkdirAll(filepath.Dir(leftover), 0o700))
	require.NoError(t, os.WriteFile(leftover, []byte("half an upload"), 0o600))
	l := startLive(t, cfg)
	assert.NoFileExists(t, leftover, "swept at start")
	_, agent := l.user(actors.RoleAgent)

	img := samples.JPEGOfSize(3 << 20)
	require.Greater(t, int64(len(img)), cfg.MaxBodyBytes)
	st, body := l.uploadFile(agent, "receipt.jpg", img, "Idempotency-Key", "upload-1")
	require.Equal(t, http.StatusCreated, st, "%v", body)
	m := body["data"].(map[string]any)["media"].(map[string]any)
	sum := sha256.Sum256(img)
	digest := hex.EncodeToString(sum[:])
	assert.Equal(t, digest, m["sha256"])
	assert.Equal(t, "image/jpeg", m["mimeType"])
	onDisk, err := os.ReadFile(filepath.Join(cfg.DataDir, "media", digest[:2], digest[2:4], digest))
	require.NoError(t, err)
	assert.Equal(t, img, onDisk, "content-addressed under DATA_DIR/media")

	req, err := http.NewRequest("GET", l.url+"/api/media/"+m["id"].(string)+"/content", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+agent)
	res, err := l.client.Do(req)
	require.NoError(t, err)
	got, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, img, got)

	// The same upload under the same Idempotency-Key keeps nothing twice:
	// the first answer again, one record; another body under it is 422.
	st, hdr, again := l.uploadFileH(agent, "receipt.jpg", img, "Idempotency-Key", "upload-1")
	require.Equal(t, http.StatusCreated, st, "%v", again)
	assert.Equal(t, "true", hdr.Get("Idempotent-Replayed"))
	assert.Equal(t, m["id"], again["data"].(map[string]any)["media"].(map[string]any)["id"])
	n, err := l.e.store.CountMediaBySHA256(context.Background(), digest)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "one record")
	st, other := l.uploadFile(agent, "other.png", samples.PNG(), "Idempotency-Key", "upload-1")
	assert.Equal(t, http.StatusUnprocessableEntity, st, "%v", other)
	assert.Equal(t, "IDEMPOTENCY_KEY_REUSED", other["code"])
	st, fresh := l.uploadFile(agent, "receipt.jpg", img, "Idempotency-Key", "upload-2")
	require.Equal(t, http.StatusCreated, st, "%v", fresh)
	assert.NotEqual(t, m["id"], fresh["data"].(map[string]any)["media"].(map[string]any)["id"], "another key is another upload")

	st, body = l.uploadFile(agent, "empty.pdf", nil)
	assert.Equal(t, http.StatusBadRequest, st, "%v", body)
	big := samples.PNGOfSize(5 << 20)
	st, body = l.uploadFile(agent, "big.png", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, st)
	assert.Equal(t, "PAYLOAD_TOO_LARGE", body["code"])
	assert.Contains(t, body["message"], "MEDIA_MAX_BYTES")
	left, err := os.ReadDir(filepath.Join(cfg.DataDir, "media-spool"))
	require.NoError(t, err)
	assert.Empty(t, left, "nothing spooled is left")
}
