package cloudapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// multipartUpload builds an upload body; an empty value leaves the field out.
func multipartUpload(t *testing.T, product, typ, partType string, file []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if product != "" {
		require.NoError(t, mw.WriteField("messaging_product", product))
	}
	if typ != "" {
		require.NoError(t, mw.WriteField("type", typ))
	}
	if file != nil {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", `form-data; name="file"; filename="photo.png"`)
		if partType == "" {
			partType = "application/octet-stream"
		}
		hdr.Set("Content-Type", partType)
		w, err := mw.CreatePart(hdr)
		require.NoError(t, err)
		_, err = w.Write(file)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return buf.Bytes(), mw.FormDataContentType()
}

func (h *harness) upload(t *testing.T, product, typ, partType string, file []byte) apiResult {
	t.Helper()
	body, ct := multipartUpload(t, product, typ, partType, file)
	return h.do(t, http.MethodPost, "/v21.0/"+testPhoneID+"/media", testToken, body, ct)
}

func TestMediaRoundTrip(t *testing.T) {
	h := newHarness(t, Options{}, true)
	file := bytes.Repeat([]byte("\x89PNG sandbox pixels "), 500)
	sum := sha256.Sum256(file)

	up := h.upload(t, "whatsapp", "image/png", "", file)
	require.Equal(t, http.StatusOK, up.status, "answer: %s", up.raw)
	require.Len(t, up.json, 1, "only the id: %s", up.raw)
	id, _ := up.json["id"].(string)
	require.NotEmpty(t, id)
	assert.Regexp(t, `^[0-9]+$`, id)

	info := h.do(t, http.MethodGet, "/v21.0/"+id, testToken, nil, "")
	require.Equal(t, http.StatusOK, info.status, "answer: %s", info.raw)
	mediaURL, _ := info.json["url"].(string)
	assert.Regexp(t, `^`+regexp.QuoteMeta(h.srv.URL+"/media/"+id)+`\?ext=[0-9]+&hash=[0-9a-f]{32}$`, mediaURL)
	delete(info.json, "url")
	assert.Equal(t, map[string]any{
		"messaging_product": "whatsapp",
		"mime_type":         "image/png",
		"sha256":            hex.EncodeToString(sum[:]),
		"file_size":         float64(len(file)),
		"id":                id,
	}, info.json)

	t.Run("download needs the token", func(t *testing.T) {
		res := h.do(t, http.MethodGet, "/media/"+id, "", nil, "")
		assert.Equal(t, http.StatusUnauthorized, res.status)
	})

	t.Run("download returns the bytes", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, mediaURL, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := h.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		gotSum := sha256.Sum256(got)
		assert.Equal(t, info.json["sha256"], hex.EncodeToString(gotSum[:]))
		assert.Equal(t, file, got)
	})

	t.Run("phone_number_id must match", func(t *testing.T) {
		res := h.do(t, http.MethodGet, "/v21.0/"+id+"?phone_number_id=999", testToken, nil, "")
		assert.Equal(t, http.StatusBadRequest, res.status)
		res = h.do(t, http.MethodGet, "/v21.0/"+id+"?phone_number_id="+testPhoneID, testToken, nil, "")
		assert.Equal(t, http.StatusOK, res.status)
	})

	t.Run("delete", func(t *testing.T) {
		res := h.do(t, http.MethodDelete, "/v21.0/"+id, testToken, nil, "")
		require.Equal(t, http.StatusOK, res.status)
		assert.JSONEq(t, `{"success":true}`, string(res.raw))

		res = h.do(t, http.MethodGet, "/v21.0/"+id, testToken, nil, "")
		require.Equal(t, http.StatusBadRequest, res.status)
		e := res.errorObject(t)
		assert.Equal(t, float64(CodeInvalidParameter), e["code"])
		assert.Equal(t, float64(33), e["error_subcode"])
		assert.Equal(t, http.StatusNotFound, h.do(t, http.MethodGet, strings.TrimPrefix(mediaURL, h.srv.URL), testToken, nil, "").status,
			"the URL handed out before the delete no longer serves")
		assert.Equal(t, http.StatusBadRequest, h.do(t, http.MethodDelete, "/v21.0/"+id, testToken, nil, "").status)
	})
}

func TestMediaUploadRefusals(t *testing.T) {
	h := newHarness(t, Options{MaxMediaBytes: 1000}, true)
	small := []byte("hello")
	cases := []struct {
		name       string
		product    string
		typ        string
		partType   string
		file       []byte
		wantDetail string
	}{
		{name: "no messaging_product", typ: "text/plain", file: small, wantDetail: "messaging_product"},
		{name: "wrong messaging_product", product: "sms", typ: "text/plain", file: small, wantDetail: "messaging_product"},
		{name: "no file", product: "whatsapp", typ: "text/plain", wantDetail: "file"},
		{name: "no type", product: "whatsapp", file: small, wantDetail: "type"},
		{name: "unsupported type", product: "whatsapp", typ: "application/zip", file: small, wantDetail: "type"},
		{name: "too large", product: "whatsapp", typ: "text/plain", file: bytes.Repeat([]byte("x"), 1001), wantDetail: "too large"},
		{name: "larger than the body limit", product: "whatsapp", typ: "text/plain", file: bytes.Repeat([]byte("x"), 2<<20), wantDetail: "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := h.upload(t, tc.product, tc.typ, tc.partType, tc.file)
			require.Equal(t, http.StatusBadRequest, res.status, "answer: %s", res.raw)
			e := res.errorObject(t)
			assert.Equal(t, float64(CodeInvalidParameter), e["code"])
			assert.Contains(t, e["error_data"].(map[string]any)["details"], tc.wantDetail)
		})
	}

	t.Run("type from the file part, quoted values as in Meta's curl sample", func(t *testing.T) {
		res := h.upload(t, `"whatsapp"`, "", "application/pdf", small)
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		info := h.do(t, http.MethodGet, "/v21.0/"+res.json["id"].(string), testToken, nil, "")
		assert.Equal(t, "application/pdf", info.json["mime_type"])
	})

	t.Run("not multipart", func(t *testing.T) {
		res := h.do(t, http.MethodPost, "/v21.0/"+testPhoneID+"/media", testToken, []byte(`{}`), "application/json")
		assert.Equal(t, http.StatusBadRequest, res.status)
	})
}

func TestMediaStoreEvictsOldest(t *testing.T) {
	h := newHarness(t, Options{MaxMediaBytes: 100, MediaStoreBytes: 250}, true)
	var ids []string
	for i := range 3 {
		res := h.upload(t, "whatsapp", "text/plain", "", []byte(strings.Repeat(string(rune('a'+i)), 100)))
		require.Equal(t, http.StatusOK, res.status, "answer: %s", res.raw)
		ids = append(ids, res.json["id"].(string))
	}
	assert.Equal(t, http.StatusBadRequest, h.do(t, http.MethodGet, "/v21.0/"+ids[0], testToken, nil, "").status, "oldest evicted")
	for _, id := range ids[1:] {
		assert.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/v21.0/"+id, testToken, nil, "").status)
	}
}

func TestUnknownRoutes(t *testing.T) {
	h := newHarness(t, Options{}, true)
	res := h.do(t, http.MethodGet, "/nowhere", testToken, nil, "")
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.Equal(t, float64(CodeInvalidParameter), res.errorObject(t)["code"])
	res = h.do(t, http.MethodPut, "/v21.0/"+testPhoneID+"/messages", testToken, nil, "")
	assert.Equal(t, http.StatusMethodNotAllowed, res.status)
}
