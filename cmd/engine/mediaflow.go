package main

import (
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway/outbound/mediafetch"
	"github.com/wacc/engine/gateway/outbound/sender"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
)

// mediaFlow is media in motion: the fetcher that brings inbound media into
// the byte store, and the readying of our media for sends (whose uploads
// the sender runs). Built before the conversations, which use both.
type mediaFlow struct {
	fetcher *mediafetch.Fetcher
	prep    *sender.MediaPrep
}

// newMediaFlow builds the fetcher on the store, the byte store and the
// Cloud API client, publishing message.updated on events.
func newMediaFlow(cfg configs.Config, store engineStore, blobs mediabytes.Blobs, client *whatsapp.Client, events actors.Publisher,
	log *zap.Logger, reg prometheus.Registerer,
) *mediaFlow {
	return &mediaFlow{
		fetcher: mediafetch.New(mediafetch.Options{Store: store, Blobs: blobs, Client: client, Publisher: events,
			TempDir: filepath.Join(cfg.DataDir, "media-fetch"), Workers: cfg.MediaFetchWorkers, MaxAttempts: cfg.MediaFetchAttempts,
			RetryBase: cfg.MediaFetchBackoff, MaxBytes: cfg.MediaMaxBytes, Log: log, Registry: reg}),
		prep: &sender.MediaPrep{Store: store},
	}
}
