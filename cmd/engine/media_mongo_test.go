package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/media/samples"
	"github.com/wacc/engine/persistence/servicetest"
)

// TestMediaOnGridFS: with MONGODB_URI the engine keeps media bytes in the
// GridFS bucket "media" of its database (FerretDB here), nothing under
// DATA_DIR/media; they read back whole and by range, and a delete removes
// them from the bucket.
func TestMediaOnGridFS(t *testing.T) {
	cfg := testConfig(t)
	cfg.MongoURI = servicetest.FerretDB(t, servicetest.FerretSQLite)
	cfg.MongoDatabase = "media_" + strings.ToLower(actors.NewID()[:12])
	cfg.ConnectTimeout = 30 * time.Second
	l := startLive(t, cfg)
	_, agent := l.user(actors.RoleAgent)

	img := samples.JPEGOfSize(700 << 10) // several GridFS chunks of 255 KB
	st, body := l.uploadFile(agent, "receipt.jpg", img)
	require.Equal(t, http.StatusCreated, st, "%v", body)
	id := body["data"].(map[string]any)["media"].(map[string]any)["id"].(string)
	sum := sha256.Sum256(img)
	digest := hex.EncodeToString(sum[:])

	client, err := mongo.Connect(options.Client().ApplyURI(cfg.MongoURI))
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	files := client.Database(cfg.MongoDatabase).Collection("media.files")
	var doc struct {
		Length    int64 `bson:"length"`
		ChunkSize int32 `bson:"chunkSize"`
	}
	require.NoError(t, files.FindOne(t.Context(), bson.D{{Key: "filename", Value: digest}}).Decode(&doc))
	assert.EqualValues(t, len(img), doc.Length)
	_, err = os.Stat(filepath.Join(cfg.DataDir, "media"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no files under DATA_DIR/media")

	get := func(rangeHeader string) (int, []byte) {
		req, err := http.NewRequest("GET", l.url+"/api/media/"+id+"/content", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+agent)
		if rangeHeader != "" {
			req.Header.Set("Range", rangeHeader)
		}
		res, err := l.client.Do(req)
		require.NoError(t, err)
		defer func() { _ = res.Body.Close() }()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, b
	}
	st, got := get("")
	require.Equal(t, http.StatusOK, st)
	assert.Equal(t, img, got)
	st, got = get("bytes=300000-600000") // across chunk boundaries
	require.Equal(t, http.StatusPartialContent, st)
	assert.Equal(t, img[300000:600001], got)

	st, _ = l.api("DELETE", "/api/media/"+id, agent, nil)
	require.Equal(t, http.StatusNoContent, st)
	n, err := files.CountDocuments(t.Context(), bson.D{{Key: "filename", Value: digest}})
	require.NoError(t, err)
	assert.Zero(t, n, "the bytes left the bucket")
}
