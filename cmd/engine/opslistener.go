package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/configs"
)

// listenOps binds the operations listener (METRICS_ADDR), or returns nil
// when it is off. A busy default port falls back to a free loopback port,
// logged, so several engines on one machine (development, tests) each get
// one; an address set explicitly must be free.
func listenOps(cfg configs.Config, log *zap.Logger) (net.Listener, error) {
	if cfg.MetricsOff() {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil && cfg.MetricsAddr == configs.DefaultMetricsAddr && errors.Is(err, syscall.EADDRINUSE) {
		log.Warn("METRICS_ADDR's default port is busy; the operations listener takes a free loopback port",
			zap.String("default", cfg.MetricsAddr))
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("listen for the operations endpoints on METRICS_ADDR %s: %w", cfg.MetricsAddr, listenCause(err))
	}
	return ln, nil
}

// serveOps serves h on ln until ctx ends; nil ln is a no-op.
func serveOps(ctx context.Context, ln net.Listener, h http.Handler, log *zap.Logger) error {
	if ln == nil {
		return nil
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("metrics listening", zap.String("addr", ln.Addr().String()))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve METRICS_ADDR: %w", err)
	}
	return nil
}
