package mongostore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// BlobSweepReport says what a Blobs.Sweep did.
type BlobSweepReport struct {
	// AbandonedUploads counts Puts that died before their files document;
	// their chunks were deleted.
	AbandonedUploads int
	// HiddenRestored counts hidden files put back under their digest.
	HiddenRestored int
}

// Sweep tidies the bucket after crashes, touching only what is older than
// olderThan (an hour is far longer than any Put or Release):
//
//   - The chunks of a Put that died before inserting its files document
//     are deleted. Each Put keeps a marker in media_uploads while it
//     writes; Sweep takes an old marker (one deleteOne, so either Sweep or
//     the Put gets it, and a Put that loses it fails rather than insert a
//     files document over chunks being deleted) and deletes the chunks.
//   - A hidden file (a Release that died between hiding and purging or
//     putting back) is put back under its digest: a record may need it, and
//     bytes kept too long only waste space.
//
// Sweep is safe on a database other nodes use meanwhile. The engine runs it
// at start; it scans media_uploads and the hidden files only, both small.
func (b *Blobs) Sweep(ctx context.Context, olderThan time.Duration) (BlobSweepReport, error) {
	var rep BlobSweepReport
	cutoff := time.Now().Add(-olderThan)
	var errs []error

	marks, err := findAll[uploadDoc](ctx, b.uploads, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: cutoff}}}}, options.Find())
	if err != nil {
		return rep, classify("sweep media bytes: abandoned uploads", err)
	}
	for _, m := range marks {
		res, err := b.uploads.DeleteOne(ctx, bson.D{{Key: "_id", Value: m.FileID}})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if res.DeletedCount == 0 {
			continue // the Put finished meanwhile
		}
		if err := b.dropChunks(ctx, m.FileID); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.AbandonedUploads++
	}

	hiddenFilter := bson.D{
		{Key: "filename", Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(hiddenPrefix)}}},
		{Key: "hiddenAt", Value: bson.D{{Key: "$lt", Value: cutoff}}},
	}
	hidden, err := findAll[fileDoc](ctx, b.files, hiddenFilter, options.Find().SetProjection(bson.D{{Key: "filename", Value: 1}}))
	if err != nil {
		return rep, errors.Join(append(errs, classify("sweep media bytes: hidden files", err))...)
	}
	for _, f := range hidden {
		if err := b.Unhide(ctx, f.Filename); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.HiddenRestored++
	}
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("sweep media bytes: %w", err)
	}
	return rep, nil
}
