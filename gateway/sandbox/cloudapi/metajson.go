package cloudapi

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// marshalMeta encodes v the way Meta serialises webhook bodies: ASCII
// only, every non-ASCII character as a lowercase \uXXXX escape (a
// surrogate pair beyond the Basic Multilingual Plane), "/" as "\/", and
// <, > and & left as they are. Meta signs exactly these bytes, so a
// receiver that re-encodes the JSON before checking X-Hub-Signature-256
// computes a different digest; the sandbox sends them so the engine's
// verification meets the same bytes it meets in production.
func marshalMeta(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return escapeMeta(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// escapeMeta rewrites valid JSON (as encoding/json writes it: UTF-8, no
// insignificant whitespace) into Meta's escaping. Non-ASCII bytes and "/"
// only ever occur inside JSON strings, so a byte-level pass is enough.
func escapeMeta(b []byte) []byte {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(b)+len(b)/8)
	u16 := func(r rune) {
		out = append(out, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '/':
			out = append(out, '\\', '/')
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			i += size
			if r >= 0x10000 {
				r -= 0x10000
				u16(0xd800 + r>>10)
				u16(0xdc00 + r&0x3ff)
				continue
			}
			u16(r) // encoding/json already replaced invalid UTF-8 with U+FFFD
		}
	}
	return out
}
