package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadQuery(t *testing.T) {
	t.Parallel()
	var many []string
	for i := 0; i <= 10000; i++ {
		many = append(many, fmt.Sprintf("%x=", i))
	}
	cases := []struct {
		name     string
		rawQuery string
		wantCode string // "" means accepted
		wantFld  string // field named in errors, when any
	}{
		{name: "allowed", rawQuery: "search=a&limit=5"},
		{name: "unknown", rawQuery: "sort=name", wantCode: CodeValidation, wantFld: "sort"},
		{name: "repeated", rawQuery: "tag=a&tag=b", wantCode: CodeValidation, wantFld: "tag"},
		{name: "operator shape", rawQuery: "search[$ne]=", wantCode: CodeValidation, wantFld: "search[$ne]"},
		// net/url gives up past 10 000 parameters; r.URL.Query() would then
		// be empty and the request served unfiltered.
		{name: "over net/url's parameter limit", rawQuery: "search=x&" + strings.Join(many, "&"), wantCode: CodeValidation},
		{name: "bad escape", rawQuery: "search=%zz", wantCode: CodeValidation},
		{name: "semicolon", rawQuery: "search=a;limit=5", wantCode: CodeValidation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/customers?"+tc.rawQuery, nil)
			q, e := readQuery(r, "search", "limit", "tag")
			if tc.wantCode == "" {
				require.Nil(t, e)
				require.NotEmpty(t, q)
				return
			}
			require.NotNil(t, e)
			require.Equal(t, http.StatusBadRequest, e.Status)
			require.Equal(t, tc.wantCode, e.Code)
			if tc.wantFld != "" {
				require.NotEmpty(t, e.Fields)
				require.Equal(t, tc.wantFld, e.Fields[0].Field)
			}
		})
	}
}
