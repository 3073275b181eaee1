//go:build faults

package faults

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Test01_TruncatedJSONTrailingGarbageTwoObjects: 400 in the contract's
// shape, no stack, for bodies that are not exactly one JSON value.
func Test01_TruncatedJSONTrailingGarbageTwoObjects(t *testing.T) {
	r := covers(t, 1)
	p := start(t, nil)
	token := p.admin()
	bodies := []string{`{"name":"A","phone":"+14155552671"`, `{"name":"A","phone":"+14155552671"} garbage`,
		`{"name":"A","phone":"+14155552671"}{"name":"B","phone":"+14155552672"}`, `{"name":`, `]`}
	for _, b := range bodies {
		st, body := p.api("POST", "/api/customers", token, []byte(b))
		assert.Equal(t, 400, st, "%q: %v", b, body)
		assert.Equal(t, "error", body["status"], b)
		assert.NotEmpty(t, body["code"], b)
		assert.NotContains(t, strings.ToLower(body["message"].(string)), "goroutine", b)
		r.count("inputs", 1)
	}
	st, body := p.api("GET", "/api/customers?limit=100", token, nil)
	assert.Equal(t, 200, st)
	assert.Equal(t, 0.0, body["data"].(map[string]any)["total"], "nothing was stored")
}
