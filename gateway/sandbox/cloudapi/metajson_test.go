package cloudapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // checking Meta's SHA-1 X-Hub-Signature
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/webhook"
)

func TestEscapeMeta(t *testing.T) {
	cases := []struct {
		name string
		in   string // a Go string, encoded as a JSON string
		want string // the JSON Meta sends
	}{
		{name: "ASCII unchanged", in: "hello, world", want: `"hello, world"`},
		{name: "Latin-1 as lowercase \\u", in: "Olá é", want: `"Ol\u00e1 \u00e9"`},
		{name: "CJK", in: "你好", want: `"\u4f60\u597d"`},
		{name: "emoji beyond the BMP as a surrogate pair", in: "😀", want: `"\ud83d\ude00"`},
		{name: "slash escaped", in: "https://example.com/a/b", want: `"https:\/\/example.com\/a\/b"`},
		{name: "HTML characters left alone", in: "<b>&</b>", want: `"<b>&<\/b>"`},
		{name: "line separator", in: "a\u2028b", want: `"a\u2028b"`},
		{name: "control characters and quotes", in: "a\n\t\"b\\", want: `"a\n\t\"b\\"`},
		{name: "a backslash before a slash", in: `a\/b`, want: `"a\\\/b"`},
		{name: "invalid UTF-8 becomes U+FFFD", in: "a\xffb", want: `"a\ufffdb"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := marshalMeta(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
			for _, c := range got {
				assert.Less(t, c, byte(0x80), "ASCII only")
			}
			var back string
			require.NoError(t, json.Unmarshal(got, &back))
			if tc.name != "invalid UTF-8 becomes U+FFFD" {
				assert.Equal(t, tc.in, back, "decodes to the original")
			}
		})
	}
}

// testWebhookBodiesAsMetaSendsThem: inbound and status webhooks are
// ASCII-only, escaped as Meta escapes them, and signed over exactly those
// bytes in X-Hub-Signature-256 and X-Hub-Signature; re-encoding the JSON
// would change the bytes and break both signatures.
func testWebhookBodiesAsMetaSendsThem(t *testing.T) {
	h := newHarness(t, Options{}, false)
	const text = "Olá! 😀 see https://example.com/a?b=c <ok> & 你好"
	body, _ := json.Marshal(map[string]string{"from": "919876500601", "phoneNumberId": testPhoneID, "name": "Zoë", "text": text})
	res := h.inbound(t, string(body))
	require.Equal(t, http.StatusAccepted, res.status, "answer: %s", res.raw)
	require.Eventually(t, func() bool { return len(h.rcv.messages()) == 1 }, waitFor, tick)

	raw := h.rcv.allBodies()[0]
	hdr := h.rcv.header(0)
	for i, c := range raw {
		require.Less(t, c, byte(0x80), "byte %d of %s is not ASCII", i, raw)
	}
	assert.Contains(t, string(raw), `Ol\u00e1! \ud83d\ude00 see https:\/\/example.com\/a?b=c <ok> & \u4f60\u597d`)
	assert.Contains(t, string(raw), `"name":"Zo\u00eb"`)

	assert.True(t, webhook.VerifySignature(raw, hdr.Get(webhook.SignatureHeader), testSecret), "X-Hub-Signature-256 over the escaped bytes")
	mac := hmac.New(sha1.New, []byte(testSecret))
	mac.Write(raw)
	assert.Equal(t, "sha1="+hex.EncodeToString(mac.Sum(nil)), hdr.Get("X-Hub-Signature"), "the older SHA-1 signature over the same bytes")

	m := h.rcv.messages()[0]
	assert.Equal(t, text, m.Text, "the engine reads the original text")
	assert.Equal(t, "Zoë", m.ProfileName)

	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	reencoded, err := json.Marshal(v)
	require.NoError(t, err)
	assert.False(t, bytes.Equal(raw, reencoded), "re-serialising changes the bytes")
	assert.False(t, webhook.VerifySignature(reencoded, hdr.Get(webhook.SignatureHeader), testSecret), "and so breaks the signature")
}
