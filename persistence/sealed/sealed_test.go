package sealed

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

func ring(t testing.TB, spec string, hash string) *Keyring {
	t.Helper()
	k, err := Parse(spec, hash)
	require.NoError(t, err)
	require.NotNil(t, k)
	return k
}

func TestParse(t *testing.T) {
	k1, k2, hk := newKey(t), newKey(t), newKey(t)
	short := base64.StdEncoding.EncodeToString([]byte("too short"))
	cases := []struct {
		name, keys, hash string
		// wantErr is a fragment of the error; "" means success.
		wantErr string
	}{
		{name: "off", keys: "", hash: ""},
		{name: "one key", keys: "k1:" + k1, hash: hk},
		{name: "two keys with spaces", keys: " k1:" + k1 + " , k2:" + k2, hash: hk},
		{name: "missing colon", keys: k1, hash: hk, wantErr: "want id:base64key"},
		{name: "bad id", keys: "k 1:" + k1, hash: hk, wantErr: "key id"},
		{name: "duplicate id", keys: "k1:" + k1 + ",k1:" + k2, hash: hk, wantErr: "appears twice"},
		{name: "short key", keys: "k1:" + short, hash: hk, wantErr: "want 32"},
		{name: "not base64", keys: "k1:!!!", hash: hk, wantErr: "not base64"},
		{name: "no hash key", keys: "k1:" + k1, hash: "", wantErr: "DATA_HASH_KEY is required"},
		{name: "hash key equals a data key", keys: "k1:" + k1, hash: k1, wantErr: "must differ"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Parse(tc.keys, tc.hash)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				assert.NotContains(t, err.Error(), k1, "errors never carry key material")
				return
			}
			require.NoError(t, err)
			if tc.keys == "" {
				assert.Nil(t, k)
				return
			}
			assert.Equal(t, "k1", k.Current())
		})
	}
}

func TestSealOpen(t *testing.T) {
	k := ring(t, "k1:"+newKey(t), newKey(t))
	aad := AAD("customers", "name", "c1")
	plain := []byte("Asha Rao")
	sealedV := k.Seal(aad, plain)
	require.True(t, IsSealed(sealedV))
	assert.False(t, bytes.Contains(sealedV, plain), "ciphertext must not contain the plaintext")
	id, ok := KeyID(sealedV)
	require.True(t, ok)
	assert.Equal(t, "k1", id)
	got, err := k.Open(aad, sealedV)
	require.NoError(t, err)
	assert.Equal(t, plain, got)
	assert.NotEqual(t, sealedV, k.Seal(aad, plain), "nonces are random")

	t.Run("tampered byte fails", func(t *testing.T) {
		for i := len(valueMagic) + 2 + 2; i < len(sealedV); i++ {
			bad := bytes.Clone(sealedV)
			bad[i] ^= 0x01
			_, err := k.Open(aad, bad)
			require.ErrorIs(t, err, ErrCorrupt, "byte %d", i)
		}
	})
	t.Run("truncated fails", func(t *testing.T) {
		for n := len(valueMagic); n < len(sealedV); n++ {
			_, err := k.Open(aad, sealedV[:n])
			require.Error(t, err, "length %d", n)
		}
	})
	t.Run("wrong AAD (another row or field) fails", func(t *testing.T) {
		for _, other := range [][]byte{AAD("customers", "name", "c2"), AAD("customers", "email", "c1"), AAD("messages", "name", "c1")} {
			_, err := k.Open(other, sealedV)
			require.ErrorIs(t, err, ErrCorrupt)
		}
	})
	t.Run("unknown key id fails", func(t *testing.T) {
		other := ring(t, "k9:"+newKey(t), newKey(t))
		_, err := other.Open(aad, sealedV)
		require.ErrorIs(t, err, ErrUnknownKey)
	})
	t.Run("same id, different key fails", func(t *testing.T) {
		other := ring(t, "k1:"+newKey(t), newKey(t))
		_, err := other.Open(aad, sealedV)
		require.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("off refuses sealed and passes plaintext", func(t *testing.T) {
		var off *Keyring
		_, err := off.Open(aad, sealedV)
		require.ErrorIs(t, err, ErrNoKeys)
		got, err := off.Open(aad, plain)
		require.NoError(t, err)
		assert.Equal(t, plain, got)
		assert.Equal(t, plain, off.Seal(aad, plain))
		assert.Equal(t, "x", off.SealString(aad, "x"))
		assert.Empty(t, off.Hash("d", "x"))
	})
	t.Run("plaintext passes through", func(t *testing.T) {
		got, err := k.Open(aad, []byte("legacy row"))
		require.NoError(t, err)
		assert.Equal(t, "legacy row", string(got))
		s, err := k.OpenString(aad, "legacy row")
		require.NoError(t, err)
		assert.Equal(t, "legacy row", s)
	})
}

func TestStrings(t *testing.T) {
	k := ring(t, "k1:"+newKey(t), newKey(t))
	aad := AAD("messages", "text", "m1")
	s := k.SealString(aad, "hello there")
	require.True(t, IsSealedString(s))
	assert.NotContains(t, s, "hello")
	got, err := k.OpenString(aad, s)
	require.NoError(t, err)
	assert.Equal(t, "hello there", got)
	assert.Empty(t, k.SealString(aad, ""), "empty stays empty")
	_, err = k.OpenString(aad, TextPrefix+"***")
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = k.OpenString(AAD("messages", "text", "m2"), s)
	require.ErrorIs(t, err, ErrCorrupt)
	id, ok := StringKeyID(s)
	require.True(t, ok)
	assert.Equal(t, "k1", id)
}

func TestRotation(t *testing.T) {
	old, next, hk := newKey(t), newKey(t), newKey(t)
	k1 := ring(t, "old:"+old, hk)
	aad := AAD("customers", "email", "c1")
	v := k1.SealString(aad, "a@example.com")
	h1 := k1.Hash("customer.email", "a@example.com")

	k2 := ring(t, "new:"+next+",old:"+old, hk)
	assert.Equal(t, "new", k2.Current())
	assert.True(t, k2.StaleString(v), "a value under the old key is stale")
	got, err := k2.OpenString(aad, v)
	require.NoError(t, err, "old keys still open")
	assert.Equal(t, "a@example.com", got)
	v2 := k2.SealString(aad, got)
	assert.False(t, k2.StaleString(v2))
	id, _ := StringKeyID(v2)
	assert.Equal(t, "new", id)
	assert.Equal(t, h1, k2.Hash("customer.email", "a@example.com"), "the lookup hash does not rotate")
	assert.True(t, k2.StaleString("plain"), "plaintext is stale")

	k3 := ring(t, "new:"+next, hk)
	_, err = k3.OpenString(aad, v)
	require.ErrorIs(t, err, ErrUnknownKey, "a retired key no longer opens")
	_, err = k3.OpenString(aad, v2)
	require.NoError(t, err)
}

func TestHash(t *testing.T) {
	k := ring(t, "k1:"+newKey(t), newKey(t))
	a := k.Hash("customer.email", "a@example.com")
	assert.Len(t, a, 64)
	assert.Equal(t, a, k.Hash("customer.email", "a@example.com"))
	assert.NotEqual(t, a, k.Hash("customer.phone", "a@example.com"), "domains separate")
	assert.NotEqual(t, a, ring(t, "k1:"+newKey(t), newKey(t)).Hash("customer.email", "a@example.com"))
	assert.Empty(t, k.Hash("customer.email", ""))
}

func sealStream(t *testing.T, k *Keyring, aad, plain []byte) []byte {
	t.Helper()
	// A reader that hands out odd-sized pieces exercises the look-ahead.
	ct, err := io.ReadAll(k.SealReader(aad, &chunky{r: bytes.NewReader(plain)}))
	require.NoError(t, err)
	return ct
}

type chunky struct {
	r *bytes.Reader
	n int
}

func (c *chunky) Read(p []byte) (int, error) {
	c.n++
	return c.r.Read(p[:min(len(p), 1+c.n*7919%(SegmentSize+3))])
}

func TestStream(t *testing.T) {
	k := ring(t, "k1:"+newKey(t), newKey(t))
	aad := []byte("blob\x00abc")
	for _, size := range []int{0, 1, SegmentSize - 1, SegmentSize, SegmentSize + 1, 3*SegmentSize + 17} {
		plain := make([]byte, size)
		_, _ = rand.Read(plain)
		ct := sealStream(t, k, aad, plain)
		require.True(t, IsSealedStream(ct))
		sr, isSealed, err := k.OpenStream(aad, bytes.NewReader(ct), int64(len(ct)))
		require.NoError(t, err, "size %d", size)
		require.True(t, isSealed)
		require.Equal(t, int64(size), sr.Size())
		got, err := io.ReadAll(sr)
		require.NoError(t, err)
		require.Equal(t, plain, got, "size %d", size)
		if size > 10 {
			// Ranges across segment boundaries, as http.ServeContent reads.
			for _, off := range []int64{0, 5, int64(size) / 2, int64(size) - 3} {
				_, err := sr.Seek(off, io.SeekStart)
				require.NoError(t, err)
				part := make([]byte, min(int64(SegmentSize+5), int64(size)-off))
				_, err = io.ReadFull(sr, part)
				require.NoError(t, err)
				require.Equal(t, plain[off:off+int64(len(part))], part)
			}
		}
	}

	plain := bytes.Repeat([]byte("media bytes "), 3*SegmentSize/12)
	ct := sealStream(t, k, aad, plain)
	readAll := func(b []byte, aad []byte, k *Keyring) error {
		sr, _, err := k.OpenStream(aad, bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return err
		}
		_, err = io.ReadAll(sr)
		return err
	}
	t.Run("tampered segment fails", func(t *testing.T) {
		bad := bytes.Clone(ct)
		bad[len(bad)-SegmentSize] ^= 1
		require.ErrorIs(t, readAll(bad, aad, k), ErrCorrupt)
	})
	t.Run("cut at a segment boundary fails", func(t *testing.T) {
		hdr := len(ct) - len(plain) - 4*tagSize
		cut := ct[:hdr+2*(SegmentSize+tagSize)]
		require.ErrorIs(t, readAll(cut, aad, k), ErrCorrupt)
	})
	t.Run("wrong AAD fails", func(t *testing.T) {
		require.ErrorIs(t, readAll(ct, []byte("blob\x00abd"), k), ErrCorrupt)
	})
	t.Run("unknown key fails", func(t *testing.T) {
		require.ErrorIs(t, readAll(ct, aad, ring(t, "k2:"+newKey(t), newKey(t))), ErrUnknownKey)
	})
	t.Run("plaintext blob passes through", func(t *testing.T) {
		r := bytes.NewReader([]byte("plain blob"))
		sr, isSealed, err := k.OpenStream(aad, r, 10)
		require.NoError(t, err)
		require.False(t, isSealed)
		require.Nil(t, sr)
		rest, _ := io.ReadAll(r)
		require.Equal(t, "plain blob", string(rest), "positioned back at the start")
	})
	t.Run("key id of the head", func(t *testing.T) {
		id, ok := StreamKeyID(ct[:StreamHeadLen])
		require.True(t, ok)
		require.Equal(t, "k1", id)
		_, ok = StreamKeyID([]byte("plain"))
		require.False(t, ok)
	})
	t.Run("off passes through and refuses sealed", func(t *testing.T) {
		var off *Keyring
		require.ErrorIs(t, readAll(ct, aad, off), ErrNoKeys)
		got, _ := io.ReadAll(off.SealReader(aad, strings.NewReader("x")))
		require.Equal(t, "x", string(got))
	})
}
