package console

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestServesOnlyNonAPIReads(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/", true},
		{"HEAD", "/", true},
		{"GET", "/inbox/abc", true},
		{"GET", "/js/main.js", true},
		{"GET", "/apix", true},
		{"GET", "/api", false},
		{"GET", "/api/nope", false},
		{"GET", "/ws", false},
		{"GET", "/healthz", false},
		{"GET", "/readyz", false},
		{"GET", "/metrics", false},
		{"GET", "/sandbox/whatsapp/inbound", false},
		{"GET", "/x/../api/nope", false},
		{"POST", "/", false},
		{"PUT", "/inbox", false},
	} {
		require.Equal(t, tc.want, Serves(tc.method, tc.path), "%s %s", tc.method, tc.path)
	}
}

func TestEmbeddedFilesServeWithTheirTypes(t *testing.T) {
	h, err := New()
	require.NoError(t, err)
	for path, ct := range map[string]string{
		"/":                        "text/html; charset=utf-8",
		"/index.html":              "text/html; charset=utf-8",
		"/app.css":                 "text/css; charset=utf-8",
		"/js/main.js":              "text/javascript; charset=utf-8",
		"/js/views/agents.js":      "text/javascript; charset=utf-8",
		"/js/views/users.js":       "text/javascript; charset=utf-8",
		"/js/views/audit.js":       "text/javascript; charset=utf-8",
		"/js/views/deadletters.js": "text/javascript; charset=utf-8",
		"/favicon.svg":             "image/svg+xml",
		"/dead-letters":            "text/html; charset=utf-8",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		require.Equal(t, http.StatusOK, rec.Code, path)
		require.Equal(t, ct, rec.Header().Get("Content-Type"), path)
		require.Equal(t, CSP, rec.Header().Get("Content-Security-Policy"), path)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

func TestFilesWithoutIndexAreRefused(t *testing.T) {
	_, err := newHandler(fstest.MapFS{"app.css": {Data: []byte("body{}")}})
	require.ErrorContains(t, err, "no index.html")
	// Files of types the console does not ship are left out.
	h, err := newHandler(fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}, "notes.md": {Data: []byte("x")}})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/notes.md", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
}
