// Package sealed encrypts sensitive data at rest: customer names, e-mails
// and attributes, message bodies, and media bytes. It is the one place the
// engine's cryptography lives; the stores call it around their reads and
// writes.
//
// A Keyring holds the data encryption keys from DATA_ENCRYPTION_KEYS
// ("id:base64key,..."; 32-byte AES-256 keys) and the lookup hash key from
// DATA_HASH_KEY. The first encryption key seals every new value; all of
// them open, so a key rotates without downtime: put the new key first,
// keep the old ones, run `engine reencrypt`, then retire the old ones. A
// nil *Keyring is encryption off.
//
// # Formats
//
// A field (Seal, SealString) is sealed with AES-256-GCM under a random
// 96-bit nonce and carries a magic, a version byte, the id of its key and
// the nonce, so every stored value says which key sealed it. A media blob
// (SealReader, OpenStream) is sealed in 64 KiB segments so it stays
// seekable. Every seal takes an AAD naming where the value lives (AAD:
// table or collection, field, record id; for blobs, the blob's SHA-256):
// a ciphertext copied to another row or field fails to open with
// ErrCorrupt instead of showing another customer's data.
//
// # Guarantees
//
//   - Open and OpenString return values that are not sealed unchanged, so
//     rows written before encryption was turned on stay readable (and
//     `engine reencrypt` seals them). A sealed value never comes back as
//     anything but its plaintext or an error: ErrUnknownKey, ErrCorrupt,
//     or ErrNoKeys when read with encryption off.
//   - Hash (HMAC-SHA256 under DATA_HASH_KEY, with a domain) is stable
//     across encryption key rotations, so lookups and unique indexes over
//     it survive a rotation. Changing DATA_HASH_KEY itself is not
//     supported in place.
//   - Safe for concurrent use; errors never contain key material or
//     plaintext.
package sealed
