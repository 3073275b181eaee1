package sealed

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// Version is the format version byte written into every sealed value and
// stream.
const Version byte = 1

// Layout of a sealed value (Seal):
//
//	magic "\x1eSEAL" | version | key id length | key id | nonce (12) | AES-256-GCM ciphertext and tag (16)
//
// A sealed string (SealString) is TextPrefix followed by the standard
// base64 of the sealed value, so it fits TEXT columns and BSON strings.
const (
	valueMagic = "\x1eSEAL"
	// TextPrefix starts every sealed string. It begins with the ASCII
	// record separator, which no field the engine stores is expected to
	// start with; a plaintext that does is read as a (corrupt) sealed
	// value, never shown as something else.
	TextPrefix = "\x1esealed:"
	nonceSize  = 12
	tagSize    = 16
)

// IsSealed reports whether b has the form of a sealed value.
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, []byte(valueMagic)) }

// IsSealedString reports whether s has the form of a sealed string.
func IsSealedString(s string) bool { return strings.HasPrefix(s, TextPrefix) }

// Seal encrypts plain under the current key, bound to aad. With k nil
// (encryption off) it returns plain itself. nil and empty plain seal too:
// callers that keep "no value" as NULL test for it before sealing.
func (k *Keyring) Seal(aad, plain []byte) []byte {
	if k == nil {
		return plain
	}
	cur := &k.keys[0]
	out := make([]byte, 0, len(valueMagic)+2+len(cur.id)+nonceSize+len(plain)+tagSize)
	out = append(out, valueMagic...)
	out = append(out, Version, byte(len(cur.id)))
	out = append(out, cur.id...)
	nonce := out[len(out) : len(out)+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("sealed: crypto/rand failed: %v", err)) // crypto/rand never fails on supported platforms
	}
	out = out[:len(out)+nonceSize]
	return cur.aead.Seal(out, nonce, plain, aad)
}

// Open returns the plaintext of a value Seal made, checking it against
// aad. A value that is not sealed (written before encryption was turned
// on) is returned as it is. ErrNoKeys when k is nil and b is sealed,
// ErrUnknownKey for a key id k does not hold, ErrCorrupt otherwise.
func (k *Keyring) Open(aad, b []byte) ([]byte, error) {
	if !IsSealed(b) {
		return b, nil
	}
	if k == nil {
		return nil, ErrNoKeys
	}
	kk, nonce, ct, err := k.parse(b)
	if err != nil {
		return nil, err
	}
	plain, err := kk.aead.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", kk.id, ErrCorrupt)
	}
	return plain, nil
}

// parse splits a sealed value into its key, nonce and ciphertext.
func (k *Keyring) parse(b []byte) (*key, []byte, []byte, error) {
	id, rest, err := header(b)
	if err != nil {
		return nil, nil, nil, err
	}
	kk, ok := k.byID[id]
	if !ok {
		return nil, nil, nil, fmt.Errorf("key %q: %w", id, ErrUnknownKey)
	}
	if len(rest) < nonceSize+tagSize {
		return nil, nil, nil, fmt.Errorf("value of %d bytes is truncated: %w", len(b), ErrCorrupt)
	}
	return kk, rest[:nonceSize], rest[nonceSize:], nil
}

// header reads the version and key id of a sealed value.
func header(b []byte) (id string, rest []byte, err error) {
	b = b[len(valueMagic):]
	if len(b) < 2 {
		return "", nil, fmt.Errorf("header truncated: %w", ErrCorrupt)
	}
	if b[0] != Version {
		return "", nil, fmt.Errorf("format version %d: %w", b[0], ErrCorrupt)
	}
	n := int(b[1])
	if n == 0 || n > maxKeyIDLen || len(b) < 2+n {
		return "", nil, fmt.Errorf("key id length %d: %w", n, ErrCorrupt)
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}

// KeyID is the id of the key that sealed b; false when b is not sealed or
// its header is malformed.
func KeyID(b []byte) (string, bool) {
	if !IsSealed(b) {
		return "", false
	}
	id, _, err := header(b)
	return id, err == nil
}

// StringKeyID is KeyID of a sealed string.
func StringKeyID(s string) (string, bool) {
	if !IsSealedString(s) {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(s[len(TextPrefix):])
	if err != nil {
		return "", false
	}
	return KeyID(b)
}

// Stale reports whether b needs re-encryption: it is plaintext, or sealed
// under a key other than the current one. Always false when k is nil or b
// is empty (empty values are kept empty, see SealString).
func (k *Keyring) Stale(b []byte) bool {
	if k == nil || len(b) == 0 {
		return false
	}
	id, ok := KeyID(b)
	return !ok || id != k.Current()
}

// StaleString is Stale of a string field.
func (k *Keyring) StaleString(s string) bool {
	if k == nil || s == "" {
		return false
	}
	id, ok := StringKeyID(s)
	return !ok || id != k.Current()
}

// SealString is Seal for a string field: TextPrefix and the base64 of the
// sealed value. With k nil it returns s. "" stays "" so empty optional
// fields cost nothing and reveal only that they are empty.
func (k *Keyring) SealString(aad []byte, s string) string {
	if k == nil || s == "" {
		return s
	}
	return TextPrefix + base64.StdEncoding.EncodeToString(k.Seal(aad, []byte(s)))
}

// OpenString is Open for a string field SealString wrote; plaintext
// passes through.
func (k *Keyring) OpenString(aad []byte, s string) (string, error) {
	if !IsSealedString(s) {
		return s, nil
	}
	b, err := base64.StdEncoding.DecodeString(s[len(TextPrefix):])
	if err != nil || !IsSealed(b) {
		return "", fmt.Errorf("sealed string is not base64 of a sealed value: %w", ErrCorrupt)
	}
	plain, err := k.Open(aad, b)
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// SealBytes is Seal that keeps an empty value empty (NULL in the stores).
func (k *Keyring) SealBytes(aad, b []byte) []byte {
	if k == nil || len(b) == 0 {
		return b
	}
	return k.Seal(aad, b)
}

// BlobAAD binds sealed media bytes to their content address: the stores
// keep them under the SHA-256 of the plaintext, and bytes moved under
// another digest do not open.
func BlobAAD(sha string) []byte { return AAD("media", "bytes", sha) }
