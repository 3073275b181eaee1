package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed web
var embedded embed.FS

// CSP is the Content-Security-Policy of every console response. 'self' in
// connect-src covers the same-origin ws: and wss: socket in current browsers.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"media-src 'self' blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// contentTypes are the types of the extensions the console ships; a file of
// any other extension is not served.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".json":  "application/json",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

// reserved are the path prefixes that belong to the engine, never to the
// console.
var reserved = []string{"/api", "/ws", "/healthz", "/readyz", "/metrics", "/sandbox"}

// Serves reports whether a request for path with method belongs to the
// console: GET or HEAD of a path outside the engine's own prefixes.
func Serves(method, urlPath string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false
	}
	urlPath = path.Clean("/" + urlPath)
	for _, p := range reserved {
		if urlPath == p || strings.HasPrefix(urlPath, p+"/") {
			return false
		}
	}
	return true
}

// file is one embedded file, read once.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the embedded console.
type Handler struct {
	files map[string]file // by URL path, "/index.html"
	index file
	// started is the Last-Modified of every file: embedded files have no
	// time of their own.
	started time.Time
}

// New reads the embedded files into a Handler.
func New() (*Handler, error) {
	root, err := fs.Sub(embedded, "web")
	if err != nil {
		return nil, fmt.Errorf("console files: %w", err)
	}
	return newHandler(root)
}

func newHandler(root fs.FS) (*Handler, error) {
	h := &Handler{files: map[string]file{}, started: time.Now().UTC().Truncate(time.Second)}
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		body, err := fs.ReadFile(root, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		sum := sha256.Sum256(body)
		h.files["/"+p] = file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console files: %w", err)
	}
	idx, ok := h.files["/index.html"]
	if !ok {
		return nil, fmt.Errorf("console files: no index.html")
	}
	h.index = idx
	return h, nil
}

// ServeHTTP answers GET and HEAD: the file at the path, index.html for a
// path without an extension, 404 otherwise. Callers route only requests
// Serves accepts.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	f, ok := h.files[p]
	if !ok && p == "/" {
		f, ok = h.index, true
	}
	if !ok && path.Ext(p) == "" {
		f, ok = h.index, true
	}
	if !ok {
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hd.Set("Content-Type", f.contentType)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", f.etag)
	http.ServeContent(w, r, p, h.started, bytes.NewReader(f.body))
}
