package sockets

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// newTestHTTP serves h and returns its host:port.
func newTestHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}
