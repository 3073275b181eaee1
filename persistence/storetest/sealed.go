package storetest

import (
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/persistence/sealed"
)

// NewKey returns a fresh random 32-byte key, base64.
func NewKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, sealed.KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// Keyring returns a keyring of the given "id:base64key" entries (a fresh
// key "k1" when none) and hashKey (fresh when "").
func Keyring(t testing.TB, hashKey string, entries ...string) *sealed.Keyring {
	t.Helper()
	if len(entries) == 0 {
		entries = []string{"k1:" + NewKey(t)}
	}
	if hashKey == "" {
		hashKey = NewKey(t)
	}
	spec := ""
	for i, e := range entries {
		if i > 0 {
			spec += ","
		}
		spec += e
	}
	k, err := sealed.Parse(spec, hashKey)
	require.NoError(t, err)
	return k
}
