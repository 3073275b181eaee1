// Command sandbox runs the provider sandbox on its own: an emulator of the
// WhatsApp Cloud API (package gateway/sandbox/cloudapi) for running the engine
// without a Meta account. Point the engine's Graph API base URL at it.
//
//	SANDBOX_PORT          port to listen on (default 4010)
//	SANDBOX_WEBHOOK_URL   the engine's POST /api/whatsapp/webhook; empty: no callbacks
//	WHATSAPP_APP_SECRET   signs the callbacks (X-Hub-Signature-256); the engine's secret
//	SANDBOX_STATUS_DELAY  base delay between status callbacks: a Go duration ("300ms")
//	                      or whole milliseconds ("300"); default 300ms, "0" for none
//	LOG_LEVEL             debug, info (default), warn, error
//
// SIGINT or SIGTERM stops it gracefully.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/errgroup"

	"github.com/wacc/engine/gateway/sandbox/cloudapi"
)

// shutdownTimeout bounds the wait for in-flight requests at shutdown.
const shutdownTimeout = 10 * time.Second

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.port, err)
	}
	return run(ctx, cfg, log, ln)
}

// config is what the environment sets.
type config struct {
	port        int
	webhookURL  string
	appSecret   string
	statusDelay time.Duration
	logLevel    zapcore.Level
}

// loadConfig reads the environment; every malformed variable is named.
func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{port: 4010, statusDelay: cloudapi.DefaultStatusDelay, logLevel: zapcore.InfoLevel}
	var problems []string
	if raw := strings.TrimSpace(getenv("SANDBOX_PORT")); raw != "" {
		p, err := strconv.Atoi(raw)
		if err != nil || p < 0 || p > 65535 {
			problems = append(problems, fmt.Sprintf("SANDBOX_PORT: %q is not a port number", raw))
		}
		cfg.port = p
	}
	cfg.webhookURL = strings.TrimSpace(getenv("SANDBOX_WEBHOOK_URL"))
	if cfg.webhookURL != "" && !strings.HasPrefix(cfg.webhookURL, "http://") && !strings.HasPrefix(cfg.webhookURL, "https://") {
		problems = append(problems, fmt.Sprintf("SANDBOX_WEBHOOK_URL: %q is not an http(s) URL", cfg.webhookURL))
	}
	cfg.appSecret = getenv("WHATSAPP_APP_SECRET")
	if raw := strings.TrimSpace(getenv("SANDBOX_STATUS_DELAY")); raw != "" {
		d, err := parseDelay(raw)
		if err != nil {
			problems = append(problems, "SANDBOX_STATUS_DELAY: "+err.Error())
		}
		cfg.statusDelay = d
	}
	if raw := strings.TrimSpace(getenv("LOG_LEVEL")); raw != "" {
		lvl, err := zapcore.ParseLevel(raw)
		if err != nil {
			problems = append(problems, fmt.Sprintf("LOG_LEVEL: %q is not a level", raw))
		}
		cfg.logLevel = lvl
	}
	if len(problems) > 0 {
		return cfg, fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return cfg, nil
}

func parseDelay(raw string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(raw, 10, 64); err == nil && ms >= 0 {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 300ms or 1s", raw)
	}
	return d, nil
}

func newLogger(level zapcore.Level) (*zap.Logger, error) {
	zc := zap.NewDevelopmentConfig()
	zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	zc.DisableStacktrace = true
	zc.DisableCaller = true
	zc.Level = zap.NewAtomicLevelAt(level)
	log, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("build logger: %w", err)
	}
	return log, nil
}

// run serves the sandbox on ln until ctx ends, then stops the callback
// workers (which also releases requests held by the time-out fault) and
// shuts the HTTP server down.
func run(ctx context.Context, cfg config, log *zap.Logger, ln net.Listener) error {
	sb := cloudapi.New(cloudapi.Options{
		Log:         log,
		WebhookURL:  cfg.webhookURL,
		AppSecret:   cfg.appSecret,
		StatusDelay: cfg.statusDelay,
	})
	if cfg.webhookURL != "" && cfg.appSecret == "" {
		log.Warn("WHATSAPP_APP_SECRET is empty: the engine will refuse the callbacks' signature")
	}
	srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sb.Run(gctx) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("shut down http server: %w", err)
		}
		return nil
	})
	log.Info("sandbox listening", zap.String("addr", ln.Addr().String()),
		zap.String("webhook_url", cfg.webhookURL), zap.Duration("status_delay", cfg.statusDelay))
	err := g.Wait()
	log.Info("sandbox stopped", zap.Int("pending_callbacks", sb.PendingCallbacks()))
	return err
}
