package webhook

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metaEscapedBody is a webhook body written the way Meta serialises it:
// ASCII only, non-ASCII characters as lowercase \uXXXX escapes (a
// surrogate pair for the emoji beyond the Basic Multilingual Plane) and
// every "/" as "\/". Meta signs exactly these bytes.
const metaEscapedBody = `{"object":"whatsapp_business_account","entry":[{"id":"100000000000002","changes":[{"value":{"messaging_product":"whatsapp",` +
	`"metadata":{"display_phone_number":"15550001111","phone_number_id":"1122334455667"},` +
	`"contacts":[{"profile":{"name":"Jos\u00e9 \u00c5str\u00f6m"},"wa_id":"919876543210"}],` +
	`"messages":[{"from":"919876543210","id":"wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgUM0FCQzEyMzQ1Njc4OTBBQkNERUYA","timestamp":"1740823200","type":"text",` +
	`"text":{"body":"Ol\u00e1 \ud83d\ude00, see https:\/\/example.com\/orders\/42 \u2014 \u4f60\u597d"}}]},"field":"messages"}]}]}`

const escapedSecret = "meta-app-secret"

// TestVerifySignatureOnMetaEscapedBodies: the signature is checked over
// the raw bytes Meta sent, escapes and all; the decoded text is the
// original; and a body that was decoded and encoded again (which turns
// the escapes back into UTF-8 and "\/" into "/") no longer matches, so a
// check that re-serialised the JSON would refuse every such webhook.
func TestVerifySignatureOnMetaEscapedBodies(t *testing.T) {
	body := []byte(metaEscapedBody)
	sig := Sign(body, escapedSecret)

	reencoded := reserialise(t, body)
	require.False(t, bytes.Equal(body, reencoded), "re-serialising changes the bytes")
	require.True(t, json.Valid(reencoded))

	cases := []struct {
		name string
		body []byte
		want bool
	}{
		{name: "the escaped bytes as sent", body: body, want: true},
		{name: "the same JSON re-serialised", body: reencoded, want: false},
		{name: "one escape in upper case", body: bytes.Replace(body, []byte(`\u00e1`), []byte(`\u00E1`), 1), want: false},
		{name: "one slash unescaped", body: bytes.Replace(body, []byte(`https:\/\/`), []byte(`https://`), 1), want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, VerifySignature(tc.body, sig, escapedSecret))
		})
	}

	t.Run("parsed text is the original", func(t *testing.T) {
		batch, err := Parse(body)
		require.NoError(t, err)
		require.Len(t, batch.Messages, 1)
		m := batch.Messages[0]
		assert.Equal(t, "Olá 😀, see https://example.com/orders/42 — 你好", m.Text)
		assert.Equal(t, "José Åström", m.ProfileName)
		assert.Equal(t, "919876543210", m.WaID)
	})
}

// TestVerifySignatureOnBatchedEscapedBody: a body batching several
// entries, statuses and messages, escaped, verifies over its raw bytes
// and parses into every message and status.
func TestVerifySignatureOnBatchedEscapedBody(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[` +
		`{"id":"100000000000002","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"111"},` +
		`"statuses":[{"id":"wamid.A","status":"delivered","timestamp":"1740823200","recipient_id":"919876543210"},` +
		`{"id":"wamid.B","status":"read","timestamp":"1740823201","recipient_id":"919876543211"}]},"field":"messages"}]},` +
		`{"id":"100000000000002","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550002222","phone_number_id":"222"},` +
		`"contacts":[{"profile":{"name":"M\u00fcller"},"wa_id":"4915112345678"}],` +
		`"messages":[{"from":"4915112345678","id":"wamid.C","timestamp":"1740823202","type":"text","text":{"body":"Gr\u00fc\u00dfe \ud83c\udf89"}},` +
		`{"from":"4915112345678","id":"wamid.D","timestamp":"1740823203","type":"text","text":{"body":"a\/b"}}]},"field":"messages"}]}]}`)
	sig := Sign(body, escapedSecret)
	require.True(t, VerifySignature(body, sig, escapedSecret))
	require.False(t, VerifySignature(reserialise(t, body), sig, escapedSecret))

	batch, err := Parse(body)
	require.NoError(t, err)
	require.Len(t, batch.Statuses, 2)
	assert.Equal(t, "111", batch.Statuses[1].PhoneNumberID)
	require.Len(t, batch.Messages, 2)
	assert.Equal(t, "Grüße 🎉", batch.Messages[0].Text)
	assert.Equal(t, "a/b", batch.Messages[1].Text)
	assert.Equal(t, "Müller", batch.Messages[1].ProfileName)
	assert.Equal(t, "222", batch.Messages[1].PhoneNumberID)
}

// reserialise decodes body and encodes it again as a typical JSON library
// does (UTF-8, "/" unescaped).
func reserialise(t *testing.T, body []byte) []byte {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
