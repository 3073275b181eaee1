package app_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/app"
)

func TestNormalizeEmail(t *testing.T) {
	cases := []struct {
		name string
		in   string
		// want is the normalised address; empty means ErrInvalidEmail.
		want string
	}{
		{name: "lower-cased", in: "Ana.Lima@Example.COM", want: "ana.lima@example.com"},
		{name: "spaces around trimmed", in: "  ana@example.com\t", want: "ana@example.com"},
		{name: "fullwidth folds to ASCII", in: "ａｎａ＠ｅｘａｍｐｌｅ．ｃｏｍ", want: "ana@example.com"},
		{name: "mathematical letters fold", in: "𝐚𝐧𝐚@example.com", want: "ana@example.com"},
		{name: "ligature folds", in: "ﬁona@example.com", want: "fiona@example.com"},
		{name: "Cyrillic stays Cyrillic", in: "Иван@example.com", want: "иван@example.com"},
		{name: "accent composed", in: "jose\u0301@example.com", want: "josé@example.com"},
		{name: "plus address", in: "ana+work@example.com", want: "ana+work@example.com"},
		{name: "empty", in: "", want: ""},
		{name: "display name", in: "Ana <ana@example.com>", want: ""},
		{name: "no domain dot", in: "ana@localhost", want: ""},
		{name: "two at signs", in: "ana@b@example.com", want: ""},
		{name: "zero-width space", in: "an\u200ba@example.com", want: ""},
		{name: "right-to-left override", in: "ana\u202e@example.com", want: ""},
		{name: "Hangul filler", in: "ana\u3164@example.com", want: ""},
		{name: "no-break space folds to a space", in: "ana\u00a0x@example.com", want: ""},
		{name: "private use", in: "ana\ue000@example.com", want: ""},
		{name: "too long", in: strings.Repeat("a", 250) + "@example.com", want: ""},
		{name: "invalid UTF-8", in: "an\xffa@example.com", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := app.NormalizeEmail(tc.in)
			if tc.want == "" {
				require.ErrorIs(t, err, app.ErrInvalidEmail, "got %q", got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			again, err := app.NormalizeEmail(got)
			require.NoError(t, err)
			assert.Equal(t, got, again, "normalising is idempotent")
		})
	}
}

func TestSkeletonAndMixedScript(t *testing.T) {
	cases := []struct {
		name string
		// email is normalised already.
		email    string
		skeleton string
		mixed    bool
	}{
		{name: "ASCII is its own skeleton", email: "ana1@example.com", skeleton: "ana1@example.com"},
		{name: "ASCII l and 1 stay distinct", email: "anal@example.com", skeleton: "anal@example.com"},
		{name: "one Cyrillic a", email: "\u0430dmin@example.com", skeleton: "admin@example.com", mixed: true},
		{name: "Cyrillic o in the domain", email: "admin@ex\u0430mple.c\u043em", skeleton: "admin@example.com", mixed: true},
		{name: "all-Cyrillic look-alike", email: "\u0430\u0441\u0435@example.com", skeleton: "ace@example.com"},
		{name: "Greek omicron", email: "b\u03bfb@example.com", skeleton: "bob@example.com", mixed: true},
		{name: "Armenian oh", email: "b\u0585b@example.com", skeleton: "bob@example.com", mixed: true},
		{name: "dotless i is Latin", email: "\u0131van@example.com", skeleton: "ivan@example.com"},
		{name: "Cyrillic e with diaeresis keeps the accent", email: "\u0451@example.com", skeleton: "\u00eb@example.com"},
		{name: "en dash", email: "a\u2013b@example.com", skeleton: "a-b@example.com"},
		{name: "Cyrillic name, Latin domain", email: "\u0438\u0432\u0430\u043d@example.com", skeleton: "\u0438ba\u043d@example.com"},
		{name: "Cyrillic and Latin in separate parts", email: "\u0438\u0432\u0430\u043d.smith@example.com", skeleton: "\u0438ba\u043d.smith@example.com"},
		{name: "Japanese mix allowed", email: "\u3042\u30a2\u6f22abc@example.jp", skeleton: "\u3042\u30a2\u6f22abc@example.jp"},
		{name: "Greek and Cyrillic mixed", email: "\u03b1\u0430@example.com", skeleton: "aa@example.com", mixed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.skeleton, app.Skeleton(tc.email))
			assert.Equal(t, tc.skeleton, app.Skeleton(app.Skeleton(tc.email)), "skeleton is idempotent")
			assert.Equal(t, tc.mixed, app.MixedScript(tc.email))
		})
	}
}

// FuzzNormalizeEmail checks that a normalised address normalises to itself
// and that its skeleton is stable.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ana@example.com", "ＡＮＡ@example.com", "ᴬna@example.com", "İstanbul@example.com", "\u0430dmin@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := app.NormalizeEmail(s)
		if err != nil {
			return
		}
		again, err := app.NormalizeEmail(n)
		require.NoError(t, err, "normalised %q from %q", n, s)
		require.Equal(t, n, again)
		sk := app.Skeleton(n)
		require.Equal(t, sk, app.Skeleton(sk))
	})
}
