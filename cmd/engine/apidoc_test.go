package main

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPIDocumentNamesEveryRoute keeps API.md (the contract, kept in this
// repository) in step with the OpenAPI document the engine serves: every
// path the engine serves, with every one of its methods, is written in
// API.md (path parameters as :name).
func TestAPIDocumentNamesEveryRoute(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../API.md")
	require.NoError(t, err)
	text := string(doc)
	l := startLive(t, callConfig(t))
	res, err := http.Get(l.url + "/api/openapi.json")
	require.NoError(t, err)
	defer res.Body.Close()
	var spec struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&spec))
	require.NotEmpty(t, spec.Paths)
	param := regexp.MustCompile(`\{([^}]+)\}`)
	var missing []string
	for path, ops := range spec.Paths {
		colon := param.ReplaceAllString(path, ":$1")
		for method := range ops {
			m := strings.ToUpper(method)
			if !mentions(text, m, colon) {
				missing = append(missing, m+" "+colon)
			}
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "routes the engine serves that API.md does not name")
}

// mentions reports whether the document names method and path together
// ("GET /api/x", or "GET, POST /api/x" style lists, or a table row naming
// the path with the method).
func mentions(doc, method, path string) bool {
	for _, ln := range strings.Split(doc, "\n") {
		i := strings.Index(ln, path)
		if i < 0 {
			continue
		}
		end := i + len(path)
		if end < len(ln) && (ln[end] == '/' || ln[end] == '-' || isWordByte(ln[end])) {
			continue // a longer path
		}
		if strings.Contains(ln[:i], method) {
			return true
		}
	}
	return false
}

func isWordByte(b byte) bool {
	return b == '_' || b == ':' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}
