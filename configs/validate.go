package configs

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// report collects what is wrong, one error per variable, each naming it.
type report struct{ errs []error }

func (r *report) bad(env, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, args...)))
}

// intIn refuses v outside lo..hi.
func (r *report) intIn(env string, v, lo, hi int64) {
	if v < lo || v > hi {
		r.bad(env, "must be %d-%d, got %d", lo, hi, v)
	}
}

// durationIn refuses d outside lo..hi; text names the range as the README
// does ("1s and 7d").
func (r *report) durationIn(env string, d, lo, hi time.Duration, text string) {
	if d < lo || d > hi {
		r.bad(env, "must be between %s, got %s", text, d)
	}
}

// urlScheme refuses a non-empty raw that is not a URL of one of schemes.
func (r *report) urlScheme(env, raw, want string, schemes ...string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err == nil {
		for _, s := range schemes {
			if u.Scheme == s {
				return
			}
		}
	}
	r.bad(env, "must be %s", want)
}

// required refuses an empty v in production.
func (r *report) required(c Config, env, v, why string) {
	if c.Production() && v == "" {
		r.bad(env, "is required in production%s", why)
	}
}

// sections are Validate's checks, one per group of variables; each rule
// names its variable.
var sections = []struct {
	name  string
	check func(c Config, r *report)
}{
	{"server", validateServer},
	{"storage", validateStorage},
	{"encryption", validateEncryption},
	{"auth", validateAuth},
	{"limits", validateLimits},
	{"conversations", validateConversations},
	{"whatsapp", validateWhatsApp},
	{"sending", validateSending},
	{"calls", validateCalls},
	{"cluster", validateCluster},
}

// Validate checks every field and returns one error listing each bad
// variable by name. It checks the values as they are: defaults that follow
// another setting are adapted before, by AdaptDefaults, so a pair that is
// still impossible here was set so explicitly and is refused with a message
// naming both variables. It does not generate secrets.
func (c Config) Validate() error {
	r := &report{}
	for _, s := range sections {
		s.check(c, r)
	}
	return errors.Join(r.errs...)
}

func validateServer(c Config, r *report) {
	switch c.AppEnv {
	case EnvDevelopment, EnvProduction, EnvTest:
	default:
		r.bad("APP_ENV", "must be development, production or test, got %q", c.AppEnv)
	}
	r.intIn("PORT", int64(c.Port), 0, 65535)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		r.bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if _, err := c.TrustedPrefixes(); err != nil {
		r.bad("TRUSTED_PROXIES", "%v", err)
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			r.bad("ALLOWED_ORIGINS", "%q is not an origin like https://console.example.com", o)
		}
	}
	r.durationIn("SHUTDOWN_TIMEOUT", c.ShutdownTimeout, time.Second, 10*time.Minute, "1s and 10m")
	r.durationIn("CONNECT_TIMEOUT", c.ConnectTimeout, 100*time.Millisecond, 5*time.Minute, "100ms and 5m")
}

func validateStorage(c Config, r *report) {
	if c.MongoURI == "" && strings.TrimSpace(c.DataDir) == "" {
		r.bad("DATA_DIR", "must not be empty")
	}
	if c.MongoURI != "" {
		r.urlScheme("MONGODB_URI", c.MongoURI, "a mongodb:// or mongodb+srv:// URI", "mongodb", "mongodb+srv")
		if c.MongoDatabase == "" {
			r.bad("MONGODB_DATABASE", "must not be empty")
		}
	}
	r.intIn("MONGODB_POOL_SIZE", int64(c.MongoPoolSize), 1, 10000)
	r.urlScheme("REDIS_URL", c.RedisURL, "a redis:// or rediss:// URL", "redis", "rediss")
	if c.ClusterEvents && c.RedisURL == "" {
		r.bad("CLUSTER_EVENTS", "needs REDIS_URL: the nodes share events through Redis")
	}
	r.urlScheme("RABBITMQ_URL", c.RabbitMQURL, "an amqp:// or amqps:// URL", "amqp", "amqps")
	if c.RabbitMQQueue == "" || len(c.RabbitMQQueue) > 200 {
		r.bad("RABBITMQ_QUEUE", "must be 1-200 characters")
	}
	switch {
	case c.RabbitMQCallQueue == "" || len(c.RabbitMQCallQueue) > 200:
		r.bad("RABBITMQ_CALL_QUEUE", "must be 1-200 characters")
	case c.RabbitMQCallQueue == c.RabbitMQQueue:
		r.bad("RABBITMQ_CALL_QUEUE", "must differ from RABBITMQ_QUEUE")
	}
	if c.CustomerCacheSize < 0 {
		r.bad("CACHE_MAX_ENTRIES", "must not be negative")
	}
	if c.CacheTTL < time.Second {
		r.bad("CACHE_TTL", "must be at least 1s")
	}
	if c.AuditBuffer < 100 {
		r.bad("AUDIT_BUFFER", "must be at least 100")
	}
}

// validateEncryption checks presence only; the keys' format is checked by
// persistence/sealed when the engine builds its keyring.
func validateEncryption(c Config, r *report) {
	r.required(c, "DATA_ENCRYPTION_KEYS", c.DataEncryptionKeys, " (encryption at rest of customer data, messages and media)")
	if c.DataEncryptionKeys != "" && c.DataHashKey == "" {
		r.bad("DATA_HASH_KEY", "is required with DATA_ENCRYPTION_KEYS")
	}
}

func validateAuth(c Config, r *report) {
	r.required(c, "JWT_SECRET", c.JWTSecret, "")
	r.required(c, "JWT_REFRESH_SECRET", c.JWTRefreshSecret, "")
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		r.bad("JWT_SECRET", "must be at least 32 bytes")
	}
	if c.JWTRefreshSecret != "" && len(c.JWTRefreshSecret) < 32 {
		r.bad("JWT_REFRESH_SECRET", "must be at least 32 bytes")
	}
	if c.JWTSecret != "" && c.JWTSecret == c.JWTRefreshSecret {
		r.bad("JWT_REFRESH_SECRET", "must differ from JWT_SECRET")
	}
	r.durationIn("JWT_EXPIRES_IN", c.JWTExpiresIn, time.Second, 24*time.Hour, "1s and 24h")
	if c.JWTRefreshExpiresIn < c.JWTExpiresIn || c.JWTRefreshExpiresIn > 365*24*time.Hour {
		r.bad("JWT_REFRESH_EXPIRES_IN", "must be between JWT_EXPIRES_IN (%s) and 365d, got %s", c.JWTExpiresIn, c.JWTRefreshExpiresIn)
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		r.bad("ADMIN_PASSWORD", "ADMIN_EMAIL and ADMIN_PASSWORD must be set together")
	}
	if c.AdminEmail != "" && !plausibleEmail(c.AdminEmail) {
		r.bad("ADMIN_EMAIL", "%q is not an email address like admin@example.com", c.AdminEmail)
	}
	if c.AdminPassword != "" && (len(c.AdminPassword) < 8 || len(c.AdminPassword) > 128) {
		r.bad("ADMIN_PASSWORD", "must be 8-128 characters")
	}
}

// plausibleEmail is the rule of ADMIN_EMAIL, the gateway's for any user:
// a bare address (no display name, no angle brackets) with a dot in its
// domain.
func plausibleEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && len(s) <= 254 && strings.Contains(s[strings.LastIndexByte(s, '@'):], ".")
}

func validateLimits(c Config, r *report) {
	if c.RateLimitAPIPerMin < 1 {
		r.bad("RATE_LIMIT_API_PER_MIN", "must be at least 1, got %d", c.RateLimitAPIPerMin)
	}
	if c.RateLimitAuthPerMin < 1 {
		r.bad("RATE_LIMIT_AUTH_PER_MIN", "must be at least 1, got %d", c.RateLimitAuthPerMin)
	}
	r.intIn("MAX_BODY_BYTES", c.MaxBodyBytes, 1024, 64<<20)
	r.intIn("WEBHOOK_MAX_BYTES", c.WebhookMaxBytes, 1024, 64<<20)
	// WhatsApp takes no file over 100 MB (its document limit).
	r.intIn("MEDIA_MAX_BYTES", c.MediaMaxBytes, 1024, 100<<20)
	r.intIn("SOCKET_BUFFER", int64(c.SocketBuffer), 8, 65536)
	r.intIn("WS_MAX_FRAMES_PER_SECOND", int64(c.SocketMaxFrames), 1, 10000)
	r.intIn("WS_FRAME_BURST", int64(c.SocketFrameBurst), 1, 100000)
	r.intIn("WS_MAX_SOCKETS_PER_USER", int64(c.SocketsPerUser), 1, 1000)
	r.durationIn("SOCKET_AUTH_GRACE", c.SocketAuthGrace, time.Second, time.Hour, "1s and 1h")
}

func validateConversations(c Config, r *report) {
	r.durationIn("WHATSAPP_SERVICE_WINDOW", c.ServiceWindow, time.Second, 7*24*time.Hour, "1s and 7d")
	if c.WindowWarning < 0 || c.WindowWarning >= c.ServiceWindow {
		r.bad("WINDOW_WARNING", "must be at least 0 and shorter than WHATSAPP_SERVICE_WINDOW (%s), got %s", c.ServiceWindow, c.WindowWarning)
	}
	if c.ActorIdleTimeout < 100*time.Millisecond {
		r.bad("ACTOR_IDLE_TIMEOUT", "must be at least 100ms, got %s", c.ActorIdleTimeout)
	}
	if c.AgentMaxOpen < 1 {
		r.bad("AGENT_MAX_OPEN", "must be at least 1, got %d", c.AgentMaxOpen)
	}
	r.intIn("CONVERSATION_SHARDS", int64(c.ConversationShards), 1, 1024)
	r.intIn("REHYDRATE_MAX", int64(c.RehydrateMax), 0, 10_000_000)
	if c.DefaultPhoneRegion != "" && (len(c.DefaultPhoneRegion) != 2 || strings.ToUpper(c.DefaultPhoneRegion) != c.DefaultPhoneRegion) {
		r.bad("DEFAULT_PHONE_REGION", "must be a two-letter upper-case ISO region such as IN, got %q", c.DefaultPhoneRegion)
	}
}

func validateWhatsApp(c Config, r *report) {
	r.required(c, "WHATSAPP_VERIFY_TOKEN", c.WhatsAppVerifyToken, "")
	r.required(c, "WHATSAPP_APP_SECRET", c.WhatsAppAppSecret, "")
	r.required(c, "WHATSAPP_ACCESS_TOKEN", c.WhatsAppAccessToken, " (the sandbox never runs there)")
	if u, err := url.Parse(c.WhatsAppAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.bad("WHATSAPP_API_URL", "must be an http(s) URL, got %q", c.WhatsAppAPIURL)
	}
	if !strings.HasPrefix(c.WhatsAppAPIVersion, "v") || len(c.WhatsAppAPIVersion) < 2 {
		r.bad("WHATSAPP_API_VERSION", "must look like v21.0, got %q", c.WhatsAppAPIVersion)
	}
	if c.WhatsAppPhoneNumberID == "" || strings.ContainsAny(c.WhatsAppPhoneNumberID, "/?#") {
		r.bad("WHATSAPP_PHONE_NUMBER_ID", "must be a phone number id, got %q", c.WhatsAppPhoneNumberID)
	}
	if id := c.WhatsAppBusinessAccountID; id != "" && (len(id) > 32 || strings.Trim(id, "0123456789") != "") {
		r.bad("WHATSAPP_BUSINESS_ACCOUNT_ID", "must be a WhatsApp Business Account id (digits), got %q", id)
	} else if id != "" && c.SandboxRuns() && id != c.SandboxWABAID {
		r.bad("WHATSAPP_BUSINESS_ACCOUNT_ID", "must be the sandbox's SANDBOX_WABA_ID (%s) while the sandbox runs, got %s: its templates are listed there", c.SandboxWABAID, id)
	}
	if d := c.TemplateSyncInterval; d != 0 {
		r.durationIn("WHATSAPP_TEMPLATE_SYNC_INTERVAL", d, time.Minute, 7*24*time.Hour, "1m and 7d (or 0)")
	}
	r.durationIn("SANDBOX_STATUS_DELAY", c.SandboxStatusDelay, 0, time.Minute, "0 and 1m")
	if !c.MetricsOff() {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			r.bad("METRICS_ADDR", "must be host:port (127.0.0.1:9090), empty or off, got %q", c.MetricsAddr)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			r.bad("METRICS_ADDR", "port must be 0-65535, got %q", port)
		} else if n != 0 && n == c.Port {
			r.bad("METRICS_ADDR", "must not be the API's PORT (%d): its details are not for the public port", c.Port)
		}
	}
	r.intIn("SANDBOX_PORT", int64(c.SandboxPort), 0, 65535)
	if c.SandboxRuns() && c.SandboxPort != 0 && c.SandboxPort == c.Port {
		r.bad("SANDBOX_PORT", "must differ from PORT (both %d): the sandbox and the API cannot share a port", c.Port)
	}
	if c.SandboxWABAID == "" || strings.ContainsAny(c.SandboxWABAID, "/?# ") {
		r.bad("SANDBOX_WABA_ID", "must be a WhatsApp Business Account id, got %q", c.SandboxWABAID)
	}
	if c.SandboxPricing != "PMP" && c.SandboxPricing != "CBP" {
		r.bad("SANDBOX_PRICING", "must be PMP or CBP, got %q", c.SandboxPricing)
	}
	r.durationIn("SANDBOX_WINDOW", c.SandboxWindow, time.Millisecond, 30*24*time.Hour, "1ms and 30d")
}

func validateSending(c Config, r *report) {
	r.intIn("WHATSAPP_MPS", int64(c.WhatsAppMPS), 1, 10000)
	r.durationIn("WHATSAPP_PAIR_INTERVAL", c.PairInterval, 0, time.Minute, "0 and 1m")
	r.intIn("WHATSAPP_PAIR_BURST", int64(c.PairBurst), 1, 1000)
	r.intIn("SEND_MAX_ATTEMPTS", int64(c.SendMaxAttempts), 1, 100)
	r.intIn("SEND_WORKERS", int64(c.SendWorkers), 1, 1024)
	r.intIn("MEDIA_FETCH_WORKERS", int64(c.MediaFetchWorkers), 1, 256)
	r.intIn("MEDIA_FETCH_ATTEMPTS", int64(c.MediaFetchAttempts), 1, 100)
	r.durationIn("MEDIA_FETCH_BACKOFF", c.MediaFetchBackoff, 10*time.Millisecond, 10*time.Minute, "10ms and 10m")
	r.durationIn("WHATSAPP_NUMBER_PAUSE", c.NumberPause, 0, 24*time.Hour, "0 and 24h")
	r.durationIn("WHATSAPP_RECIPIENT_PAUSE", c.RecipientPause, 0, 7*24*time.Hour, "0 and 7d")
}

func validateCalls(c Config, r *report) {
	if u, err := url.Parse(c.ExotelAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.bad("EXOTEL_API_URL", "must be an http(s) URL such as https://api.exotel.com or https://api.in.exotel.com, got %q", c.ExotelAPIURL)
	}
	if c.ExotelSID == "" || strings.ContainsAny(c.ExotelSID, "/?#% ") {
		r.bad("EXOTEL_SID", "must be an Exotel account sid, got %q", c.ExotelSID)
	}
	if c.ExotelAPIToken != "" && c.ExotelAPIKey == "" {
		r.bad("EXOTEL_API_KEY", "is required with EXOTEL_API_TOKEN (basic auth is key:token)")
	}
	if c.ExotelCallerID == "" || strings.Trim(c.ExotelCallerID, "+0123456789") != "" {
		r.bad("EXOTEL_CALLER_ID", "must be an ExoPhone number, got %q", c.ExotelCallerID)
	}
	if c.ExotelAPIToken != "" && c.ExotelCallbackURL == "" {
		r.bad("EXOTEL_CALLBACK_URL", "is required with EXOTEL_API_TOKEN: Exotel must reach /api/calls/webhook at a public URL")
	}
	if c.ExotelCallbackURL != "" {
		if u, err := url.Parse(c.ExotelCallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			r.bad("EXOTEL_CALLBACK_URL", "must be an http(s) base URL without a query, got %q", c.ExotelCallbackURL)
		}
	}
	if c.ExotelAPIToken != "" {
		r.required(c, "EXOTEL_WEBHOOK_SECRET", c.ExotelWebhookSecret, " with EXOTEL_API_TOKEN")
	}
	if v := c.ExotelWebhookSecret; v != "" && (len(v) < 16 || len(v) > 256 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~") != "") {
		r.bad("EXOTEL_WEBHOOK_SECRET", "must be 16-256 URL-safe characters (letters, digits, -_.~)")
	}
	r.durationIn("CALL_TIME_LIMIT", c.CallTimeLimit, time.Second, 4*time.Hour, "1s and 4h")
	r.durationIn("CALL_RING_TIMEOUT", c.CallRingTimeout, time.Second, 10*time.Minute, "1s and 10m")
	r.durationIn("CALL_EXPIRY_GRACE", c.CallExpiryGrace, 10*time.Millisecond, time.Hour, "10ms and 1h")
	r.durationIn("CALL_QUEUE_TTL", c.CallQueueTTL, time.Second, 24*time.Hour, "1s and 24h")
	r.intIn("CALL_WORKERS", int64(c.CallWorkers), 1, 256)
	r.intIn("SANDBOX_EXOTEL_PORT", int64(c.SandboxExotelPort), 0, 65535)
	if c.ExotelSandboxRuns() && c.SandboxExotelPort != 0 {
		if c.SandboxExotelPort == c.Port {
			r.bad("SANDBOX_EXOTEL_PORT", "must differ from PORT (both %d)", c.Port)
		} else if c.SandboxRuns() && c.SandboxExotelPort == c.SandboxPort {
			r.bad("SANDBOX_EXOTEL_PORT", "must differ from SANDBOX_PORT (both %d)", c.SandboxPort)
		}
	}
	r.durationIn("SANDBOX_EXOTEL_RING_DELAY", c.SandboxExotelRingDelay, time.Millisecond, 10*time.Minute, "1ms and 10m")
	r.durationIn("SANDBOX_EXOTEL_TALK_DELAY", c.SandboxExotelTalkDelay, time.Millisecond, 4*time.Hour, "1ms and 4h")
}
