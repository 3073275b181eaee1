package mediabytes

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidSHA256(t *testing.T) {
	sum := sha256.Sum256([]byte("invoice"))
	good := hex.EncodeToString(sum[:])
	tests := []struct {
		name string
		sha  string
		want bool
	}{
		{name: "a digest", sha: good, want: true},
		{name: "all zeros", sha: strings.Repeat("0", 64), want: true},
		{name: "upper case", sha: strings.ToUpper(good)},
		{name: "one short", sha: good[:63]},
		{name: "one long", sha: good + "a"},
		{name: "empty", sha: ""},
		{name: "a path", sha: "../" + good[3:]},
		{name: "a slash inside", sha: good[:10] + "/" + good[11:]},
		{name: "not hex", sha: good[:63] + "g"},
		{name: "a NUL", sha: good[:63] + "\x00"},
		{name: "multi-byte", sha: good[:62] + "é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ValidSHA256(tt.sha))
		})
	}
}
