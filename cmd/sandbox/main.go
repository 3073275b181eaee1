// Command sandbox runs the provider sandboxes on their own, on one
// listener: an emulator of the WhatsApp Cloud API (package
// gateway/sandbox/cloudapi) and one of Exotel's Voice v1 API (package
// gateway/sandbox/exotel, under /v1/Accounts/ and /sandbox/exotel/), for
// running the engine without a Meta or Exotel account. Point the engine's
// Graph API base URL and EXOTEL_API_URL at it.
//
//	SANDBOX_HOST                   address to listen on (default 127.0.0.1, loopback only;
//	                               0.0.0.0 or "" for every interface)
//	SANDBOX_PORT                   port to listen on (default 4010)
//	SANDBOX_WEBHOOK_URL            the engine's POST /api/whatsapp/webhook; empty: no callbacks
//	WHATSAPP_APP_SECRET            signs the callbacks (X-Hub-Signature-256 and X-Hub-Signature);
//	                               the engine's secret
//	SANDBOX_STATUS_DELAY           base delay between status callbacks: a Go duration ("300ms")
//	                               or whole milliseconds ("300"); default 300ms, "0" for none
//	SANDBOX_WABA_ID                the WhatsApp Business Account id (default 100000000000002)
//	SANDBOX_PRICING                PMP (default, per-message pricing) or CBP
//	SANDBOX_WINDOW                 customer service window (default 24h)
//	SANDBOX_ASSUME_WINDOW_OPEN     true: customers the sandbox never saw write are inside the
//	                               window (when inbound webhooks reach the engine another way)
//	SANDBOX_TEMPLATE_REVIEW_DELAY  how long a created template stays PENDING (default 1s)
//	SANDBOX_MEDIA_URL_LIFE         how long a media download URL serves (default 5m, Meta's)
//	SANDBOX_EXOTEL_SID             Exotel account sid the sandbox answers for (default sandbox1)
//	SANDBOX_EXOTEL_API_KEY         basic-auth user of the Exotel API (default sandbox-key)
//	SANDBOX_EXOTEL_API_TOKEN       basic-auth password of the Exotel API (default sandbox-token)
//	SANDBOX_EXOTEL_CALLER_IDS      the account's ExoPhones, comma-separated (default 08047112233)
//	SANDBOX_EXOTEL_RING_DELAY      time from connect to answered (or busy...) (default 6s)
//	SANDBOX_EXOTEL_TALK_DELAY      time from answered to completed (default 20s)
//	LOG_LEVEL                      debug, info (default), warn, error
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
	"github.com/wacc/engine/gateway/sandbox/exotel"
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
	cfg, err := loadConfig(os.LookupEnv)
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

	ln, err := listen(cfg)
	if err != nil {
		return err
	}
	return run(ctx, cfg, log, ln)
}

// listen opens the sandbox's listener on SANDBOX_HOST (loopback unless
// told otherwise) and SANDBOX_PORT.
func listen(cfg config) (net.Listener, error) {
	addr := net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// config is what the environment sets.
type config struct {
	host        string
	port        int
	webhookURL  string
	appSecret   string
	statusDelay time.Duration
	logLevel    zapcore.Level
	// sandbox holds the Options the environment sets beyond the above.
	wabaID           string
	pricing          string
	window           time.Duration
	assumeWindowOpen bool
	reviewDelay      time.Duration
	mediaURLLife     time.Duration
	exotel           exotelConfig
}

// exotelConfig is what the environment sets for the Exotel sandbox.
type exotelConfig struct {
	sid, apiKey, apiToken string
	callerIDs             []string
	ringDelay, talkDelay  time.Duration
}

// defaultConfig is the configuration with no variable set.
func defaultConfig() config {
	return config{host: cloudapi.DefaultListenHost, port: 4010, statusDelay: cloudapi.DefaultStatusDelay, logLevel: zapcore.InfoLevel,
		wabaID: cloudapi.DefaultBusinessAccountID, pricing: cloudapi.PricingPMP, window: cloudapi.DefaultServiceWindow,
		reviewDelay: cloudapi.DefaultTemplateReviewDelay, mediaURLLife: cloudapi.DefaultMediaURLLife,
		exotel: exotelConfig{sid: exotel.DefaultAccountSID, apiKey: exotel.DefaultAPIKey, apiToken: exotel.DefaultAPIToken,
			callerIDs: []string{exotel.DefaultExoPhone}, ringDelay: exotel.DefaultRingDelay, talkDelay: exotel.DefaultTalkDelay}}
}

// loadConfig reads the environment through lookupEnv (os.LookupEnv);
// every malformed variable is named.
func loadConfig(lookupEnv func(string) (string, bool)) (config, error) {
	getenv := func(name string) string { v, _ := lookupEnv(name); return v }
	cfg := defaultConfig()
	var problems []string
	if raw, set := lookupEnv("SANDBOX_HOST"); set {
		cfg.host = strings.TrimSpace(raw) // set but empty: every interface
	}
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
	if raw := strings.TrimSpace(getenv("SANDBOX_WABA_ID")); raw != "" {
		if strings.ContainsAny(raw, "/?# ") {
			problems = append(problems, fmt.Sprintf("SANDBOX_WABA_ID: %q is not an account id", raw))
		}
		cfg.wabaID = raw
	}
	if raw := strings.TrimSpace(getenv("SANDBOX_PRICING")); raw != "" {
		cfg.pricing = strings.ToUpper(raw)
		if cfg.pricing != cloudapi.PricingPMP && cfg.pricing != cloudapi.PricingCBP {
			problems = append(problems, fmt.Sprintf("SANDBOX_PRICING: %q is not PMP or CBP", raw))
		}
	}
	if raw := strings.TrimSpace(getenv("SANDBOX_WINDOW")); raw != "" {
		d, err := parseDelay(raw)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("SANDBOX_WINDOW: %q is not a positive duration such as 24h", raw))
		}
		cfg.window = d
	}
	if raw := strings.TrimSpace(getenv("SANDBOX_ASSUME_WINDOW_OPEN")); raw != "" {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			problems = append(problems, fmt.Sprintf("SANDBOX_ASSUME_WINDOW_OPEN: %q is not true or false", raw))
		}
		cfg.assumeWindowOpen = b
	}
	if raw := strings.TrimSpace(getenv("SANDBOX_TEMPLATE_REVIEW_DELAY")); raw != "" {
		d, err := parseDelay(raw)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("SANDBOX_TEMPLATE_REVIEW_DELAY: %q is not a positive duration such as 1s", raw))
		}
		cfg.reviewDelay = d
	}
	if raw := strings.TrimSpace(getenv("SANDBOX_MEDIA_URL_LIFE")); raw != "" {
		d, err := parseDelay(raw)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("SANDBOX_MEDIA_URL_LIFE: %q is not a positive duration such as 5m", raw))
		}
		cfg.mediaURLLife = d
	}
	problems = append(problems, loadExotel(getenv, &cfg.exotel)...)
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

// loadExotel reads the SANDBOX_EXOTEL_* variables into c and returns the
// problems it found.
func loadExotel(getenv func(string) string, c *exotelConfig) []string {
	var problems []string
	if raw := strings.TrimSpace(getenv("SANDBOX_EXOTEL_SID")); raw != "" {
		if strings.ContainsAny(raw, "/?# ") {
			problems = append(problems, fmt.Sprintf("SANDBOX_EXOTEL_SID: %q is not an account sid", raw))
		}
		c.sid = raw
	}
	if raw := getenv("SANDBOX_EXOTEL_API_KEY"); raw != "" {
		c.apiKey = raw
	}
	if raw := getenv("SANDBOX_EXOTEL_API_TOKEN"); raw != "" {
		c.apiToken = raw
	}
	if raw := strings.TrimSpace(getenv("SANDBOX_EXOTEL_CALLER_IDS")); raw != "" {
		c.callerIDs = nil
		for p := range strings.SplitSeq(raw, ",") {
			p = strings.TrimSpace(p)
			if len(strings.Trim(strings.TrimPrefix(p, "+"), "0123456789")) != 0 || len(p) < 7 {
				problems = append(problems, fmt.Sprintf("SANDBOX_EXOTEL_CALLER_IDS: %q is not a phone number", p))
				continue
			}
			c.callerIDs = append(c.callerIDs, p)
		}
	}
	for name, d := range map[string]*time.Duration{"SANDBOX_EXOTEL_RING_DELAY": &c.ringDelay, "SANDBOX_EXOTEL_TALK_DELAY": &c.talkDelay} {
		if raw := strings.TrimSpace(getenv(name)); raw != "" {
			v, err := parseDelay(raw)
			if err != nil || v <= 0 {
				problems = append(problems, fmt.Sprintf("%s: %q is not a positive duration such as 6s", name, raw))
			}
			*d = v
		}
	}
	return problems
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
		Log:                 log,
		WebhookURL:          cfg.webhookURL,
		AppSecret:           cfg.appSecret,
		StatusDelay:         cfg.statusDelay,
		BusinessAccountID:   cfg.wabaID,
		PricingModel:        cfg.pricing,
		ServiceWindow:       cfg.window,
		AssumeWindowOpen:    cfg.assumeWindowOpen,
		TemplateReviewDelay: cfg.reviewDelay,
		MediaURLLife:        cfg.mediaURLLife,
	})
	if cfg.webhookURL != "" && cfg.appSecret == "" {
		log.Warn("WHATSAPP_APP_SECRET is empty: the engine will refuse the callbacks' signature")
	}
	exo := exotel.New(exotel.Options{
		Log:        log,
		AccountSID: cfg.exotel.sid,
		APIKey:     cfg.exotel.apiKey,
		APIToken:   cfg.exotel.apiToken,
		ExoPhones:  cfg.exotel.callerIDs,
		RingDelay:  cfg.exotel.ringDelay,
		TalkDelay:  cfg.exotel.talkDelay,
	})
	srv := &http.Server{Handler: handler(sb, exo), ReadHeaderTimeout: 10 * time.Second}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sb.Run(gctx) })
	g.Go(func() error { return exo.Run(gctx) })
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
		zap.String("webhook_url", cfg.webhookURL), zap.Duration("status_delay", cfg.statusDelay),
		zap.String("waba_id", cfg.wabaID), zap.String("pricing", cfg.pricing), zap.Duration("window", cfg.window),
		zap.Bool("assume_window_open", cfg.assumeWindowOpen), zap.String("exotel_sid", cfg.exotel.sid),
		zap.Strings("exotel_caller_ids", cfg.exotel.callerIDs))
	err := g.Wait()
	log.Info("sandbox stopped", zap.Int("pending_callbacks", sb.PendingCallbacks()))
	return err
}

// handler routes Exotel's paths to the Exotel sandbox and everything else
// to the WhatsApp one (whose /{version}/... paths would otherwise take
// /v1/Accounts/...).
func handler(wa *cloudapi.Sandbox, exo *exotel.Sandbox) http.Handler {
	mux := http.NewServeMux()
	eh := exo.Handler()
	mux.Handle("/v1/Accounts/", eh)
	mux.Handle("/sandbox/exotel/", eh)
	mux.Handle("/", wa.Handler())
	return mux
}
