package sealed

import (
	"bytes"
	"encoding/base64"
	"io"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to every opener: none may panic, and
// whatever opens must be a value the keyring sealed with that AAD.
func FuzzOpen(f *testing.F) {
	k, err := Parse("k1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, KeySize)),
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, KeySize)))
	if err != nil {
		f.Fatal(err)
	}
	aad := AAD("customers", "name", "c1")
	f.Add(k.Seal(aad, []byte("Asha")))
	f.Add([]byte(k.SealString(aad, "asha@example.com")))
	st, _ := io.ReadAll(k.SealReader(aad, bytes.NewReader(bytes.Repeat([]byte("x"), 100))))
	f.Add(st)
	f.Add([]byte(valueMagic + "\x01\x02k1"))
	f.Add([]byte(streamMagic + "\x01\x02k1abcdefg"))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, b []byte) {
		plain, err := k.Open(aad, b)
		switch {
		case err == nil && !IsSealed(b) && !bytes.Equal(plain, b):
			t.Fatal("plaintext did not pass through unchanged")
		case err == nil && IsSealed(b):
			if id, ok := KeyID(b); !ok || id != "k1" {
				t.Fatalf("opened a value whose key id is %q", id)
			}
		}
		_, _ = k.OpenString(aad, string(b))
		_, _ = StringKeyID(string(b))
		_, _ = KeyID(b)
		_, _ = StreamKeyID(b)
		if sr, _, err := k.OpenStream(aad, bytes.NewReader(b), int64(len(b))); err == nil && sr != nil {
			_, _ = io.ReadAll(sr)
			_, _ = sr.Seek(-1, io.SeekEnd)
			_, _ = io.ReadAll(sr)
		}
	})
}
