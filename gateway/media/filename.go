package media

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxFilenameBytes is the longest display name kept, in bytes of UTF-8.
const MaxFilenameBytes = 200

// SanitizeFilename makes a client's filename safe to show, for display only
// (it never becomes a storage path): the last element of any path (/ or \),
// NFC, without control, format (bidi overrides, zero-width) or invalid
// characters, without the characters Windows forbids in names, without
// leading and trailing dots and spaces, at most MaxFilenameBytes long with
// its extension kept. An empty result is "file". The extension is lower
// case; a name without one, or with one that does not fit t, gets t's
// canonical extension appended.
func SanitizeFilename(name string, t Type) string {
	name = cleanName(name)
	stem, ext := splitExt(name)
	if ext == "" || !t.agreesWithExt(ext) {
		stem, ext = name, t.Exts[0]
	}
	stem = strings.TrimRight(truncate(stem, MaxFilenameBytes-len(ext)), " .")
	if stem == "" {
		stem = "file"
	}
	return stem + ext
}

// cleanName is SanitizeFilename without the extension rules.
func cleanName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = norm.NFC.String(name)
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			continue // bidi overrides and isolates, zero-width characters, C0/C1 controls
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	return strings.Trim(b.String(), " .")
}

// splitExt splits off a short ASCII extension (".pdf"), lower-cased; a
// name without one has ext "".
func splitExt(name string) (stem, ext string) {
	ext = path.Ext(name)
	if len(ext) < 2 || len(ext) > 8 || ext == name {
		return name, ""
	}
	for _, r := range ext[1:] {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return name, ""
		}
	}
	return strings.TrimRight(name[:len(name)-len(ext)], " ."), strings.ToLower(ext)
}

// truncate cuts s to at most n bytes at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
