package mongostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/persistence/sealed"
)

var (
	_ actors.MediaBlobs = (*Blobs)(nil)
	_ mediabytes.Blobs  = (*Blobs)(nil)
)

// The GridFS bucket of media bytes: <bucket>.files and <bucket>.chunks.
const (
	mediaBucket     = "media"
	mediaFilesColl  = mediaBucket + ".files"
	mediaChunksColl = mediaBucket + ".chunks"
)

// Chunk sizes: GridFS's default, and the bounds Blobs clamps to (a chunk
// document must stay well under MongoDB's 16 MiB).
const (
	DefaultChunkSize = 255 * 1024
	maxChunkSize     = 8 << 20
)

// Put writes chunks in batches of about putBatchBytes; a reader fetches up
// to readAheadBytes of chunks at once. Both bound the memory of one call
// (tests shrink them through the Blobs fields).
const (
	putBatchBytes  = 4 << 20
	readAheadBytes = 1 << 20
)

// hiddenPrefix starts the filename of hidden bytes: hidden/<sha>/<file id>.
const hiddenPrefix = "hidden/"

// mediaUploadsColl holds one marker per Put in progress (its file id), so
// that Sweep finds the chunks of a Put that died before its files document.
// It is not part of GridFS; drivers and tools ignore it.
const mediaUploadsColl = "media_uploads"

func init() {
	indexes = append(indexes,
		// GridFS's own indexes, as every driver creates them.
		index{coll: mediaFilesColl, name: "filename_uploadDate", keys: bson.D{{Key: "filename", Value: 1}, {Key: "uploadDate", Value: 1}}},
		index{coll: mediaChunksColl, name: "files_id_n", unique: true, keys: bson.D{{Key: "files_id", Value: 1}, {Key: "n", Value: 1}}},
		// One file per digest: of concurrent Puts of the same bytes, one
		// files document is inserted and the others give their chunks up.
		index{coll: mediaFilesColl, name: "filename_unique", unique: true, keys: bson.D{{Key: "filename", Value: 1}}},
	)
}

// Blobs keeps media bytes in the GridFS bucket "media" of the store's
// database, one file per SHA-256 (the file's filename). Every node of a
// deployment that shares the database reads the same media. It is safe for
// concurrent use; see the package documentation, "Media bytes in GridFS".
type Blobs struct {
	s         *Store
	files     *mongo.Collection
	chunks    *mongo.Collection
	uploads   *mongo.Collection
	chunkSize int32
	// batchBytes and readAhead are putBatchBytes and readAheadBytes.
	batchBytes int
	readAhead  int64
}

// Blobs returns the GridFS media byte store on s's database, writing chunks
// of chunkSize bytes (DefaultChunkSize when 0 or less, at most 8 MiB). Its
// indexes are created by Open; it does no I/O itself. Files written with
// another chunk size (each file records its own) read back all the same.
func (s *Store) Blobs(chunkSize int32) *Blobs {
	if chunkSize <= 0 {
		chunkSize = DefaultChunkSize
	}
	chunkSize = min(chunkSize, maxChunkSize)
	db := s.media.Database()
	return &Blobs{
		s: s, files: db.Collection(mediaFilesColl), chunks: db.Collection(mediaChunksColl),
		uploads: db.Collection(mediaUploadsColl), chunkSize: chunkSize,
		batchBytes: putBatchBytes, readAhead: readAheadBytes,
	}
}

// fileDoc is a document of media.files, GridFS's files collection.
type fileDoc struct {
	ID         bson.ObjectID `bson:"_id"`
	Length     int64         `bson:"length"`
	ChunkSize  int32         `bson:"chunkSize"`
	UploadDate time.Time     `bson:"uploadDate"`
	Filename   string        `bson:"filename"`
	// HiddenAt is when Hide renamed the file (not part of GridFS); absent
	// while it is not hidden.
	HiddenAt *time.Time `bson:"hiddenAt,omitempty"`
	// Sealed says the chunks hold a sealed stream (blobseal.go; not part
	// of GridFS); absent for bytes stored as they are.
	Sealed bool `bson:"sealed,omitempty"`
}

// uploadDoc is a document of media_uploads: a Put in progress.
type uploadDoc struct {
	FileID bson.ObjectID `bson:"_id"`
	SHA256 string        `bson:"sha256"`
	At     time.Time     `bson:"at"`
}

// chunkDoc is a document of media.chunks: bytes [n*chunkSize, ...) of the
// file files_id.
type chunkDoc struct {
	ID     bson.ObjectID `bson:"_id"`
	FileID bson.ObjectID `bson:"files_id"`
	N      int32         `bson:"n"`
	Data   []byte        `bson:"data"`
}

func checkBlobSHA(op, sha string) error {
	if !mediabytes.ValidSHA256(sha) {
		if len(sha) > 80 {
			sha = sha[:80] + "..."
		}
		return fmt.Errorf("%s %q: %w", op, sha, mediabytes.ErrInvalidSHA256)
	}
	return nil
}

// file returns the files document named name, or mongo.ErrNoDocuments.
func (b *Blobs) file(ctx context.Context, name string) (fileDoc, error) {
	return findOne[fileDoc](ctx, b.files, bson.D{{Key: "filename", Value: name}}, nil)
}

// Put stores size bytes read from r under sha. Chunks go in first, under a
// new file id, hashed and counted on the way; the files document, which is
// what makes a GridFS file visible, is inserted last and only when the
// bytes are exactly size long with digest sha. Otherwise the chunks are
// deleted again and the error is mediabytes.ErrMismatch, the reader's or
// the server's. When sha is stored already Put returns without reading r;
// when a concurrent Put inserted its files document first (the unique index
// on filename refuses the second), Put deletes its own chunks and succeeds.
func (b *Blobs) Put(ctx context.Context, sha string, size int64, r io.Reader) error {
	op := "put media bytes"
	if err := checkBlobSHA(op, sha); err != nil {
		return err
	}
	op += " " + sha
	if size < 0 {
		return fmt.Errorf("%s: negative size %d: %w", op, size, mediabytes.ErrMismatch)
	}
	switch _, err := b.file(ctx, sha); {
	case err == nil:
		return nil
	case !errors.Is(err, mongo.ErrNoDocuments):
		return classify(op, err)
	}
	id := bson.NewObjectID()
	if _, err := b.uploads.InsertOne(ctx, uploadDoc{FileID: id, SHA256: sha, At: time.Now().UTC()}); err != nil {
		return classify(op+": mark upload", err)
	}
	stored, err := b.writeChunks(ctx, id, sha, size, r)
	if err != nil {
		return errors.Join(fmt.Errorf("%s: %w", op, err), b.dropChunks(ctx, id), b.unmark(ctx, id))
	}
	// Taking the marker back is what entitles the files document: a Sweep
	// that took it first is deleting the chunks.
	switch res, err := b.uploads.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); {
	case err != nil:
		return errors.Join(classify(op+": unmark upload", err), b.dropChunks(ctx, id))
	case res.DeletedCount == 0:
		// Sweep deleted the chunks it found; those written since are ours.
		return errors.Join(fmt.Errorf("%s: swept as abandoned before it finished: %w", op, actors.ErrConflict), b.dropChunks(ctx, id))
	}
	doc := fileDoc{ID: id, Length: stored, ChunkSize: b.chunkSize, UploadDate: time.Now().UTC(), Filename: sha, Sealed: b.s.keys.On()}
	if _, err := b.files.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return b.dropChunks(ctx, id) // stored by a concurrent Put
		}
		return errors.Join(classify(op, err), b.dropChunks(ctx, id))
	}
	return nil
}

// writeChunks copies r into chunks of file id, checking size and digest of
// the plaintext, and returns the length stored: with a keyring the chunks
// hold the sealed stream of the bytes (see sealing.go), bound to sha.
func (b *Blobs) writeChunks(ctx context.Context, id bson.ObjectID, sha string, size int64, r io.Reader) (int64, error) {
	h := sha256.New()
	var plainN countWriter
	plain := io.TeeReader(io.LimitReader(r, size+1), io.MultiWriter(h, &plainN))
	stored, err := b.chunkAll(ctx, id, b.s.keys.SealReader(sealed.BlobAAD(sha), plain), storedBound(b.s.keys, size))
	if err != nil {
		return 0, err
	}
	if int64(plainN) > size {
		return 0, fmt.Errorf("read more than %d bytes: %w", size, mediabytes.ErrMismatch)
	}
	if int64(plainN) != size {
		return 0, fmt.Errorf("read %d bytes, want %d: %w", plainN, size, mediabytes.ErrMismatch)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return 0, fmt.Errorf("digest is %s: %w", got, mediabytes.ErrMismatch)
	}
	return stored, nil
}

// chunkAll writes everything r yields as chunks of file id, in batches;
// bound is the most it may yield plus one (it sizes the buffer).
func (b *Blobs) chunkAll(ctx context.Context, id bson.ObjectID, r io.Reader, bound int64) (int64, error) {
	chunk := int(b.chunkSize)
	perBatch := max(1, b.batchBytes/chunk)
	buf := make([]byte, min(int64(perBatch*chunk), bound))
	var n int32
	var total int64
	for {
		filled, rerr := fill(r, buf)
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return 0, fmt.Errorf("read after %d bytes: %w", total+int64(filled), rerr)
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		total += int64(filled)
		if total >= bound {
			return 0, fmt.Errorf("read more than %d bytes: %w", bound-1, mediabytes.ErrMismatch)
		}
		var docs []any
		for off := 0; off < filled; off += chunk {
			end := min(off+chunk, filled)
			docs = append(docs, chunkDoc{ID: bson.NewObjectID(), FileID: id, N: n, Data: buf[off:end]})
			n++
		}
		if len(docs) > 0 {
			if _, err := b.chunks.InsertMany(ctx, docs); err != nil {
				return 0, classify("insert chunks", err)
			}
		}
		if rerr != nil { // the reader is drained
			return total, nil
		}
	}
}

// fill reads into buf until it is full or r ends: io.EOF then, unlike
// io.ReadFull, which turns a reader's own io.ErrUnexpectedEOF (a body cut
// off mid-stream) into a normal short read.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// unmark deletes the marker of a Put that failed; it runs even when ctx is
// done.
func (b *Blobs) unmark(ctx context.Context, id bson.ObjectID) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if _, err := b.uploads.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return classify("unmark upload "+id.Hex(), err)
	}
	return nil
}

// dropChunks deletes the chunks of file id; it runs even when ctx is done,
// so a cancelled Put leaves nothing.
func (b *Blobs) dropChunks(ctx context.Context, id bson.ObjectID) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	if _, err := b.chunks.DeleteMany(ctx, bson.D{{Key: "files_id", Value: id}}); err != nil {
		return classify("delete chunks of "+id.Hex(), err)
	}
	return nil
}

// Open returns the bytes of sha, seekable; actors.ErrNotFound when sha is
// not stored. The reader fetches chunks as it goes (see blobReader).
func (b *Blobs) Open(ctx context.Context, sha string) (actors.MediaBlob, error) {
	op := "open media bytes"
	if err := checkBlobSHA(op, sha); err != nil {
		return nil, err
	}
	f, err := b.file(ctx, sha)
	if err != nil {
		return nil, classify(op+" "+sha, err)
	}
	if f.ChunkSize <= 0 || f.Length < 0 {
		return nil, fmt.Errorf("%s %s: files document has chunk size %d and length %d", op, sha, f.ChunkSize, f.Length)
	}
	return b.plainReader(op+" "+sha, sha, f)
}

// Delete removes the bytes of sha (files document first, so readers stop
// finding them, then the chunks); a no-op when absent. Only
// mediabytes.Release should call it.
func (b *Blobs) Delete(ctx context.Context, sha string) error {
	op := "delete media bytes"
	if err := checkBlobSHA(op, sha); err != nil {
		return err
	}
	op += " " + sha
	return b.underClaim(ctx, op, sha, func() error {
		f, err := b.file(ctx, sha)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		if err != nil {
			return err
		}
		return b.remove(ctx, f)
	})
}

// remove deletes file f: its files document, then its chunks.
func (b *Blobs) remove(ctx context.Context, f fileDoc) error {
	if _, err := b.files.DeleteOne(ctx, bson.D{{Key: "_id", Value: f.ID}, {Key: "filename", Value: f.Filename}}); err != nil {
		return err
	}
	return b.dropChunks(ctx, f.ID)
}

// underClaim runs fn holding the write claim "blob/<sha>": Delete, Hide,
// Unhide and Purge of one digest are serialised by it, because FerretDB runs
// an update as a read followed by a write, so two renames of one file could
// both succeed.
func (b *Blobs) underClaim(ctx context.Context, op, sha string, fn func() error) error {
	err := retryClaimed(ctx, func() error {
		// fn's cleanups run even past ctx's deadline (dropChunks, unmark).
		release, err := b.s.claimPastDeadline(ctx, "blob/"+sha)
		if err != nil {
			return err
		}
		defer release()
		return fn()
	})
	if err != nil {
		return classify(op, err)
	}
	return nil
}

// Hide renames the file of sha to hidden/<sha>/<file id> and returns that
// name; actors.ErrNotFound when sha is not stored.
func (b *Blobs) Hide(ctx context.Context, sha string) (string, error) {
	op := "hide media bytes"
	if err := checkBlobSHA(op, sha); err != nil {
		return "", err
	}
	op += " " + sha
	var hidden string
	err := b.underClaim(ctx, op, sha, func() error {
		f, err := b.file(ctx, sha)
		if err != nil {
			return err
		}
		name := hiddenPrefix + sha + "/" + f.ID.Hex()
		res, err := b.files.UpdateOne(ctx, bson.D{{Key: "_id", Value: f.ID}, {Key: "filename", Value: sha}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "filename", Value: name}, {Key: "hiddenAt", Value: time.Now().UTC()}}}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return mongo.ErrNoDocuments
		}
		hidden = name
		return nil
	})
	if err != nil {
		return "", err
	}
	return hidden, nil
}

// parseHidden checks a name Hide returned and gives its digest.
func parseHidden(hidden string) (string, error) {
	rest, ok := strings.CutPrefix(hidden, hiddenPrefix)
	sha, id, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || !mediabytes.ValidSHA256(sha) {
		return "", fmt.Errorf("hidden key %q: not made by Hide", hidden)
	}
	if _, err := bson.ObjectIDFromHex(id); err != nil {
		return "", fmt.Errorf("hidden key %q: not made by Hide", hidden)
	}
	return sha, nil
}

// Unhide renames hidden bytes back to their sha; when sha was stored again
// meanwhile, the hidden file is removed instead. A name that is gone is a
// no-op.
func (b *Blobs) Unhide(ctx context.Context, hidden string) error {
	return b.withHidden(ctx, "unhide", hidden, func(sha string, f fileDoc) error {
		if _, err := b.file(ctx, sha); err == nil {
			return b.remove(ctx, f) // stored again meanwhile: same bytes
		}
		_, err := b.files.UpdateOne(ctx, bson.D{{Key: "_id", Value: f.ID}, {Key: "filename", Value: hidden}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "filename", Value: sha}}}, {Key: "$unset", Value: bson.D{{Key: "hiddenAt", Value: ""}}}})
		if err != nil {
			// A Put (which takes no claim) stored sha since the check: the
			// unique index refused the rename, with E11000 on MongoDB and
			// an InternalError naming the constraint on FerretDB.
			if _, ferr := b.file(ctx, sha); ferr == nil {
				return b.remove(ctx, f)
			}
		}
		return err
	})
}

// Purge removes hidden bytes; a name that is gone is a no-op.
func (b *Blobs) Purge(ctx context.Context, hidden string) error {
	return b.withHidden(ctx, "purge", hidden, func(_ string, f fileDoc) error { return b.remove(ctx, f) })
}

// withHidden runs do, under the write claim of the bytes' digest, on the
// file Hide named hidden; a file that is gone is a no-op.
func (b *Blobs) withHidden(ctx context.Context, verb, hidden string, do func(sha string, f fileDoc) error) error {
	sha, err := parseHidden(hidden)
	if err != nil {
		return fmt.Errorf("%s media bytes: %w", verb, err)
	}
	return b.underClaim(ctx, verb+" media bytes "+sha, sha, func() error {
		f, err := b.file(ctx, hidden)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		if err != nil {
			return err
		}
		return do(sha, f)
	})
}

// findChunks reads the chunks of file id numbered [from, to), in order.
func findChunks(ctx context.Context, c *mongo.Collection, id bson.ObjectID, from, to int32) ([]chunkDoc, error) {
	filter := bson.D{{Key: "files_id", Value: id}, {Key: "n", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}}}
	return findAll[chunkDoc](ctx, c, filter, options.Find().SetSort(bson.D{{Key: "n", Value: 1}}))
}
