package fsblobs

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/persistence/blobtest"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// openTemp opens a store on a fresh directory.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "media"))
	require.NoError(t, err)
	return s
}

// residue lists the files under the store's root that are not complete
// blobs at their content address.
func residue(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(s.Root(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(s.Root(), path)
		if err != nil {
			return err
		}
		name := d.Name()
		if !mediabytes.ValidSHA256(name) || filepath.ToSlash(rel) != name[0:2]+"/"+name[2:4]+"/"+name {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func TestBlobContract(t *testing.T) {
	blobtest.Run(t, blobtest.Harness{
		Open: func(t *testing.T) mediabytes.Blobs { return openTemp(t) },
		Residue: func(t *testing.T, s mediabytes.Blobs) []string {
			return residue(t, s.(*Store))
		},
	})
}

func TestLayoutIsContentAddressed(t *testing.T) {
	s := openTemp(t)
	data := []byte("%PDF-1.7 invoice 2291")
	sha := blobtest.Digest(data)
	require.NoError(t, s.Put(t.Context(), sha, int64(len(data)), bytes.NewReader(data)))
	got, err := os.ReadFile(filepath.Join(s.Root(), sha[:2], sha[2:4], sha))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	st, err := os.Stat(filepath.Join(s.Root(), sha[:2], sha[2:4], sha))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm(), "only the engine's user reads media")
	assert.Empty(t, residue(t, s))
}

// TestSweep leaves the debris of a crash in a store: a temporary file no
// Put holds, one a live Put holds, and bytes a Release hid. Opening the
// store again removes the first, keeps the second and puts the third back.
func TestSweep(t *testing.T) {
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "media")
	s, err := Open(root)
	require.NoError(t, err)

	hiddenData := []byte("voice note")
	hiddenSHA := blobtest.Digest(hiddenData)
	require.NoError(t, s.Put(ctx, hiddenSHA, int64(len(hiddenData)), bytes.NewReader(hiddenData)))
	_, err = s.Hide(ctx, hiddenSHA)
	require.NoError(t, err)

	sha := blobtest.Digest([]byte("receipt"))
	leaf := filepath.Join(root, sha[:2], sha[2:4])
	require.NoError(t, os.MkdirAll(leaf, 0o750))
	abandoned := filepath.Join(leaf, tempPrefix+sha+"-dead")
	require.NoError(t, os.WriteFile(abandoned, []byte("rece"), 0o600))
	live, err := os.CreateTemp(leaf, tempPrefix+sha+"-*")
	require.NoError(t, err)
	require.NoError(t, lockFile(live), "a Put in progress")
	// Not ours: left alone.
	foreign := filepath.Join(root, "README")
	require.NoError(t, os.WriteFile(foreign, []byte("x"), 0o600))

	s2, err := Open(root)
	require.NoError(t, err)
	assert.NoFileExists(t, abandoned, "the abandoned temporary file is removed")
	assert.FileExists(t, live.Name(), "the locked one is a live Put's")
	assert.FileExists(t, foreign)
	b, err := s2.Open(ctx, hiddenSHA)
	require.NoError(t, err, "hidden bytes are put back")
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	assert.Equal(t, hiddenData, got)

	require.NoError(t, live.Close())
	rep, err := s2.Sweep()
	require.NoError(t, err)
	assert.Equal(t, SweepReport{TempRemoved: 1}, rep, "its Put died: the lock is gone")
	assert.NoFileExists(t, live.Name())
	assert.Equal(t, []string{"README"}, residue(t, s2))
}

func TestOpenRefusesAnEmptyRoot(t *testing.T) {
	_, err := Open("")
	require.Error(t, err)
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = Open(file)
	require.Error(t, err, "a root that is a file")
}

// TestReferences runs the reference-safe deletion suite, and its race of
// uploads against deletes, on SQLite and the filesystem.
func TestReferences(t *testing.T) {
	blobtest.RunReferences(t, blobtest.RefHarness{
		Open: func(t *testing.T) (actors.MediaStore, mediabytes.Blobs) {
			ms, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "engine.db"), zaptest.NewLogger(t))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, ms.Close()) })
			return ms, openTemp(t)
		},
		Residue: func(t *testing.T, s mediabytes.Blobs) []string { return residue(t, s.(*Store)) },
		Rounds:  60,
	})
}
