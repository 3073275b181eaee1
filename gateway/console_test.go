package gateway_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/wacc/engine/gateway/console"
)

// The agent console is served by the gateway's router at / and every
// non-API path, with its own CSP; the API's answers stay JSON.
func TestConsoleServedBesideTheAPI(t *testing.T) {
	h := newHarness(t, harnessOpts{})

	root := h.call("GET", "/", "", nil)
	require.Equal(t, http.StatusOK, root.Status, root.String())
	require.Equal(t, "text/html; charset=utf-8", root.Header.Get("Content-Type"))
	require.Equal(t, console.CSP, root.Header.Get("Content-Security-Policy"))
	require.Contains(t, root.Header.Get("Content-Security-Policy"), "script-src 'self';")
	require.Equal(t, "nosniff", root.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "no-referrer", root.Header.Get("Referrer-Policy"))
	require.Equal(t, "no-cache", root.Header.Get("Cache-Control"))
	require.NotEmpty(t, root.Header.Get("ETag"))
	require.Empty(t, root.Header.Get("Access-Control-Allow-Origin"), "CORS unchanged: no origin, no CORS header")
	requireNoInlineScript(t, root.Raw)

	// A deep link without a hash serves the app, which routes by the hash.
	deep := h.call("GET", "/inbox/abc", "", nil)
	require.Equal(t, http.StatusOK, deep.Status)
	require.Equal(t, root.Raw, deep.Raw)
	require.Equal(t, console.CSP, deep.Header.Get("Content-Security-Policy"))

	js := h.call("GET", "/js/main.js", "", nil)
	require.Equal(t, http.StatusOK, js.Status)
	require.Equal(t, "text/javascript; charset=utf-8", js.Header.Get("Content-Type"))
	require.Contains(t, string(js.Raw), "import ")
	css := h.call("GET", "/app.css", "", nil)
	require.Equal(t, http.StatusOK, css.Status)
	require.Equal(t, "text/css; charset=utf-8", css.Header.Get("Content-Type"))

	// Revalidation: the ETag answers 304.
	again := h.call("GET", "/js/main.js", "", nil, "If-None-Match", js.Header.Get("ETag"))
	require.Equal(t, http.StatusNotModified, again.Status)

	// HEAD: the headers of GET, no body.
	head := h.call("HEAD", "/", "", nil)
	require.Equal(t, http.StatusOK, head.Status)
	require.Equal(t, "text/html; charset=utf-8", head.Header.Get("Content-Type"))
	require.Empty(t, head.Raw)

	// A missing asset is a 404, not the app.
	missing := h.call("GET", "/js/nope.js", "", nil)
	require.Equal(t, http.StatusNotFound, missing.Status)

	// The API keeps its JSON answers and its own CSP.
	for _, p := range []string{"/api/nope", "/api", "/api/whatsapp/nope", "/sandbox/x", "/metricsx/../metrics/nope"} {
		r := h.call("GET", p, "", nil)
		require.Equal(t, http.StatusNotFound, r.Status, p)
		requireError(t, r, http.StatusNotFound, "NOT_FOUND")
		require.NotEqual(t, console.CSP, r.Header.Get("Content-Security-Policy"), p)
	}
	post := h.call("POST", "/", "", nil)
	requireError(t, post, http.StatusNotFound, "NOT_FOUND")
	require.Equal(t, http.StatusOK, h.call("GET", "/healthz", "", nil).Status)
}

// requireNoInlineScript parses page and fails on a <script> without src, a
// <style> element, a style or on* attribute, or a javascript: URL.
func requireNoInlineScript(t *testing.T, page []byte) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	scripts := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			src := ""
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				require.False(t, strings.HasPrefix(key, "on"), "event attribute %s on <%s>", a.Key, n.Data)
				require.NotEqual(t, "style", key, "style attribute on <%s>", n.Data)
				require.False(t, strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:"), "javascript: URL on <%s>", n.Data)
				if key == "src" {
					src = a.Val
				}
			}
			switch n.Data {
			case "script":
				scripts++
				require.NotEmpty(t, src, "inline <script>")
				require.Nil(t, n.FirstChild, "<script src> with a body")
				require.True(t, strings.HasPrefix(src, "/"), "script from another origin: %s", src)
			case "style":
				t.Fatalf("inline <style>")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	require.Positive(t, scripts, "index.html loads no script")
}
