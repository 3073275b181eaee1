package configs

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Environments of APP_ENV.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
	EnvTest        = "test"
)

// Config is every setting of the engine. The env tag names the environment
// variable; the doc tag is the README's description of it.
type Config struct {
	AppEnv   string `env:"APP_ENV" doc:"development, production or test; production makes missing secrets fatal, logs JSON and sends HSTS"`
	Host     string `env:"HOST" doc:"address the HTTP server binds"`
	Port     int    `env:"PORT" doc:"HTTP port of the API, WebSocket and webhooks"`
	LogLevel string `env:"LOG_LEVEL" doc:"debug, info, warn or error"`
	DataDir  string `env:"DATA_DIR" doc:"directory of the embedded SQLite database (used when MONGODB_URI is unset)"`

	DataEncryptionKeys string `env:"DATA_ENCRYPTION_KEYS" doc:"encryption at rest of customer names, e-mails and attributes, message bodies and media: comma-separated id:base64key entries (32-byte AES-256 keys, ids of letters, digits, - and _); the first seals new data, all open, so a key rotates by putting a new one first and running engine reencrypt; required in production, off (with a warning) otherwise"`
	DataHashKey        string `env:"DATA_HASH_KEY" doc:"base64 32-byte key of the lookup hashes (HMAC-SHA256) kept beside encrypted e-mails; required with DATA_ENCRYPTION_KEYS, different from each of them, and never rotated with them (changing it breaks exact e-mail search until engine reencrypt has run)"`

	MongoURI      string `env:"MONGODB_URI" doc:"MongoDB connection string; when set, MongoDB replaces SQLite"`
	MongoDatabase string `env:"MONGODB_DATABASE" doc:"MongoDB database name"`
	MongoPoolSize int    `env:"MONGODB_POOL_SIZE" doc:"maximum MongoDB connections"`

	RedisURL      string `env:"REDIS_URL" doc:"redis://host:port/db; when set, revocations, rate limits and caches are shared through Redis instead of kept in process"`
	RedisPassword string `env:"REDIS_PASSWORD" doc:"Redis password (overrides one in REDIS_URL)"`
	RedisPrefix   string `env:"REDIS_PREFIX" doc:"prefix of every Redis key the engine writes"`
	// ClusterEvents stands in for "this engine is one of several nodes"
	// until the cluster configuration (CLUSTER_PROVIDER) decides it.
	ClusterEvents bool `env:"CLUSTER_EVENTS" doc:"share agent-socket events, presence and the /ws resume cursor with the other nodes through Redis (one Redis stream) without a cluster; always on with CLUSTER_PROVIDER; needs REDIS_URL; set on every node of a multi-node deployment"`

	JWTSecret           string        `env:"JWT_SECRET" doc:"HMAC key for access tokens, at least 32 bytes; required in production"`
	JWTRefreshSecret    string        `env:"JWT_REFRESH_SECRET" doc:"HMAC key for refresh-token hashes, at least 32 bytes, different from JWT_SECRET; required in production"`
	JWTExpiresIn        time.Duration `env:"JWT_EXPIRES_IN" doc:"access-token lifetime (Go duration; d for days allowed)"`
	JWTRefreshExpiresIn time.Duration `env:"JWT_REFRESH_EXPIRES_IN" doc:"refresh-token lifetime, renewed at every rotation"`

	AdminEmail    string `env:"ADMIN_EMAIL" doc:"first admin's email, created at start-up if absent"`
	AdminPassword string `env:"ADMIN_PASSWORD" doc:"first admin's password (8-128 characters)"`
	AdminName     string `env:"ADMIN_NAME" doc:"first admin's display name"`

	RateLimitAPIPerMin  int      `env:"RATE_LIMIT_API_PER_MIN" doc:"requests per minute per client IP on /api (signed webhooks exempt)"`
	RateLimitAuthPerMin int      `env:"RATE_LIMIT_AUTH_PER_MIN" doc:"requests per minute per client IP on /api/auth/*, and login attempts per account"`
	TrustedProxies      []string `env:"TRUSTED_PROXIES" doc:"comma-separated CIDRs or IPs whose X-Forwarded-For is believed"`
	AllowedOrigins      []string `env:"ALLOWED_ORIGINS" doc:"comma-separated origins allowed by CORS and the WebSocket upgrade; * allows any (no credentials are used); unset, localhost and 127.0.0.1 on PORT"`
	MaxBodyBytes        int64    `env:"MAX_BODY_BYTES" doc:"largest JSON request body accepted"`
	MediaMaxBytes       int64    `env:"MEDIA_MAX_BYTES" doc:"largest file an upload accepts, whatever its type (1024 to 104857600); WhatsApp's own limits apply below it: images 5 MB, stickers 100 KB static and 500 KB animated, audio and video 16 MB, documents 100 MB"`
	DefaultPhoneRegion  string   `env:"DEFAULT_PHONE_REGION" doc:"ISO region used to read phone numbers written without +country (empty: + is required)"`

	CustomerCacheSize int           `env:"CACHE_MAX_ENTRIES" doc:"entries of the in-process read cache (customers, users)"`
	CacheTTL          time.Duration `env:"CACHE_TTL" doc:"lifetime of a cached customer or user"`
	AuditBuffer       int           `env:"AUDIT_BUFFER" doc:"audit records held in memory while the store is slow or down"`

	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" doc:"bound on draining requests and flushing at shutdown"`

	WhatsAppVerifyToken string        `env:"WHATSAPP_VERIFY_TOKEN" doc:"token Meta's webhook verification handshake must present (GET /api/whatsapp/webhook); required in production"`
	WhatsAppAppSecret   string        `env:"WHATSAPP_APP_SECRET" doc:"app secret whose HMAC-SHA256 signs webhook bodies (X-Hub-Signature-256); required in production"`
	ServiceWindow       time.Duration `env:"WHATSAPP_SERVICE_WINDOW" doc:"customer-service window after the customer's last message; free-form sends are refused after it"`
	WindowWarning       time.Duration `env:"WINDOW_WARNING" doc:"how long before the window ends the assignee is warned (0 disables); unset, a quarter of a window of 1h or less"`
	WebhookMaxBytes     int64         `env:"WEBHOOK_MAX_BYTES" doc:"largest webhook body accepted"`
	ActorIdleTimeout    time.Duration `env:"ACTOR_IDLE_TIMEOUT" doc:"an idle conversation actor leaves memory after this long (its timers keep firing from the store)"`
	AgentMaxOpen        int           `env:"AGENT_MAX_OPEN" doc:"most open conversations auto-assigned to one agent"`
	ConversationShards  int           `env:"CONVERSATION_SHARDS" doc:"host actors that spawn and route conversation actors"`
	RehydrateOnStart    bool          `env:"REHYDRATE_ON_START" doc:"after a restart, bring the conversations that were in memory (state new or active, updated within ACTOR_IDLE_TIMEOUT) back in the background, so their next message needs no store read"`
	RehydrateMax        int           `env:"REHYDRATE_MAX" doc:"most conversations REHYDRATE_ON_START brings back, most recently updated first (0: no limit)"`
	SocketBuffer        int           `env:"SOCKET_BUFFER" doc:"frames buffered per agent socket before a slow client is disconnected"`
	SocketAuthGrace     time.Duration `env:"SOCKET_AUTH_GRACE" doc:"how long an agent socket whose access token expired waits for a fresh one (auth frame) before it closes with 4001"`
	SocketMaxFrames     int           `env:"WS_MAX_FRAMES_PER_SECOND" doc:"client frames per second one agent socket may send once its burst is spent (token bucket); a client over it is closed with 1008"`
	SocketFrameBurst    int           `env:"WS_FRAME_BURST" doc:"client frames one agent socket may send back to back before WS_MAX_FRAMES_PER_SECOND applies"`
	SocketsPerUser      int           `env:"WS_MAX_SOCKETS_PER_USER" doc:"agent sockets one user may hold open at once; an upgrade beyond it is refused with 429 RATE_LIMITED and Retry-After (the open ones are kept)"`

	WhatsAppAccessToken   string        `env:"WHATSAPP_ACCESS_TOKEN" doc:"Cloud API bearer token; unset (outside production) starts the built-in sandbox and sends there"`
	WhatsAppAPIURL        string        `env:"WHATSAPP_API_URL" doc:"Cloud API base URL (the sandbox's when it runs)"`
	WhatsAppAPIVersion    string        `env:"WHATSAPP_API_VERSION" doc:"Cloud API version path segment"`
	WhatsAppPhoneNumberID string        `env:"WHATSAPP_PHONE_NUMBER_ID" doc:"business number that sends when a request names none"`
	WhatsAppMPS           int           `env:"WHATSAPP_MPS" doc:"messages per second per business number (token bucket; shared through Redis when configured)"`
	PairInterval          time.Duration `env:"WHATSAPP_PAIR_INTERVAL" doc:"least gap between two sends to one recipient once the burst is spent (Meta's pair rate)"`
	PairBurst             int           `env:"WHATSAPP_PAIR_BURST" doc:"sends to one recipient that may go back to back before WHATSAPP_PAIR_INTERVAL applies"`
	SendMaxAttempts       int           `env:"SEND_MAX_ATTEMPTS" doc:"attempts of one send before it is dead-lettered"`
	SendWorkers           int           `env:"SEND_WORKERS" doc:"concurrent sends in flight to the Cloud API"`
	MediaFetchWorkers     int           `env:"MEDIA_FETCH_WORKERS" doc:"inbound media (images, voice notes, documents...) fetched from WhatsApp at once"`
	MediaFetchAttempts    int           `env:"MEDIA_FETCH_ATTEMPTS" doc:"attempts to fetch one inbound medium before it is shown failed on its message"`
	MediaFetchBackoff     time.Duration `env:"MEDIA_FETCH_BACKOFF" doc:"wait after a failed fetch of an inbound medium, doubled per attempt up to 10m"`
	NumberPause           time.Duration `env:"WHATSAPP_NUMBER_PAUSE" doc:"how long a business number stops sending after a token or account error (0/190, 368/131031/131042); 0: by code, 5m for the token, 30m for the account"`
	RecipientPause        time.Duration `env:"WHATSAPP_RECIPIENT_PAUSE" doc:"how long one recipient is held back after 131048/131049; 0: 4h"`
	RabbitMQURL           string        `env:"RABBITMQ_URL" doc:"amqp://user:pass@host:port/vhost; when set, outbound sends go through RabbitMQ instead of the in-process queue"`
	RabbitMQQueue         string        `env:"RABBITMQ_QUEUE" doc:"name of the outbound queue (and prefix of its retry and dead-letter queues)"`
	RabbitMQCallQueue     string        `env:"RABBITMQ_CALL_QUEUE" doc:"name of the Exotel call queue (and prefix of its retry and dead-letter queues); must differ from RABBITMQ_QUEUE"`
	SandboxStatusDelay    time.Duration `env:"SANDBOX_STATUS_DELAY" doc:"delay between the sandbox's sent, delivered and read callbacks"`
	PprofAddr             string        `env:"PPROF_ADDR" doc:"address of the admin-only pprof listener (e.g. 127.0.0.1:6060); empty: off"`
	MetricsAddr           string        `env:"METRICS_ADDR" doc:"address of the operations listener (GET /metrics, /readyz with every dependency's detail, /healthz), never the API port; keep it on loopback or an admin network; empty or off: none (the API port's /metrics needs an admin token in every case). The default port, when busy, falls back to a free loopback port (logged)"`
	SandboxPort           int           `env:"SANDBOX_PORT" doc:"port of the built-in WhatsApp sandbox (when WHATSAPP_ACCESS_TOKEN is unset); unset and equal to PORT, any free port"`
	SandboxWABAID         string        `env:"SANDBOX_WABA_ID" doc:"WhatsApp Business Account id of the built-in sandbox: entry[].id of its webhooks and the {waba_id} of its message template endpoints"`
	SandboxPricing        string        `env:"SANDBOX_PRICING" doc:"pricing model of the sandbox's status webhooks: PMP (per-message, Meta's model since July 2025) or CBP (conversation-based)"`
	SandboxWindow         time.Duration `env:"SANDBOX_WINDOW" doc:"the sandbox's customer service window: a free-form message to a customer who last wrote (through the sandbox) longer ago is accepted, then fails with a 131047 status"`
	SandboxAssumeWindow   bool          `env:"SANDBOX_ASSUME_WINDOW_OPEN" doc:"the sandbox treats customers it never saw write as inside the window (for inbound webhooks posted to the engine directly, not through the sandbox)"`

	ExotelAPIURL           string        `env:"EXOTEL_API_URL" doc:"Exotel's API base URL: https://api.exotel.com (Singapore cluster) or https://api.in.exotel.com (Mumbai); the built-in sandbox's when it runs"`
	ExotelSID              string        `env:"EXOTEL_SID" doc:"Exotel account sid (the {sid} of /v1/Accounts/{sid}/...)"`
	ExotelAPIKey           string        `env:"EXOTEL_API_KEY" doc:"Exotel API key (HTTP basic auth user)"`
	ExotelAPIToken         string        `env:"EXOTEL_API_TOKEN" doc:"Exotel API token (HTTP basic auth password); unset: the built-in Exotel sandbox outside production, no calls in production"`
	ExotelCallerID         string        `env:"EXOTEL_CALLER_ID" doc:"the ExoPhone (virtual number) both legs of a call see"`
	ExotelCallbackURL      string        `env:"EXOTEL_CALLBACK_URL" doc:"public base URL at which Exotel reaches this engine (https://engine.example.com); status callbacks go to its /api/calls/webhook. Unset with the sandbox: the engine's own address"`
	ExotelWebhookSecret    string        `env:"EXOTEL_WEBHOOK_SECRET" doc:"secret carried in the status callback URL (Exotel does not sign callbacks); at least 16 characters; unset outside production: random per start"`
	CallTimeLimit          time.Duration `env:"CALL_TIME_LIMIT" doc:"longest call (Exotel's TimeLimit), at most 4h"`
	CallRingTimeout        time.Duration `env:"CALL_RING_TIMEOUT" doc:"how long each leg rings before Exotel gives up (TimeOut)"`
	CallExpiryGrace        time.Duration `env:"CALL_EXPIRY_GRACE" doc:"added to CALL_RING_TIMEOUT + CALL_TIME_LIMIT before a call without a terminal callback is looked up at Exotel"`
	CallQueueTTL           time.Duration `env:"CALL_QUEUE_TTL" doc:"a call Exotel has not accepted this long after it was requested is canceled (never ring a customer late)"`
	CallWorkers            int           `env:"CALL_WORKERS" doc:"concurrent connect requests in flight to Exotel"`
	SandboxExotelPort      int           `env:"SANDBOX_EXOTEL_PORT" doc:"port of the built-in Exotel sandbox on 127.0.0.1 (when EXOTEL_API_TOKEN is unset); unset and equal to PORT or SANDBOX_PORT, any free port; 0: any free port"`
	SandboxExotelRingDelay time.Duration `env:"SANDBOX_EXOTEL_RING_DELAY" doc:"how long the built-in Exotel sandbox rings before a call is answered or fails"`
	SandboxExotelTalkDelay time.Duration `env:"SANDBOX_EXOTEL_TALK_DELAY" doc:"how long an answered call lasts in the built-in Exotel sandbox"`

	WhatsAppBusinessAccountID string        `env:"WHATSAPP_BUSINESS_ACCOUNT_ID" doc:"WhatsApp Business Account (WABA) id whose message templates the engine keeps and checks template sends against; unset, SANDBOX_WABA_ID when the sandbox runs (set, it must equal it), otherwise templates are not checked"`
	TemplateSyncInterval      time.Duration `env:"WHATSAPP_TEMPLATE_SYNC_INTERVAL" doc:"how often the template registry is synced from WhatsApp besides start-up, template webhooks and an admin's POST /api/whatsapp/templates/sync (0: never)"`

	ConnectTimeout time.Duration `env:"CONNECT_TIMEOUT" doc:"bound on reaching MongoDB, Redis and RabbitMQ at start-up; the engine exits naming the one it could not reach"`

	ClusterProvider        string        `env:"CLUSTER_PROVIDER" doc:"membership of a multi-node engine: etcd (CLUSTER_ETCD_ENDPOINTS) or automanaged (a fixed CLUSTER_SEEDS list); unset: a single node, no cluster"`
	ClusterEtcdEndpoints   []string      `env:"CLUSTER_ETCD_ENDPOINTS" doc:"comma-separated host:port of the etcd servers (CLUSTER_PROVIDER=etcd)"`
	ClusterSeeds           []string      `env:"CLUSTER_SEEDS" doc:"comma-separated host:port of every node's automanaged membership endpoint, this node's included (CLUSTER_PROVIDER=automanaged)"`
	ClusterBind            string        `env:"CLUSTER_BIND" doc:"host:port this node's cluster traffic (gRPC remote) binds and is reached at; required with CLUSTER_PROVIDER; the host must be an address the other nodes reach"`
	ClusterAutoManagedPort int           `env:"CLUSTER_AUTOMANAGED_PORT" doc:"port of this node's automanaged membership endpoint (one of CLUSTER_SEEDS); 0: the port of CLUSTER_BIND plus one"`
	ClusterName            string        `env:"CLUSTER_NAME" doc:"name of the cluster; nodes of one cluster share it"`
	ClusterAttemptTimeout  time.Duration `env:"CLUSTER_ATTEMPT_TIMEOUT" doc:"bound on one attempt to reach a conversation on another node; a failed attempt is retried with backoff on the conversation's owner at that time, within the caller's own timeout"`
	ClusterLeaseTTL        time.Duration `env:"CLUSTER_LEASE_TTL" doc:"how long a node may be frozen, unlisted or alone before it stops its conversations and rejoins as a new member (the etcd provider's own lease is 3s)"`
}

// DefaultMetricsAddr is METRICS_ADDR's default: loopback only.
const DefaultMetricsAddr = "127.0.0.1:9090"

// MetricsOff reports whether METRICS_ADDR disables the operations listener.
func (c Config) MetricsOff() bool {
	return c.MetricsAddr == "" || strings.EqualFold(c.MetricsAddr, "off")
}

// Defaults returns the configuration used when no variable is set: a working
// development engine on embedded storage.

func Defaults() Config {
	return Config{
		AppEnv:                 EnvDevelopment,
		Host:                   "0.0.0.0",
		Port:                   4000,
		LogLevel:               "info",
		DataDir:                "./data",
		MongoDatabase:          "engine",
		MongoPoolSize:          50,
		RedisPrefix:            "engine:",
		JWTExpiresIn:           15 * time.Minute,
		JWTRefreshExpiresIn:    7 * 24 * time.Hour,
		AdminName:              "Administrator",
		RateLimitAPIPerMin:     600,
		RateLimitAuthPerMin:    20,
		AllowedOrigins:         []string{"http://localhost:4000", "http://127.0.0.1:4000"},
		MaxBodyBytes:           1 << 20,
		MediaMaxBytes:          100 << 20,
		CustomerCacheSize:      10000,
		CacheTTL:               5 * time.Minute,
		AuditBuffer:            100000,
		ShutdownTimeout:        15 * time.Second,
		MetricsAddr:            DefaultMetricsAddr,
		ServiceWindow:          24 * time.Hour,
		WindowWarning:          time.Hour,
		WebhookMaxBytes:        3 << 20,
		ActorIdleTimeout:       10 * time.Minute,
		AgentMaxOpen:           20,
		ConversationShards:     16,
		RehydrateOnStart:       true,
		RehydrateMax:           200000,
		SocketBuffer:           256,
		SocketMaxFrames:        20,
		SocketFrameBurst:       100,
		SocketsPerUser:         10,
		SocketAuthGrace:        time.Minute,
		WhatsAppAPIURL:         "https://graph.facebook.com",
		WhatsAppAPIVersion:     "v21.0",
		WhatsAppPhoneNumberID:  "100000000000001",
		WhatsAppMPS:            80,
		SendMaxAttempts:        8,
		PairInterval:           6 * time.Second,
		PairBurst:              5,
		SendWorkers:            32,
		MediaFetchWorkers:      4,
		MediaFetchAttempts:     10,
		MediaFetchBackoff:      2 * time.Second,
		RabbitMQQueue:          "whatsapp.outbound",
		SandboxStatusDelay:     300 * time.Millisecond,
		SandboxPort:            4010,
		SandboxWABAID:          "100000000000002",
		SandboxPricing:         "PMP",
		SandboxWindow:          24 * time.Hour,
		ConnectTimeout:         20 * time.Second,
		ClusterName:            "wacc-engine",
		ClusterAttemptTimeout:  time.Second,
		ClusterLeaseTTL:        3 * time.Second,
		TemplateSyncInterval:   time.Hour,
		ExotelAPIURL:           "https://api.exotel.com",
		ExotelSID:              "sandbox1",
		ExotelCallerID:         "08047112233",
		RabbitMQCallQueue:      "exotel.outbound",
		CallTimeLimit:          time.Hour,
		CallRingTimeout:        30 * time.Second,
		CallExpiryGrace:        2 * time.Minute,
		CallQueueTTL:           10 * time.Minute,
		CallWorkers:            8,
		SandboxExotelPort:      4011,
		SandboxExotelRingDelay: 6 * time.Second,
		SandboxExotelTalkDelay: 20 * time.Second,
	}
}

// ExotelSandboxRuns reports whether the built-in Exotel sandbox runs:
// outside production, when no Exotel API token is set.
func (c Config) ExotelSandboxRuns() bool { return !c.Production() && c.ExotelAPIToken == "" }

// CallsEnabled reports whether the engine places calls: with Exotel
// credentials, or with the sandbox. In production without EXOTEL_API_TOKEN
// the /api/calls routes are left out (404) and nothing talks to Exotel.
func (c Config) CallsEnabled() bool { return c.ExotelAPIToken != "" || c.ExotelSandboxRuns() }

// Production reports whether APP_ENV is production.
func (c Config) Production() bool { return c.AppEnv == EnvProduction }

// TrustedPrefixes parses TrustedProxies; a bare IP is a single-address prefix.
func (c Config) TrustedPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP nor a CIDR", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
