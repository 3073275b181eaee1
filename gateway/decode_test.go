package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeJSONBytes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		body     string
		wantCode string // "" means accepted
		wantFld  string // field named in errors, when any
	}{
		{name: "valid", body: `{"email":"a@b.co","password":"x","name":"n"}`},
		{name: "valid with trailing whitespace", body: "{\"name\":\"n\"} \n\t"},
		{name: "empty", body: ``, wantCode: CodeInvalidJSON},
		{name: "malformed", body: `{"name":`, wantCode: CodeInvalidJSON},
		{name: "trailing object", body: `{"name":"a"}{"name":"b"}`, wantCode: CodeInvalidJSON},
		{name: "trailing garbage", body: `{"name":"a"} x`, wantCode: CodeInvalidJSON},
		{name: "unknown field (mass assignment)", body: `{"name":"a","role":"admin"}`, wantCode: CodeValidation, wantFld: "role"},
		{name: "operator key", body: `{"email":{"$ne":""}}`, wantCode: CodeValidation, wantFld: "email"},
		{name: "operator field", body: `{"$where":"1"}`, wantCode: CodeValidation, wantFld: "$where"},
		{name: "array body", body: `[{"name":"a"}]`, wantCode: CodeValidation},
		{name: "wrong type", body: `{"name":5}`, wantCode: CodeValidation, wantFld: "name"},
		{name: "invalid UTF-8", body: "{\"name\":\"a\xffb\"}", wantCode: CodeInvalidJSON},
		{name: "overlong UTF-8", body: "{\"name\":\"\xc0\xaf\"}", wantCode: CodeInvalidJSON},
		{name: "raw NUL", body: "{\"name\":\"a\x00b\"}", wantCode: CodeInvalidJSON},
		{name: "escaped NUL", body: `{"name":"a\u0000b"}`, wantCode: CodeInvalidJSON},
		{name: "escaped backslash then u0000 text", body: `{"name":"a\\u0000b"}`},
		{name: "non-ASCII text", body: `{"name":"\u202e محمد देव 😀"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dst registerRequest
			e := decodeJSONBytes([]byte(tc.body), &dst)
			if tc.wantCode == "" {
				require.Nil(t, e)
				return
			}
			require.NotNil(t, e)
			require.Equal(t, tc.wantCode, e.Code)
			require.Equal(t, http.StatusBadRequest, e.Status)
			if tc.wantFld != "" {
				require.NotEmpty(t, e.Fields)
				require.Equal(t, tc.wantFld, e.Fields[0].Field)
			}
		})
	}
}

// FuzzDecodeJSON: the strict decoder never panics, and whatever it accepts
// is a single JSON object with only known fields.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","phone":"+919876543210","tags":["x"],"attributes":{"k":"v"}}`, `{"phone":{"$ne":1}}`, `{} {}`, `[]`, `null`, `{"email":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst customerRequest
		if e := decodeJSONBytes(body, &dst); e != nil {
			if e.Status != http.StatusBadRequest {
				t.Fatalf("status %d for %q", e.Status, body)
			}
			return
		}
		var generic any
		if err := json.Unmarshal(body, &generic); err != nil {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		obj, ok := generic.(map[string]any)
		if !ok && generic != nil {
			t.Fatalf("accepted non-object %q", body)
		}
		for k := range obj {
			switch k {
			case "name", "phone", "email", "tags", "attributes":
			default:
				// encoding/json matches field names case-insensitively.
				if !equalFoldAny(k, "name", "phone", "email", "tags", "attributes") {
					t.Fatalf("accepted unknown field %q in %q", k, body)
				}
			}
		}
	})
}

func equalFoldAny(s string, opts ...string) bool {
	for _, o := range opts {
		if strings.EqualFold(s, o) {
			return true
		}
	}
	return false
}
