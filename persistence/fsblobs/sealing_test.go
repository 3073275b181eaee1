package fsblobs

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/persistence/blobtest"
	"github.com/wacc/engine/persistence/sealed"
	"github.com/wacc/engine/persistence/sqlitestore"
	"github.com/wacc/engine/persistence/storetest"
)

func openSealedTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "media"), WithKeyring(storetest.Keyring(t, "")))
	require.NoError(t, err)
	return s
}

func TestBlobContractSealed(t *testing.T) {
	blobtest.Run(t, blobtest.Harness{
		Open: func(t *testing.T) mediabytes.Blobs { return openSealedTemp(t) },
		Residue: func(t *testing.T, s mediabytes.Blobs) []string {
			return residue(t, s.(*Store))
		},
	})
}

func TestReferencesSealed(t *testing.T) {
	blobtest.RunReferences(t, blobtest.RefHarness{
		Open: func(t *testing.T) (actors.MediaStore, mediabytes.Blobs) {
			k := storetest.Keyring(t, "")
			ms, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "engine.db"), zaptest.NewLogger(t), sqlitestore.WithKeyring(k))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, ms.Close()) })
			s, err := Open(filepath.Join(t.TempDir(), "media"), WithKeyring(k))
			require.NoError(t, err)
			return ms, s
		},
	})
}

func readBlob(t *testing.T, s *Store, sha string) []byte {
	t.Helper()
	b, err := s.Open(t.Context(), sha)
	require.NoError(t, err)
	defer b.Close()
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, int64(len(got)), b.Size())
	return got
}

// TestSealedAtRest: the file on disk holds no plaintext, files written
// before encryption stay readable, and Reencrypt moves every file to the
// newest key.
func TestSealedBytesAtRest(t *testing.T) {
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "media")
	hashKey := storetest.NewKey(t)
	oldKey, newKey := "old:"+storetest.NewKey(t), "new:"+storetest.NewKey(t)
	legacy := bytes.Repeat([]byte("legacy scan of a passport "), 5000)
	fresh := bytes.Repeat([]byte("canary voice note "), 9000)
	legacySHA, freshSHA := blobtest.Digest(legacy), blobtest.Digest(fresh)

	plain, err := Open(root)
	require.NoError(t, err)
	require.NoError(t, plain.Put(ctx, legacySHA, int64(len(legacy)), bytes.NewReader(legacy)))

	s, err := Open(root, WithKeyring(storetest.Keyring(t, hashKey, oldKey)))
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, freshSHA, int64(len(fresh)), bytes.NewReader(fresh)))
	onDisk, err := os.ReadFile(s.path(freshSHA))
	require.NoError(t, err)
	assert.False(t, bytes.Contains(onDisk, []byte("canary voice")), "sealed on disk")
	assert.Equal(t, fresh, readBlob(t, s, freshSHA))
	assert.Equal(t, legacy, readBlob(t, s, legacySHA), "a plaintext file stays readable")

	// Bad bytes are still refused with encryption on.
	err = s.Put(ctx, blobtest.Digest([]byte("x")), 1, bytes.NewReader([]byte("y")))
	require.ErrorIs(t, err, mediabytes.ErrMismatch)

	rotated, err := Open(root, WithKeyring(storetest.Keyring(t, hashKey, newKey, oldKey)))
	require.NoError(t, err)
	after := ""
	resealed := 0
	for {
		b, err := rotated.Reencrypt(ctx, "media", after, 1)
		require.NoError(t, err)
		resealed += b.Resealed
		if b.Next == "" {
			break
		}
		after = b.Next
	}
	assert.Equal(t, 2, resealed)
	b, err := rotated.Reencrypt(ctx, "media", "", 10)
	require.NoError(t, err)
	assert.Equal(t, sealed.Batch{Scanned: 2}, b, "nothing left to move")
	assert.Empty(t, residue(t, rotated))

	retired, err := Open(root, WithKeyring(storetest.Keyring(t, hashKey, newKey)))
	require.NoError(t, err)
	assert.Equal(t, fresh, readBlob(t, retired, freshSHA))
	assert.Equal(t, legacy, readBlob(t, retired, legacySHA))
	onDisk, err = os.ReadFile(retired.path(legacySHA))
	require.NoError(t, err)
	assert.False(t, bytes.Contains(onDisk, []byte("passport")), "the legacy file is sealed now")

	// Bytes moved under another digest do not open.
	require.NoError(t, os.WriteFile(retired.path(freshSHA), onDisk, 0o600))
	blob, err := retired.Open(ctx, freshSHA)
	if err == nil { // the header opens; the first segment does not
		_, err = io.ReadAll(blob)
		_ = blob.Close()
	}
	require.ErrorIs(t, err, sealed.ErrCorrupt)

	_, err = plain.Open(ctx, legacySHA)
	require.ErrorIs(t, err, sealed.ErrNoKeys, "without keys a sealed file is an error")
}

// A file stored before encryption whose bytes happen to start like a
// sealed stream is told apart by its digest and resealed like any other.
func TestReencryptPlainFileThatLooksSealed(t *testing.T) {
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "media")
	data := append([]byte("\x1eSEALS\x01\x02zzabcdefg"), bytes.Repeat([]byte("not really sealed "), 100)...)
	sha := blobtest.Digest(data)
	plain, err := Open(root)
	require.NoError(t, err)
	require.NoError(t, plain.Put(ctx, sha, int64(len(data)), bytes.NewReader(data)))

	s, err := Open(root, WithKeyring(storetest.Keyring(t, "")))
	require.NoError(t, err)
	_, err = s.Open(ctx, sha)
	require.Error(t, err, "unreadable until moved")
	b, err := s.Reencrypt(ctx, "media", "", 10)
	require.NoError(t, err)
	assert.Equal(t, 1, b.Resealed)
	assert.Equal(t, data, readBlob(t, s, sha))

	// A file whose bytes are neither a stream that opens nor its digest's
	// is reported, not resealed.
	require.NoError(t, os.WriteFile(s.path(sha), []byte("\x1eSEALS\x01\x02k9garbage!"), 0o600))
	_, err = s.Reencrypt(ctx, "media", "", 10)
	require.ErrorIs(t, err, sealed.ErrUnknownKey)
}
