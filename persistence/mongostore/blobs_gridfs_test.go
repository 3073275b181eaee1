package mongostore

import (
	"bytes"
	"crypto/rand"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/blobtest"
)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// TestGridFSInterop checks that what Blobs writes is GridFS: the driver's
// own bucket reads it back by name, and Blobs reads a file the driver's
// bucket wrote.
func TestGridFSInterop(t *testing.T) {
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			ctx := t.Context()
			s := openStore(t, handler)
			b := s.Blobs(testChunkSize)
			bucket := s.media.Database().GridFSBucket(options.GridFSBucket().SetName(mediaBucket))

			ours := randomBytes(t, 5*testChunkSize+100)
			sha := blobtest.Digest(ours)
			require.NoError(t, b.Put(ctx, sha, int64(len(ours)), bytes.NewReader(ours)))
			var got bytes.Buffer
			_, err := bucket.DownloadToStreamByName(ctx, sha, &got)
			require.NoError(t, err, "the driver reads our file")
			assert.Equal(t, ours, got.Bytes())

			theirs := randomBytes(t, 3*testChunkSize+7)
			tsha := blobtest.Digest(theirs)
			_, err = bucket.UploadFromStream(ctx, tsha, bytes.NewReader(theirs), options.GridFSUpload().SetChunkSizeBytes(testChunkSize))
			require.NoError(t, err, "the driver uploads")
			blob, err := b.Open(ctx, tsha)
			require.NoError(t, err)
			defer blob.Close()
			read, err := io.ReadAll(blob)
			require.NoError(t, err)
			assert.Equal(t, theirs, read, "we read the driver's file")
		})
	}
}

// TestGridFSLargeFile puts a file spanning several insert batches and
// read-ahead windows (both shrunk, so the test stays small) and reads it
// back, whole and from the middle. The default chunk size applies when
// none is given.
func TestGridFSLargeFile(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, handlerSQLite)
	require.Equal(t, int32(DefaultChunkSize), s.Blobs(0).chunkSize)
	require.Equal(t, int32(maxChunkSize), s.Blobs(1<<30).chunkSize)
	b := s.Blobs(testChunkSize)
	b.batchBytes, b.readAhead = 8*testChunkSize, 3*testChunkSize
	data := randomBytes(t, 2*b.batchBytes+3*testChunkSize+11)
	sha := blobtest.Digest(data)
	require.NoError(t, b.Put(ctx, sha, int64(len(data)), bytes.NewReader(data)))

	n, err := b.chunks.CountDocuments(ctx, bson.D{})
	require.NoError(t, err)
	assert.Equal(t, int64((len(data)+testChunkSize-1)/testChunkSize), n, "chunks")

	blob, err := b.Open(ctx, sha)
	require.NoError(t, err)
	defer blob.Close()
	got, err := io.ReadAll(blob)
	require.NoError(t, err)
	require.Equal(t, data, got)
	off := int64(b.batchBytes + 17)
	_, err = blob.Seek(off, io.SeekStart)
	require.NoError(t, err)
	part := make([]byte, 3*b.readAhead)
	_, err = io.ReadFull(blob, part)
	require.NoError(t, err)
	assert.Equal(t, data[off:off+int64(len(part))], part)
}

// TestGridFSConcurrentPutsLeaveOneFile checks the unique filename index:
// of concurrent Puts of one digest, one files document stays and the
// chunks of the others are gone.
func TestGridFSConcurrentPutsLeaveOneFile(t *testing.T) {
	for _, handler := range handlers {
		t.Run(handler, func(t *testing.T) {
			ctx := t.Context()
			s := openStore(t, handler)
			b := s.Blobs(testChunkSize)
			data := randomBytes(t, 4*testChunkSize+1)
			sha := blobtest.Digest(data)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() { assert.NoError(t, b.Put(ctx, sha, int64(len(data)), bytes.NewReader(data))) })
			}
			wg.Wait()
			files, err := b.files.CountDocuments(ctx, bson.D{})
			require.NoError(t, err)
			assert.Equal(t, int64(1), files)
			chunks, err := b.chunks.CountDocuments(ctx, bson.D{})
			require.NoError(t, err)
			assert.Equal(t, int64(5), chunks)
		})
	}
}

// TestGridFSCorruptFile reads a file whose chunk is missing or short: the
// reader fails with io.ErrUnexpectedEOF instead of returning wrong bytes.
func TestGridFSCorruptFile(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, handlerSQLite)
	b := s.Blobs(testChunkSize)
	data := randomBytes(t, 3*testChunkSize)
	sha := blobtest.Digest(data)
	require.NoError(t, b.Put(ctx, sha, int64(len(data)), bytes.NewReader(data)))
	f, err := b.file(ctx, sha)
	require.NoError(t, err)

	_, err = b.chunks.UpdateOne(ctx, bson.D{{Key: "files_id", Value: f.ID}, {Key: "n", Value: 1}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "data", Value: bson.Binary{Data: []byte("short")}}}}})
	require.NoError(t, err)
	blob, err := b.Open(ctx, sha)
	require.NoError(t, err)
	_, err = io.ReadAll(blob)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "a short chunk")
	require.NoError(t, blob.Close())

	_, err = b.chunks.DeleteOne(ctx, bson.D{{Key: "files_id", Value: f.ID}, {Key: "n", Value: 2}})
	require.NoError(t, err)
	blob, err = b.Open(ctx, sha)
	require.NoError(t, err)
	defer blob.Close()
	_, err = blob.Seek(2*testChunkSize, io.SeekStart)
	require.NoError(t, err)
	_, err = io.ReadAll(blob)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "a missing chunk")
}

// TestGridFSSweep leaves the debris of crashes in the bucket: chunks of a
// Put that died an hour ago, and bytes a Release hid an hour ago. Sweep
// deletes the first, puts the second back, and leaves what is recent.
func TestGridFSSweep(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, handlerSQLite)
	b := s.Blobs(testChunkSize)
	old := time.Now().Add(-2 * time.Hour).UTC()

	dead := bson.NewObjectID()
	_, err := b.uploads.InsertOne(ctx, uploadDoc{FileID: dead, SHA256: blobtest.Digest([]byte("x")), At: old})
	require.NoError(t, err)
	_, err = b.chunks.InsertMany(ctx, []any{chunkDoc{ID: bson.NewObjectID(), FileID: dead, N: 0, Data: []byte("partial")}})
	require.NoError(t, err)
	recent := bson.NewObjectID()
	_, err = b.uploads.InsertOne(ctx, uploadDoc{FileID: recent, SHA256: blobtest.Digest([]byte("y")), At: time.Now().UTC()})
	require.NoError(t, err)

	hiddenData := randomBytes(t, 2*testChunkSize)
	hiddenSHA := blobtest.Digest(hiddenData)
	require.NoError(t, b.Put(ctx, hiddenSHA, int64(len(hiddenData)), bytes.NewReader(hiddenData)))
	name, err := b.Hide(ctx, hiddenSHA)
	require.NoError(t, err)
	_, err = b.files.UpdateOne(ctx, bson.D{{Key: "filename", Value: name}}, bson.D{{Key: "$set", Value: bson.D{{Key: "hiddenAt", Value: old}}}})
	require.NoError(t, err)
	freshData := randomBytes(t, 10)
	freshSHA := blobtest.Digest(freshData)
	require.NoError(t, b.Put(ctx, freshSHA, int64(len(freshData)), bytes.NewReader(freshData)))
	freshName, err := b.Hide(ctx, freshSHA)
	require.NoError(t, err)

	rep, err := b.Sweep(ctx, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, BlobSweepReport{AbandonedUploads: 1, HiddenRestored: 1}, rep)
	n, err := b.chunks.CountDocuments(ctx, bson.D{{Key: "files_id", Value: dead}})
	require.NoError(t, err)
	assert.Zero(t, n, "the dead Put's chunks")
	blob, err := b.Open(ctx, hiddenSHA)
	require.NoError(t, err, "the old hidden file is back")
	got, err := io.ReadAll(blob)
	require.NoError(t, err)
	require.NoError(t, blob.Close())
	assert.Equal(t, hiddenData, got)
	assert.ElementsMatch(t, []string{"upload " + recent.Hex(), "file " + freshName}, blobResidue(t, b), "recent debris stays")
}

// sweepingReader runs a Sweep that takes every marker, its own Put's
// included, before its first read.
type sweepingReader struct {
	t     *testing.T
	b     *Blobs
	r     io.Reader
	swept bool
}

func (s *sweepingReader) Read(p []byte) (int, error) {
	if !s.swept {
		s.swept = true
		rep, err := s.b.Sweep(s.t.Context(), -time.Minute)
		require.NoError(s.t, err)
		require.Equal(s.t, 1, rep.AbandonedUploads)
	}
	return s.r.Read(p)
}

// TestGridFSPutSweptMidway checks that a Put whose marker a Sweep took
// fails and leaves nothing, rather than insert a file over swept chunks.
func TestGridFSPutSweptMidway(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, handlerSQLite)
	b := s.Blobs(testChunkSize)
	data := randomBytes(t, 3*testChunkSize)
	sha := blobtest.Digest(data)
	err := b.Put(ctx, sha, int64(len(data)), &sweepingReader{t: t, b: b, r: bytes.NewReader(data)})
	require.ErrorIs(t, err, actors.ErrConflict)
	_, err = b.Open(ctx, sha)
	require.ErrorIs(t, err, actors.ErrNotFound)
	assert.Empty(t, blobResidue(t, b))
}
