package media_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/media"
)

func TestSanitizeFilename(t *testing.T) {
	png, _ := media.Lookup("image/png")
	pdf, _ := media.Lookup("application/pdf")
	for _, tc := range []struct {
		name string
		in   string
		t    media.Type
		want string
	}{
		{"plain", "photo.png", png, "photo.png"},
		{"path traversal", "../../etc/passwd.png", png, "passwd.png"},
		{"windows path", `C:\Users\x\Desktop\scan.pdf`, pdf, "scan.pdf"},
		{"control characters", "in\x00voi\x1bce\r\n.pdf", pdf, "invoice.pdf"},
		{"bidi override and zero width", "recei\u202ept\u200b.pdf", pdf, "receipt.pdf"},
		{"forbidden characters", `a<b>c:d"e|f?g*.pdf`, pdf, "a_b_c_d_e_f_g_.pdf"},
		{"hidden-file dots and spaces", " ..secret. .pdf", pdf, "secret.pdf"},
		{"upper-case extension", "SCAN.PDF", pdf, "SCAN.pdf"},
		{"no extension gets the type's", "scan", pdf, "scan.pdf"},
		{"only dots", "..", png, "file.png"},
		{"empty", "", png, "file.png"},
		{"invalid utf-8", "f\xffoto.png", png, "foto.png"},
		{"decomposed accents become composed", "cafe\u0301.pdf", pdf, "café.pdf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, media.SanitizeFilename(tc.in, tc.t))
		})
	}
}

func TestSanitizeFilenameLength(t *testing.T) {
	pdf, _ := media.Lookup("application/pdf")
	long := strings.Repeat("ü", 300) + ".pdf"
	got := media.SanitizeFilename(long, pdf)
	require.LessOrEqual(t, len(got), media.MaxFilenameBytes)
	assert.True(t, strings.HasSuffix(got, "ü.pdf"), "cut at a character boundary, extension kept: %q", got)
}
