package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/gateway/media"
	"github.com/wacc/engine/persistence/fsblobs"
	"github.com/wacc/engine/persistence/mongostore"
)

// mediaSweepAfter spares, at start-up with MongoDB, what other engines may
// be working on: spool files of uploads they receive on the same DATA_DIR
// and GridFS writes in flight. It is longer than any upload may take (the
// gateway gives one 15 minutes).
const mediaSweepAfter = time.Hour

// engineMedia is where media bytes live and where uploads are spooled
// while they are checked.
type engineMedia struct {
	blobs  mediabytes.Blobs
	intake *media.Intake
	desc   string
}

// openMedia opens the byte store: GridFS in the MongoDB database when
// MONGODB_URI is set (every node reads the same media; what a crash left
// there over an hour ago is swept, within CONNECT_TIMEOUT), files under
// DATA_DIR/media otherwise (swept of a crash's leftovers by fsblobs.Open).
// Uploads spool in DATA_DIR/media-spool; an engine that holds the DATA_DIR
// lock (SQLite) removes every leftover spool file there, one on MongoDB
// only those older than an hour.
func openMedia(ctx context.Context, cfg configs.Config, store engineStore, ownsDataDir bool, log *zap.Logger) (*engineMedia, error) {
	m := &engineMedia{}
	if ms, ok := store.(*mongostore.Store); ok {
		gridfs := ms.Blobs(mongostore.DefaultChunkSize)
		sctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
		rep, err := gridfs.Sweep(sctx, mediaSweepAfter)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("sweep the GridFS media bucket within CONNECT_TIMEOUT %s: %w", cfg.ConnectTimeout, err)
		}
		if rep.AbandonedUploads > 0 || rep.HiddenRestored > 0 {
			log.Info("media bucket swept", zap.Int("abandoned_uploads", rep.AbandonedUploads), zap.Int("hidden_restored", rep.HiddenRestored))
		}
		m.blobs = gridfs
		m.desc = "gridfs bucket media"
	} else {
		root := filepath.Join(cfg.DataDir, "media")
		keys, err := dataKeyring(cfg)
		if err != nil {
			return nil, err
		}
		fs, err := fsblobs.Open(root, fsblobs.WithKeyring(keys))
		if err != nil {
			return nil, fmt.Errorf("open the media store in DATA_DIR %s: %w", root, err)
		}
		m.blobs = fs
		m.desc = "files " + root
	}
	spool := filepath.Join(cfg.DataDir, "media-spool")
	if cfg.DataDir == "" {
		spool = filepath.Join(os.TempDir(), "engine-media-spool")
	}
	sweepAfter := time.Duration(0)
	if !ownsDataDir {
		sweepAfter = mediaSweepAfter
	}
	intake, err := media.NewIntake(media.Options{Dir: spool, MaxBytes: cfg.MediaMaxBytes, SweepAfter: sweepAfter})
	if err != nil {
		return nil, fmt.Errorf("MEDIA_MAX_BYTES / DATA_DIR: %w", err)
	}
	m.intake = intake
	log.Debug("media store open", zap.String("bytes", m.desc), zap.String("spool", spool))
	return m, nil
}

// gateway is what the gateway's media routes are built from.
func (m *engineMedia) gateway(store engineStore) *gateway.Media {
	return &gateway.Media{Store: store, Blobs: m.blobs, Intake: m.intake}
}
