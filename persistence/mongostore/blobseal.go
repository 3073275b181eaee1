package mongostore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/sealed"
)

// Media bytes at rest: with a keyring (WithKeyring) Put stores the sealed
// stream of the bytes (persistence/sealed: 64 KiB AES-256-GCM segments,
// bound to the digest) in the chunks; the files document keeps the
// plaintext's SHA-256 as its filename, so identical uploads are still
// stored once (dedupe by plaintext digest), its length is the stored
// (sealed) length, and its field sealed is true. Open reads sealed and
// plaintext files alike and reports the plaintext's size.

// countWriter counts the bytes written through it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// storedBound is one more than the most a Put of size bytes may store.
func storedBound(k *sealed.Keyring, size int64) int64 { return k.StreamLen(size+1) + 1 }

// plainReader is the reader of file f (of digest sha): its chunks as they
// are, or their plaintext when its files document says they hold a sealed
// stream (which the stream's own header confirms). Plain files are opened
// without reading a chunk, as before encryption existed.
func (b *Blobs) plainReader(op, sha string, f fileDoc) (actors.MediaBlob, error) {
	r := &blobReader{chunks: b.chunks, file: f, readAhead: b.readAhead}
	if !f.Sealed {
		return r, nil
	}
	sr, isSealed, err := b.s.keys.OpenStream(sealed.BlobAAD(sha), r, f.Length)
	if err == nil && !isSealed {
		err = fmt.Errorf("files document says sealed, chunks are not: %w", sealed.ErrCorrupt)
	}
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return sr, nil
}

// ReencryptKinds are the kinds Reencrypt takes.
func (b *Blobs) ReencryptKinds() []string { return []string{"media"} }

// Reencrypt reseals under the current key the files of up to limit
// digests after after (in digest order): plaintext files and files sealed
// under an older key. A file's new chunks are written under a new file id
// (marked like a Put's, so Sweep reclaims them after a crash); then, under
// the digest's write claim (which Release's Hide, Unhide and Purge take
// too), the old files document is renamed aside, the new one inserted and
// the old file deleted. Readers see the old file or the new one; a read
// that starts in the moment between the rename and the insert finds
// nothing (actors.ErrNotFound) and a download in progress on the old file
// may fail when its chunks are deleted, both once. Idempotent.
func (b *Blobs) Reencrypt(ctx context.Context, kind, after string, limit int) (sealed.Batch, error) {
	if kind != "media" {
		return sealed.Batch{}, fmt.Errorf("reencrypt: unknown kind %q", kind)
	}
	if !b.s.keys.On() {
		return sealed.Batch{}, fmt.Errorf("reencrypt media: %w", sealed.ErrNoKeys)
	}
	op := fmt.Sprintf("reencrypt media after %q", after)
	filter := bson.D{{Key: "filename", Value: bson.D{
		{Key: "$gt", Value: after},
		{Key: "$regex", Value: "^[0-9a-f]{64}$"},
	}}}
	files, err := findAll[fileDoc](ctx, b.files, filter,
		options.Find().SetSort(bson.D{{Key: "filename", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return sealed.Batch{}, classify(op, err)
	}
	var batch sealed.Batch
	for _, f := range files {
		batch.Scanned++
		batch.Next = f.Filename
		outcome, err := b.reseal(ctx, f)
		if err != nil {
			return batch, fmt.Errorf("reencrypt media %s: %w", f.Filename, err)
		}
		switch outcome {
		case resealDone:
			batch.Resealed++
		case resealRaced:
			batch.Raced++
		}
	}
	if len(files) < limit {
		batch.Next = ""
	}
	return batch, nil
}

type resealOutcome int

const (
	resealFresh resealOutcome = iota
	resealDone
	resealRaced
)

func (b *Blobs) reseal(ctx context.Context, f fileDoc) (resealOutcome, error) {
	sha := f.Filename
	old := &blobReader{chunks: b.chunks, file: f, readAhead: b.readAhead}
	defer old.Close()
	var plain io.Reader = old
	size := f.Length
	if f.Sealed {
		head := make([]byte, min(f.Length, int64(sealed.StreamHeadLen)))
		if _, err := io.ReadFull(old, head); err != nil {
			return 0, err
		}
		if id, ok := sealed.StreamKeyID(head); ok && id == b.s.keys.Current() {
			return resealFresh, nil
		}
		if _, err := old.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		sr, isSealed, err := b.s.keys.OpenStream(sealed.BlobAAD(sha), old, f.Length)
		if err == nil && !isSealed {
			err = fmt.Errorf("files document says sealed, chunks are not: %w", sealed.ErrCorrupt)
		}
		if err != nil {
			return 0, err
		}
		plain, size = sr, sr.Size()
	}
	id := bson.NewObjectID()
	if _, err := b.uploads.InsertOne(ctx, uploadDoc{FileID: id, SHA256: sha, At: time.Now().UTC()}); err != nil {
		return 0, classify("mark upload", err)
	}
	stored, err := b.writeChunks(ctx, id, sha, size, plain)
	if err != nil {
		return 0, errors.Join(err, b.dropChunks(ctx, id), b.unmark(ctx, id))
	}
	switch res, err := b.uploads.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); {
	case err != nil:
		return 0, errors.Join(classify("unmark upload", err), b.dropChunks(ctx, id))
	case res.DeletedCount == 0:
		return resealRaced, b.dropChunks(ctx, id) // swept as abandoned
	}
	outcome := resealDone
	err = b.underClaim(ctx, "swap files of "+sha, sha, func() error {
		aside := hiddenPrefix + sha + "/" + f.ID.Hex()
		res, err := b.files.UpdateOne(ctx, bson.D{{Key: "_id", Value: f.ID}, {Key: "filename", Value: sha}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "filename", Value: aside}, {Key: "hiddenAt", Value: time.Now().UTC()}}}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 { // released meanwhile
			outcome = resealRaced
			return b.dropChunks(ctx, id)
		}
		doc := fileDoc{ID: id, Length: stored, ChunkSize: b.chunkSize, UploadDate: time.Now().UTC(), Filename: sha, Sealed: true}
		if _, err := b.files.InsertOne(ctx, doc); err != nil {
			if _, ferr := b.file(ctx, sha); ferr != nil {
				// Not stored by anyone: put the old file back.
				_, uerr := b.files.UpdateOne(ctx, bson.D{{Key: "_id", Value: f.ID}},
					bson.D{{Key: "$set", Value: bson.D{{Key: "filename", Value: sha}}}, {Key: "$unset", Value: bson.D{{Key: "hiddenAt", Value: ""}}}})
				return errors.Join(err, uerr, b.dropChunks(ctx, id))
			}
			// A Put stored the same bytes meanwhile: theirs stays.
			outcome = resealRaced
			if err := b.dropChunks(ctx, id); err != nil {
				return err
			}
		}
		f.Filename = aside
		return b.remove(ctx, f)
	})
	if err != nil {
		return 0, err
	}
	return outcome, nil
}
