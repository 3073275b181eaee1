package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignatureHeader is the header Meta signs webhook bodies in.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Sign returns the X-Hub-Signature-256 value Meta would send for body:
// "sha256=" followed by the lowercase hex HMAC-SHA256 of body keyed with
// appSecret. Tests and the sandbox use it to sign the payloads they post.
func Sign(body []byte, appSecret string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header (the X-Hub-Signature-256 value,
// "sha256=<hex>") is the HMAC-SHA256 of the raw body keyed with appSecret.
// The digests are compared in constant time. It answers false for an empty
// secret and for a missing or malformed header.
func VerifySignature(body []byte, header, appSecret string) bool {
	if appSecret == "" {
		return false
	}
	digest, ok := strings.CutPrefix(strings.TrimSpace(header), signaturePrefix)
	if !ok || len(digest) != hex.EncodedLen(sha256.Size) {
		return false
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], []byte(digest)); err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return hmac.Equal(got[:], mac.Sum(nil))
}
