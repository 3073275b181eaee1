package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KeySize is the length of every key: AES-256 and the HMAC-SHA256 lookup
// key alike.
const KeySize = 32

// maxKeyIDLen bounds a key id; it is written into every sealed value.
const maxKeyIDLen = 32

// Sentinels callers branch on.
var (
	// ErrUnknownKey: the value names a key id the keyring does not hold
	// (a key retired too early, or a value from another deployment).
	ErrUnknownKey = errors.New("sealed: unknown key id")
	// ErrCorrupt: the value is not a well-formed sealed value, or it fails
	// authentication (tampered, truncated, or opened with the wrong AAD,
	// i.e. copied from another row or field).
	ErrCorrupt = errors.New("sealed: corrupt or tampered value")
	// ErrNoKeys: a sealed value was read while encryption is off.
	ErrNoKeys = errors.New("sealed: value is encrypted but no DATA_ENCRYPTION_KEYS are configured")
)

type key struct {
	id   string
	aead cipher.AEAD
	raw  []byte // for the stream cipher's per-segment AEAD (same key)
}

// Keyring holds the data encryption keys (the first seals, all open) and
// the lookup hash key. A nil *Keyring is encryption off: Seal returns its
// input unchanged, Open passes plaintext through and refuses sealed
// values with ErrNoKeys, Hash returns "". Safe for concurrent use.
type Keyring struct {
	keys    []key
	byID    map[string]*key
	hashKey []byte
}

// Parse builds a keyring from DATA_ENCRYPTION_KEYS ("id:base64key,..."
// with 32-byte keys, standard or URL base64, padded or not) and
// DATA_HASH_KEY (base64, 32 bytes). It returns nil and no error when
// keys is empty (encryption off); hashKey is then ignored. Errors name
// the entry, never the key material.
func Parse(keys, hashKey string) (*Keyring, error) {
	keys = strings.TrimSpace(keys)
	if keys == "" {
		return nil, nil
	}
	k := &Keyring{byID: map[string]*key{}}
	for i, entry := range strings.Split(keys, ",") {
		entry = strings.TrimSpace(entry)
		id, b64, ok := strings.Cut(entry, ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("DATA_ENCRYPTION_KEYS entry %d: want id:base64key", i+1)
		}
		if !validKeyID(id) {
			return nil, fmt.Errorf("DATA_ENCRYPTION_KEYS entry %d: key id %q: use 1-%d letters, digits, '-' or '_'", i+1, id, maxKeyIDLen)
		}
		if slices.ContainsFunc(k.keys, func(kk key) bool { return kk.id == id }) {
			return nil, fmt.Errorf("DATA_ENCRYPTION_KEYS entry %d: key id %q appears twice", i+1, id)
		}
		raw, err := decodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("DATA_ENCRYPTION_KEYS key %q: %w", id, err)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return nil, fmt.Errorf("DATA_ENCRYPTION_KEYS key %q: %w", id, err)
		}
		k.keys = append(k.keys, key{id: id, aead: aead, raw: raw})
	}
	for i := range k.keys {
		k.byID[k.keys[i].id] = &k.keys[i]
	}
	if strings.TrimSpace(hashKey) == "" {
		return nil, errors.New("DATA_HASH_KEY is required with DATA_ENCRYPTION_KEYS: the lookup hash of e-mails must not change when encryption keys rotate, so it has its own key (32 bytes, base64)")
	}
	hk, err := decodeKey(strings.TrimSpace(hashKey))
	if err != nil {
		return nil, fmt.Errorf("DATA_HASH_KEY: %w", err)
	}
	for _, kk := range k.keys {
		if hmac.Equal(kk.raw, hk) {
			return nil, fmt.Errorf("DATA_HASH_KEY must differ from encryption key %q", kk.id)
		}
	}
	k.hashKey = hk
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("key is %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not base64")
}

func newAEAD(raw []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > maxKeyIDLen {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// On reports whether encryption is on (k is not nil).
func (k *Keyring) On() bool { return k != nil }

// Current is the id of the key new values are sealed with; "" when off.
func (k *Keyring) Current() string {
	if k == nil {
		return ""
	}
	return k.keys[0].id
}

// IDs are the key ids, the current one first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, len(k.keys))
	for i, kk := range k.keys {
		ids[i] = kk.id
	}
	return ids
}

// Hash is the lookup hash of value in domain (e.g. "customer.email"): hex
// HMAC-SHA256 under DATA_HASH_KEY, which does not rotate with the
// encryption keys. Callers normalise value first. "" when off or when
// value is "" (so an empty field never collides in a unique index).
func (k *Keyring) Hash(domain, value string) string {
	if k == nil || value == "" {
		return ""
	}
	m := hmac.New(sha256.New, k.hashKey)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// AAD binds a sealed value to where it is stored: collection or table,
// field, and the record's id. A value copied to another row or field does
// not open.
func AAD(table, field, id string) []byte {
	return []byte(table + "\x00" + field + "\x00" + id)
}
