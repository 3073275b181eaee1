package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Options are the gateway's own settings, mapped by cmd/engine from the
// engine's configuration (the variable each comes from is named). Zero
// timeouts take the defaults below.
type Options struct {
	// Host and Port are where Run listens (HOST, PORT).
	Host string
	Port int
	// Production sends HSTS (APP_ENV=production).
	Production bool
	// AllowedOrigins are the CORS and WebSocket origins; "*" allows any
	// (ALLOWED_ORIGINS).
	AllowedOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// MaxBodyBytes limits the body of every JSON API route
	// (MAX_BODY_BYTES); WebhookMaxBytes the signed webhook's
	// (WEBHOOK_MAX_BYTES). Each route is limited by its own, never both.
	MaxBodyBytes    int64
	WebhookMaxBytes int64
	// RateLimitAPIPerMin and RateLimitAuthPerMin are per client IP
	// (RATE_LIMIT_API_PER_MIN, RATE_LIMIT_AUTH_PER_MIN).
	RateLimitAPIPerMin  int
	RateLimitAuthPerMin int
	// JWTExpiresIn and JWTRefreshExpiresIn are the lifetimes of access
	// and refresh tokens (the tokens themselves come from app's issuer).
	JWTExpiresIn        time.Duration
	JWTRefreshExpiresIn time.Duration
	// CacheTTL is the lifetime of a cached user or customer (CACHE_TTL).
	CacheTTL time.Duration
	// WhatsAppVerifyToken answers Meta's handshake; WhatsAppAppSecret
	// checks webhook signatures.
	WhatsAppVerifyToken string
	WhatsAppAppSecret   string
	// DefaultPhoneRegion reads numbers written without +country
	// (DEFAULT_PHONE_REGION; empty: + required).
	DefaultPhoneRegion string
	// WhatsAppPhoneNumberID is the business number that sends when a
	// request names none (WHATSAPP_PHONE_NUMBER_ID).
	WhatsAppPhoneNumberID string
	// ShutdownTimeout bounds the drain of in-flight requests.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// HTTP server's. WriteTimeout is also the longest a request may run,
	// which bounds an Idempotency-Key's lease.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
}

// Default HTTP timeouts of Options.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 15 * time.Second
)

// withDefaults fills zero timeouts and checks what the gateway cannot run
// without.
func (o Options) withDefaults() (Options, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ShutdownTimeout, DefaultShutdownTimeout)
	var errs []error
	if o.MaxBodyBytes <= 0 || o.WebhookMaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("body limits must be positive, got %d and %d", o.MaxBodyBytes, o.WebhookMaxBytes))
	}
	if o.JWTExpiresIn <= 0 || o.JWTRefreshExpiresIn <= 0 || o.CacheTTL <= 0 {
		errs = append(errs, errors.New("token lifetimes and the cache TTL must be positive"))
	}
	if o.RateLimitAPIPerMin <= 0 || o.RateLimitAuthPerMin <= 0 {
		errs = append(errs, errors.New("rate limits must be positive"))
	}
	return o, errors.Join(errs...)
}

// idempotencyLeaseSlack is how much longer than its request may run a
// claimed Idempotency-Key belongs to that request (WriteTimeout, or the
// uploads' own limit). A repeat that finds an unanswered claim past its
// lease takes it over (the first request died with its process).
const idempotencyLeaseSlack = 10 * time.Second
