package app

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// maxEmailBytes bounds a normalised address (RFC 5321's path limit).
const maxEmailBytes = 254

// NormalizeEmail returns the normalised form of a bare email address: NFKC
// (fullwidth and other compatibility forms become their plain letters), then
// lower case. ErrInvalidEmail when it is not one valid bare address ("Name
// <a@b>" is refused) or holds an invisible or format character. It does not
// check scripts: logins look addresses up with it, and an address stored
// before the script rule must still find its user; CreateUser checks them.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 4*maxEmailBytes || !utf8.ValidString(s) {
		return "", ErrInvalidEmail
	}
	n := fold(s)
	if len(n) > maxEmailBytes || hasInvisible(n) {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(n)
	if err != nil || a.Address != n || a.Name != "" {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(n, '@')
	if at <= 0 || !strings.Contains(n[at:], ".") {
		return "", ErrInvalidEmail
	}
	return n, nil
}

// fold is NFKC and lower case, repeated until nothing changes (lower-casing
// can undo NFC, and NFKC can produce capitals), at most a few rounds.
func fold(s string) string {
	for range 4 {
		n := norm.NFKC.String(strings.ToLower(norm.NFKC.String(s)))
		if n == s {
			break
		}
		s = n
	}
	return s
}

// hasInvisible reports a character that shows nothing or changes how others
// show: controls, format characters (zero-width space and joiners,
// bidirectional overrides), private-use, unassigned code points, spaces
// other than ASCII and the letters that render blank.
func hasInvisible(s string) bool {
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			if r < 0x20 || r == 0x7f {
				return true
			}
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zs, unicode.Zl, unicode.Zp):
			return true
		case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
			return true // unassigned
		case blankLetters[r]:
			return true
		}
	}
	return false
}

// blankLetters are letters (category Lo) that render as nothing.
var blankLetters = map[rune]bool{
	0x115F: true, 0x1160: true, 0x3164: true, 0xFFA0: true, // Hangul fillers
	0x2800: true, // braille blank
	0x180E: true, // Mongolian vowel separator (Cf in newer Unicode, Zs in older)
}

// MixedScript reports whether a part of a normalised address (the local part
// and each domain label, split at ".", "+", "-" and "_") holds letters of
// more than one script, other than the mixes of Latin with Han, Hiragana,
// Katakana, Hangul or Bopomofo that Chinese, Japanese and Korean use (UTS 39's
// "highly restrictive" level). Digits and punctuation belong to no script.
func MixedScript(email string) bool {
	for _, part := range strings.FieldsFunc(email, func(r rune) bool {
		return r == '@' || r == '.' || r == '+' || r == '-' || r == '_'
	}) {
		if !singleScript(part) {
			return true
		}
	}
	return false
}

// The script sets one part may combine.
var allowedMixes = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

func singleScript(part string) bool {
	var scripts []string
	for _, r := range part {
		sc := scriptOf(r)
		if sc == "" || contains(scripts, sc) {
			continue
		}
		scripts = append(scripts, sc)
	}
	if len(scripts) <= 1 {
		return true
	}
	for _, mix := range allowedMixes {
		all := true
		for _, sc := range scripts {
			all = all && contains(mix, sc)
		}
		if all {
			return true
		}
	}
	return false
}

// scriptOf is the Unicode script of r, "" for characters shared by every
// script (digits, punctuation, combining marks).
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if unicode.IsLetter(r) {
			return "Latin"
		}
		return ""
	}
	if unicode.In(r, unicode.Common, unicode.Inherited) {
		return ""
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Skeleton is the form under which look-alike addresses collide: the
// normalised address decomposed (NFD), with every character of the table
// below replaced by the ASCII character it looks like, recomposed (NFC). An
// address of ASCII characters only is its own skeleton: "ana1" and "anal" are
// different people's addresses, and the table maps no ASCII character.
//
// The table is the part of Unicode's confusables (UTS 39) that matters for
// email addresses once NFKC has folded the compatibility forms (fullwidth,
// mathematical, circled, Roman numerals): the lower-case letters of Cyrillic,
// Greek, Armenian and the Latin extensions that look like ASCII letters, and
// the dashes.
func Skeleton(email string) string {
	d := norm.NFD.String(email)
	var b strings.Builder
	b.Grow(len(d))
	changed := false
	for _, r := range d {
		if m, ok := confusables[r]; ok {
			b.WriteRune(m)
			changed = true
			continue
		}
		b.WriteRune(r)
	}
	if !changed {
		return norm.NFC.String(email)
	}
	return norm.NFC.String(b.String())
}

// confusables maps a character to the ASCII character it looks like.
var confusables = map[rune]rune{
	// Cyrillic.
	'а': 'a', 'в': 'b', 'с': 'c', 'ԁ': 'd', 'е': 'e', 'һ': 'h', 'і': 'i', 'ј': 'j', 'к': 'k', 'ӏ': 'l', 'м': 'm',
	'п': 'n', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'г': 'r', 'ѕ': 's', 'т': 't', 'ц': 'u', 'ѵ': 'v', 'ԝ': 'w',
	'ѡ': 'w', 'х': 'x', 'у': 'y', 'ү': 'y', 'ԍ': 'g', 'ь': 'b', 'ɜ': 'e',
	// Greek.
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x', 'γ': 'y', 'ϲ': 'c', 'ϳ': 'j', 'ω': 'w',
	// Armenian.
	'օ': 'o', 'ս': 'u', 'ո': 'n', 'հ': 'h', 'զ': 'q', 'ց': 'g', 'ա': 'w',
	// Latin extensions and IPA.
	'ı': 'i', 'ɩ': 'i', 'ɪ': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɡ': 'g', 'ǀ': 'l', 'ɭ': 'l', 'ʋ': 'u', 'ʏ': 'y',
	'ᴀ': 'a', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ᴊ': 'j', 'ᴋ': 'k', 'ᴍ': 'm', 'ᴏ': 'o', 'ᴘ': 'p', 'ᴛ': 't',
	'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ᴢ': 'z', 'ꜱ': 's',
	// Cherokee and Lisu letters shaped like Latin capitals fold to their
	// lower case here because addresses are compared lower-cased.
	'ꭺ': 'a', 'ꮯ': 'c', 'ꭼ': 'e', 'ꮋ': 'h', 'ꮪ': 's', 'ꮃ': 'w',
	// Dashes and minus.
	'‐': '-', '‒': '-', '–': '-', '—': '-', '―': '-', '−': '-', '⁃': '-', '˗': '-',
	// Dots.
	'·': '.', '٠': '.', '۰': '.', 'ꓸ': '.',
}
