package mongostore

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/persistence/blobtest"
)

// testChunkSize is small, so the suite's few-kilobyte blobs span chunks.
const testChunkSize = 1024

// blobResidue lists what the bucket holds besides complete files: hidden
// files and chunks of no file.
func blobResidue(t *testing.T, bs mediabytes.Blobs) []string {
	t.Helper()
	b := bs.(*Blobs)
	ctx := t.Context()
	files, err := findAll[fileDoc](ctx, b.files, bson.D{}, options.Find())
	require.NoError(t, err)
	var out []string
	live := map[bson.ObjectID]bool{}
	for _, f := range files {
		live[f.ID] = true
		if !mediabytes.ValidSHA256(f.Filename) {
			out = append(out, "file "+f.Filename)
		}
	}
	chunks, err := findAll[chunkDoc](ctx, b.chunks, bson.D{}, options.Find().SetProjection(bson.D{{Key: "files_id", Value: 1}, {Key: "n", Value: 1}}))
	require.NoError(t, err)
	for _, c := range chunks {
		if !live[c.FileID] {
			out = append(out, "chunk "+c.FileID.Hex())
		}
	}
	marks, err := findAll[uploadDoc](ctx, b.uploads, bson.D{}, options.Find())
	require.NoError(t, err)
	for _, m := range marks {
		out = append(out, "upload "+m.FileID.Hex())
	}
	return out
}

func runBlobContract(t *testing.T, handler string) {
	blobtest.Run(t, blobtest.Harness{
		Open:      func(t *testing.T) mediabytes.Blobs { return openStore(t, handler).Blobs(testChunkSize) },
		ChunkSize: testChunkSize,
		Residue:   blobResidue,
	})
}

func TestBlobContractFerretSQLite(t *testing.T) { runBlobContract(t, handlerSQLite) }

func TestBlobContractFerretPostgres(t *testing.T) { runBlobContract(t, handlerPostgres) }

func runReferences(t *testing.T, handler string) {
	blobtest.RunReferences(t, blobtest.RefHarness{
		Open: func(t *testing.T) (actors.MediaStore, mediabytes.Blobs) {
			s := openStore(t, handler)
			return s, s.Blobs(testChunkSize)
		},
		Residue: blobResidue,
		Rounds:  10,
	})
}

func TestReferencesFerretSQLite(t *testing.T) { runReferences(t, handlerSQLite) }

func TestReferencesFerretPostgres(t *testing.T) { runReferences(t, handlerPostgres) }
