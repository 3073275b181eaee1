package agentsession

import (
	"encoding/json"
	"testing"
)

// FuzzParseFrame: client frames never panic the decoder; an accepted frame
// has a type and re-encodes to a frame decoded the same; its data, read as
// a conversation reference or an auth token, is either refused with a
// frame error or within the limits.
func FuzzParseFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"ping"}`, `{"type":"typing","data":{"conversationId":"0123456789abcdef0123456789abcdef"}}`,
		`{"type":"read","data":{"conversationId":"c1"}}`, `{"type":"auth","data":{"accessToken":"a.b.c"}}`,
		`{"type":"read","data":{"conversationId":"c1","extra":1}}`, `{"type":"","data":{}}`, `{"type":1}`, `[]`, `null`,
		`{"type":"ping","data":null}`, `{"type":"ping","type":"read"}`, `{"type":"typing","data":{"conversationId":null}}`,
		`{"type":"ping"} {"type":"ping"}`, "{\"type\":\"p\u0000ing\"}", `{"type":"read","data":"c1"}`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, ferr := parseFrame(b)
		if ferr != nil {
			if ferr.code == "" || ferr.message == "" {
				t.Fatalf("%q: a refusal without code or message", b)
			}
			return
		}
		if fr.Type == "" {
			t.Fatalf("%q: accepted without a type", b)
		}
		raw, err := json.Marshal(fr)
		if err != nil {
			t.Fatalf("%q: accepted frame does not re-encode: %v", b, err)
		}
		again, ferr := parseFrame(raw)
		if ferr != nil || again.Type != fr.Type || dataOf(again) != dataOf(fr) {
			t.Fatalf("%q: re-encoded %q decodes differently: %+v %v", b, raw, again, ferr)
		}
		if id, ferr := parseConversationRef(fr); ferr == nil && (id == "" || len(id) > maxIDLength) {
			t.Fatalf("%q: conversation id %q accepted", b, id)
		}
		if tok, ferr := parseAuth(fr); ferr == nil && (tok == "" || len(tok) > maxTokenLength) {
			t.Fatalf("%q: token of %d bytes accepted", b, len(tok))
		}
	})
}

// dataOf is a frame's data with absent and null alike.
func dataOf(f inFrame) string {
	if len(f.Data) == 0 {
		return "null"
	}
	// Compared by meaning, not bytes: re-encoding escapes characters
	// such as & as \u0026, the same JSON in other bytes.
	var v any
	if err := json.Unmarshal(f.Data, &v); err != nil {
		return string(f.Data)
	}
	canon, err := json.Marshal(v)
	if err != nil {
		return string(f.Data)
	}
	return string(canon)
}
