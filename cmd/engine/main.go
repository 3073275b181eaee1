// Command engine runs the WhatsApp contact-centre engine: the HTTP and
// WebSocket gateway over the conversation and call actors, on embedded
// SQLite and in-process shared state by default, or MongoDB and Redis when
// configured; calls go to Exotel, or to the built-in Exotel sandbox without
// EXOTEL_API_TOKEN.
//
//	engine                         serve (default)
//	engine admin create --email E --password-stdin [--name N]
//	engine reencrypt [--batch N] [--kinds customers,messages,media] [--after ID]
//
// A bad configuration, and any failure of the start-up after it (a busy
// port, DATA_DIR in use by another engine or not writable, MongoDB, Redis
// or RabbitMQ not reachable within CONNECT_TIMEOUT), exits 1 with one line
// "engine: <cause>" naming the variable or dependency, after closing what
// was opened. With SQLite the engine holds an exclusive lock on DATA_DIR
// for its whole life.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wacc/engine/configs"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	if len(args) > 0 && args[0] != "serve" {
		switch args[0] {
		case "admin":
			return adminCommand(context.Background(), cfg, log, args[1:], stdin, stdout)
		case "reencrypt":
			return reencryptCommand(context.Background(), cfg, log, args[1:], stdout)
		default:
			return fmt.Errorf("unknown command %q; commands: serve, admin create, reencrypt", args[0])
		}
	}

	// The first SIGINT/SIGTERM starts a graceful shutdown; a second one
	// exits at once.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		log.Info("shutting down", zap.String("signal", sig.String()))
		stop()
		if _, ok := <-sigs; ok {
			log.Warn("second signal; exiting now")
			_ = log.Sync()
			os.Exit(2)
		}
	}()

	e, err := newEngine(ctx, cfg, log)
	if err != nil {
		return err
	}
	err = e.Run(ctx, nil)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// newLogger builds the process's one logger: JSON in production, readable
// console lines otherwise.
func newLogger(cfg configs.Config) (*zap.Logger, error) {
	var zc zap.Config
	if cfg.Production() {
		zc = zap.NewProductionConfig()
	} else {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		zc.DisableStacktrace = true
	}
	lvl, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.DisableCaller = !cfg.Production()
	return zc.Build()
}
