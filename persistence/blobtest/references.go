package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
)

// RefHarness describes a media store and a byte store tested together.
type RefHarness struct {
	// Open returns a fresh, empty pair and registers its own cleanup.
	Open func(t *testing.T) (actors.MediaStore, mediabytes.Blobs)
	// Residue is as in Harness; nil when the byte store cannot tell.
	Residue func(t *testing.T, s mediabytes.Blobs) []string
	// Rounds is how many rounds the upload-versus-delete race runs; 0
	// means 40.
	Rounds int
}

// RunReferences runs the suite of mediabytes.Create, Save, Delete and
// Release: no record is ever left without its bytes, and the bytes of the
// last record deleted are removed.
func RunReferences(t *testing.T, h RefHarness) {
	if h.Rounds == 0 {
		h.Rounds = 40
	}
	cases := []struct {
		name  string
		check func(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs)
	}{
		{name: "create keeps the record and its bytes", check: checkCreate},
		{name: "records share bytes, removed with the last of them", check: checkShared},
		{name: "a refused record releases its bytes", check: checkCreateRefused},
		{name: "bytes that do not match create nothing", check: checkCreateMismatch},
		{name: "save stores the bytes of a pending record", check: checkSave},
		{name: "a failed second store undoes the write, never losing a pending record", check: checkSecondPutFails},
		{name: "release keeps referenced bytes and ignores absent ones", check: checkRelease},
		{name: "open rides out bytes hidden for an instant", check: checkOpenRetries},
		{name: "an upload and a deletion in every order that matters", check: checkInterleavings},
		{name: "uploads racing the deletion of the last other record", check: checkUploadDeleteRace},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms, bs := h.Open(t)
			tc.check(t, t.Context(), h, ms, bs)
		})
	}
}

var refBase = time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)

// upload is the record an upload of data creates.
func upload(id string, data []byte) actors.Media {
	return actors.Media{
		ID: id, Filename: id + ".jpg", MimeType: "image/jpeg", Size: int64(len(data)), SHA256: Digest(data),
		Status: actors.MediaStored, UploaderID: "u1", CreatedAt: refBase, UpdatedAt: refBase,
	}
}

func refNoResidue(t *testing.T, h RefHarness, bs mediabytes.Blobs) {
	t.Helper()
	if h.Residue != nil {
		require.Empty(t, h.Residue(t, bs), "residue left in the byte store")
	}
}

func checkCreate(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	data, _ := sample(31, 5000)
	m := upload("me1", data)
	require.NoError(t, mediabytes.Create(ctx, ms, bs, m, bytes.NewReader(data)))
	got, err := ms.Media(ctx, "me1")
	require.NoError(t, err)
	assert.Equal(t, m, got)
	b, err := mediabytes.Open(ctx, bs, m.SHA256)
	require.NoError(t, err)
	defer b.Close()
	read, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, data, read)
}

func checkShared(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	data, sha := sample(32, 3000)
	for _, id := range []string{"me1", "me2", "me3"} {
		require.NoError(t, mediabytes.Create(ctx, ms, bs, upload(id, data), bytes.NewReader(data)))
	}
	n, err := ms.CountMediaBySHA256(ctx, sha)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	require.NoError(t, mediabytes.Delete(ctx, ms, bs, "me1"))
	require.NoError(t, mediabytes.Delete(ctx, ms, bs, "me3"))
	assert.Equal(t, data, readAll(t, ctx, bs, sha), "me2 still references the bytes")
	require.ErrorIs(t, mediabytes.Delete(ctx, ms, bs, "me1"), actors.ErrNotFound, "deleted already")
	require.NoError(t, mediabytes.Delete(ctx, ms, bs, "me2"))
	requireAbsent(t, ctx, bs, sha)
	refNoResidue(t, h, bs)

	// A pending medium has no bytes to release.
	require.NoError(t, ms.CreateMedia(ctx, actors.Media{ID: "p1", Status: actors.MediaPending, CreatedAt: refBase, UpdatedAt: refBase}))
	require.NoError(t, mediabytes.Delete(ctx, ms, bs, "p1"))
	_, err = ms.Media(ctx, "p1")
	require.ErrorIs(t, err, actors.ErrNotFound)
}

func checkCreateRefused(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	x, shaX := sample(33, 2000)
	y, shaY := sample(34, 2000)
	require.NoError(t, mediabytes.Create(ctx, ms, bs, upload("me1", x), bytes.NewReader(x)))
	err := mediabytes.Create(ctx, ms, bs, upload("me1", y), bytes.NewReader(y))
	require.ErrorIs(t, err, actors.ErrDuplicate)
	requireAbsent(t, ctx, bs, shaY)
	assert.Equal(t, x, readAll(t, ctx, bs, shaX))
	// The same bytes under a taken id stay: the first record needs them.
	err = mediabytes.Create(ctx, ms, bs, upload("me1", x), bytes.NewReader(x))
	require.ErrorIs(t, err, actors.ErrDuplicate)
	assert.Equal(t, x, readAll(t, ctx, bs, shaX))
	refNoResidue(t, h, bs)
}

func checkCreateMismatch(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	x, shaX := sample(35, 2000)
	m := upload("me1", x)
	err := mediabytes.Create(ctx, ms, bs, m, bytes.NewReader(x[:1999]))
	require.ErrorIs(t, err, mediabytes.ErrMismatch)
	_, err = ms.Media(ctx, "me1")
	require.ErrorIs(t, err, actors.ErrNotFound, "no record")
	requireAbsent(t, ctx, bs, shaX)
	refNoResidue(t, h, bs)
}

func checkSave(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	voice, sha := sample(36, 4100)
	p := actors.Media{ID: "p1", MimeType: "audio/ogg", Status: actors.MediaPending, WaMediaID: "wa1", CreatedAt: refBase, UpdatedAt: refBase}
	require.NoError(t, ms.CreateMedia(ctx, p))
	stored := p
	stored.Status, stored.SHA256, stored.Size, stored.UpdatedAt = actors.MediaStored, sha, int64(len(voice)), refBase.Add(time.Second)
	require.NoError(t, mediabytes.Save(ctx, ms, bs, stored, bytes.NewReader(voice)))
	got, err := ms.Media(ctx, "p1")
	require.NoError(t, err)
	assert.Equal(t, stored, got)
	assert.Equal(t, voice, readAll(t, ctx, bs, sha))

	// The record was deleted while its bytes were fetched.
	other, otherSHA := sample(37, 100)
	gone := stored
	gone.ID, gone.SHA256, gone.Size = "p404", otherSHA, 100
	require.ErrorIs(t, mediabytes.Save(ctx, ms, bs, gone, bytes.NewReader(other)), actors.ErrNotFound)
	requireAbsent(t, ctx, bs, otherSHA)
	refNoResidue(t, h, bs)
}

// failingPut fails every Put after the first ok of them with errPut: the
// byte store went away between a keep's two stores.
type failingPut struct {
	mediabytes.Blobs
	mu sync.Mutex
	ok int
}

var errPut = errors.New("injected: byte store unavailable")

func (f *failingPut) Put(ctx context.Context, sha string, size int64, r io.Reader) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ok > 0 {
		f.ok--
		return f.Blobs.Put(ctx, sha, size, r)
	}
	return errPut
}

func checkSecondPutFails(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	// Save: the pending record stays pending (its fetch is tried again).
	voice, sha := sample(39, 4200)
	p := actors.Media{ID: "p1", MimeType: "audio/ogg", Status: actors.MediaPending, WaMediaID: "wa1", CreatedAt: refBase, UpdatedAt: refBase}
	require.NoError(t, ms.CreateMedia(ctx, p))
	stored := p
	stored.Status, stored.SHA256, stored.Size, stored.UpdatedAt = actors.MediaStored, sha, int64(len(voice)), refBase.Add(time.Second)
	err := mediabytes.Save(ctx, ms, &failingPut{Blobs: bs, ok: 1}, stored, bytes.NewReader(voice))
	require.ErrorIs(t, err, errPut)
	got, err := ms.Media(ctx, "p1")
	require.NoError(t, err, "the pending record is kept")
	assert.Equal(t, p, got, "as it was before the save")
	requireAbsent(t, ctx, bs, sha)

	// Create: no record is left without its bytes.
	x, shaX := sample(40, 1500)
	err = mediabytes.Create(ctx, ms, &failingPut{Blobs: bs, ok: 1}, upload("me1", x), bytes.NewReader(x))
	require.ErrorIs(t, err, errPut)
	_, err = ms.Media(ctx, "me1")
	require.ErrorIs(t, err, actors.ErrNotFound, "the record is undone")
	requireAbsent(t, ctx, bs, shaX)
	refNoResidue(t, h, bs)
}

func checkRelease(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	x, shaX := sample(38, 1500)
	require.NoError(t, mediabytes.Create(ctx, ms, bs, upload("me1", x), bytes.NewReader(x)))
	require.NoError(t, mediabytes.Release(ctx, ms, bs, shaX))
	assert.Equal(t, x, readAll(t, ctx, bs, shaX), "referenced bytes stay")
	_, absent := sample(39, 10)
	require.NoError(t, mediabytes.Release(ctx, ms, bs, absent))

	// Bytes stored without a record (an upload that died before its
	// record) go.
	y, shaY := sample(40, 10)
	require.NoError(t, bs.Put(ctx, shaY, int64(len(y)), bytes.NewReader(y)))
	require.NoError(t, mediabytes.Release(ctx, ms, bs, shaY))
	requireAbsent(t, ctx, bs, shaY)
	refNoResidue(t, h, bs)
}

// checkUploadDeleteRace runs rounds of: a record of bytes X exists; one
// goroutine deletes it while others upload X (mediabytes.Create) and one
// uploads X and deletes its own record again. Every upload must read its
// bytes right after Create returns, every record left at the end must have
// its bytes (without retrying), and once all are deleted the bytes must be
// gone.
func checkUploadDeleteRace(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	const uploaders = 6
	blobs := [][]byte{}
	for i := range 2 {
		b, _ := sample(uint64(50+i), 1500+i)
		blobs = append(blobs, b)
	}
	for round := range h.Rounds {
		data := blobs[round%len(blobs)]
		sha := Digest(data)
		seed := upload(fmt.Sprintf("r%03d-seed", round), data)
		require.NoError(t, mediabytes.Create(ctx, ms, bs, seed, bytes.NewReader(data)))

		start := make(chan struct{})
		var wg sync.WaitGroup
		ids := make([]string, uploaders)
		for i := range uploaders {
			ids[i] = fmt.Sprintf("r%03d-u%d", round, i)
			wg.Go(func() {
				<-start
				if !assert.NoError(t, mediabytes.Create(ctx, ms, bs, upload(ids[i], data), bytes.NewReader(data)), "upload %s", ids[i]) {
					return
				}
				b, err := mediabytes.Open(ctx, bs, sha)
				if !assert.NoError(t, err, "bytes of %s right after its upload", ids[i]) {
					return
				}
				_ = b.Close()
			})
		}
		wg.Go(func() {
			<-start
			assert.NoError(t, mediabytes.Delete(ctx, ms, bs, seed.ID), "delete %s", seed.ID)
		})
		churn := fmt.Sprintf("r%03d-churn", round)
		wg.Go(func() {
			<-start
			if assert.NoError(t, mediabytes.Create(ctx, ms, bs, upload(churn, data), bytes.NewReader(data))) {
				assert.NoError(t, mediabytes.Delete(ctx, ms, bs, churn))
			}
		})
		close(start)
		wg.Wait()
		if t.Failed() {
			return
		}

		// Every record left has its bytes, now and without retrying.
		n, err := ms.CountMediaBySHA256(ctx, sha)
		require.NoError(t, err)
		require.Equal(t, uploaders, n, "round %d: the uploads' records", round)
		got := readAll(t, ctx, bs, sha)
		require.Equal(t, data, got, "round %d: bytes of the records left", round)

		// Deleting them all, concurrently, removes the bytes.
		for _, id := range ids {
			wg.Go(func() { assert.NoError(t, mediabytes.Delete(ctx, ms, bs, id), "delete %s", id) })
		}
		wg.Wait()
		require.False(t, t.Failed())
		requireAbsent(t, ctx, bs, sha)
		refNoResidue(t, h, bs)
	}
}

// unhideOnMiss puts hidden bytes back when an Open first misses them, as a
// Release does after its second count.
type unhideOnMiss struct {
	mediabytes.Blobs
	hidden string
	mu     sync.Mutex
	misses int
}

func (u *unhideOnMiss) Open(ctx context.Context, sha string) (actors.MediaBlob, error) {
	b, err := u.Blobs.Open(ctx, sha) // the wrapped store's, not this Open
	if errors.Is(err, actors.ErrNotFound) {
		u.mu.Lock()
		u.misses++
		first := u.misses == 1
		u.mu.Unlock()
		if first && u.hidden != "" {
			if uerr := u.Unhide(ctx, u.hidden); uerr != nil {
				return nil, uerr
			}
		}
	}
	return b, err
}

func checkOpenRetries(t *testing.T, ctx context.Context, h RefHarness, ms actors.MediaStore, bs mediabytes.Blobs) {
	data, sha := sample(41, 700)
	require.NoError(t, mediabytes.Create(ctx, ms, bs, upload("me1", data), bytes.NewReader(data)))
	hidden, err := bs.Hide(ctx, sha)
	require.NoError(t, err)
	u := &unhideOnMiss{Blobs: bs, hidden: hidden}
	b, err := mediabytes.Open(ctx, u, sha)
	require.NoError(t, err, "found on a later try")
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	assert.Equal(t, data, got)
	assert.Equal(t, 1, u.misses)

	// Bytes that stay missing are not found, after the retries.
	_, absent := sample(42, 10)
	miss := &unhideOnMiss{Blobs: bs}
	_, err = mediabytes.Open(ctx, miss, absent)
	require.ErrorIs(t, err, actors.ErrNotFound)
	assert.Greater(t, miss.misses, 3, "tried again before giving up")

	// A caller that gives up stops the retries.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = mediabytes.Open(cctx, miss, absent)
	require.ErrorIs(t, err, context.Canceled)
	_, err = mediabytes.Open(ctx, bs, "../x")
	require.ErrorIs(t, err, mediabytes.ErrInvalidSHA256, "other errors come back at once")
}
