package configs

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	secret := strings.Repeat("s", 32)
	cases := []struct {
		name    string
		mutate  func(*Config)
		wantVar string // variable the error must name; "" means valid
	}{
		{name: "defaults are valid", mutate: func(*Config) {}},
		{name: "unknown env", mutate: func(c *Config) { c.AppEnv = "staging" }, wantVar: "APP_ENV"},
		{name: "port out of range", mutate: func(c *Config) { c.Port = 70000 }, wantVar: "PORT"},
		{name: "production without secrets", mutate: func(c *Config) { c.AppEnv = EnvProduction }, wantVar: "JWT_SECRET"},
		{name: "production with secrets", mutate: func(c *Config) {
			c.AppEnv = EnvProduction
			c.JWTSecret = secret
			c.JWTRefreshSecret = secret + "x"
			c.WhatsAppVerifyToken = "verify"
			c.WhatsAppAppSecret = "app-secret"
			c.WhatsAppAccessToken = "token"
			c.DataEncryptionKeys = "k1:key"
			c.DataHashKey = "hash"
		}},
		{name: "production without encryption keys", mutate: func(c *Config) {
			c.AppEnv = EnvProduction
			c.JWTSecret = secret
			c.JWTRefreshSecret = secret + "x"
			c.WhatsAppVerifyToken = "verify"
			c.WhatsAppAppSecret = "app-secret"
			c.WhatsAppAccessToken = "token"
		}, wantVar: "DATA_ENCRYPTION_KEYS"},
		{name: "encryption keys without hash key", mutate: func(c *Config) { c.DataEncryptionKeys = "k1:key" }, wantVar: "DATA_HASH_KEY"},
		{name: "bad rabbit url", mutate: func(c *Config) { c.RabbitMQURL = "http://x" }, wantVar: "RABBITMQ_URL"},
		{name: "call queue is the send queue", mutate: func(c *Config) { c.RabbitMQCallQueue = c.RabbitMQQueue }, wantVar: "RABBITMQ_CALL_QUEUE"},
		{name: "empty call queue", mutate: func(c *Config) { c.RabbitMQCallQueue = "" }, wantVar: "RABBITMQ_CALL_QUEUE"},
		{name: "bad api version", mutate: func(c *Config) { c.WhatsAppAPIVersion = "21" }, wantVar: "WHATSAPP_API_VERSION"},
		{name: "production without app secret", mutate: func(c *Config) {
			c.AppEnv = EnvProduction
			c.JWTSecret = secret
			c.JWTRefreshSecret = secret + "x"
		}, wantVar: "WHATSAPP_APP_SECRET"},
		{name: "warning not shorter than window", mutate: func(c *Config) { c.ServiceWindow = time.Hour; c.WindowWarning = time.Hour }, wantVar: "WINDOW_WARNING"},
		{name: "zero max open", mutate: func(c *Config) { c.AgentMaxOpen = 0 }, wantVar: "AGENT_MAX_OPEN"},
		{name: "short secret", mutate: func(c *Config) { c.JWTSecret = "short" }, wantVar: "JWT_SECRET"},
		{name: "same secrets", mutate: func(c *Config) { c.JWTSecret, c.JWTRefreshSecret = secret, secret }, wantVar: "JWT_REFRESH_SECRET"},
		{name: "mongo uri scheme", mutate: func(c *Config) { c.MongoURI = "http://x" }, wantVar: "MONGODB_URI"},
		{name: "redis url scheme", mutate: func(c *Config) { c.RedisURL = "http://x" }, wantVar: "REDIS_URL"},
		{name: "bad proxy", mutate: func(c *Config) { c.TrustedProxies = []string{"nope"} }, wantVar: "TRUSTED_PROXIES"},
		{name: "bad origin", mutate: func(c *Config) { c.AllowedOrigins = []string{"example.com"} }, wantVar: "ALLOWED_ORIGINS"},
		{name: "admin email without password", mutate: func(c *Config) { c.AdminEmail = "a@b.c" }, wantVar: "ADMIN_PASSWORD"},
		{name: "access ttl too long", mutate: func(c *Config) { c.JWTExpiresIn = 48 * time.Hour }, wantVar: "JWT_EXPIRES_IN"},
		{name: "zero rate limit", mutate: func(c *Config) { c.RateLimitAuthPerMin = 0 }, wantVar: "RATE_LIMIT_AUTH_PER_MIN"},
		{name: "socket auth grace too short", mutate: func(c *Config) { c.SocketAuthGrace = 0 }, wantVar: "SOCKET_AUTH_GRACE"},
		{name: "socket auth grace too long", mutate: func(c *Config) { c.SocketAuthGrace = 2 * time.Hour }, wantVar: "SOCKET_AUTH_GRACE"},
		{name: "lower-case region", mutate: func(c *Config) { c.DefaultPhoneRegion = "in" }, wantVar: "DEFAULT_PHONE_REGION"},
		{name: "admin email not an address", mutate: func(c *Config) { c.AdminEmail, c.AdminPassword = "not-an-email", "password1" }, wantVar: "ADMIN_EMAIL"},
		{name: "admin email two at signs", mutate: func(c *Config) { c.AdminEmail, c.AdminPassword = "a@b@c.d", "password1" }, wantVar: "ADMIN_EMAIL"},
		{name: "admin email with a display name", mutate: func(c *Config) { c.AdminEmail, c.AdminPassword = "Boss <boss@example.com>", "password1" }, wantVar: "ADMIN_EMAIL"},
		{name: "admin email valid", mutate: func(c *Config) { c.AdminEmail, c.AdminPassword = "boss@example.com", "password1" }},
		{name: "sandbox on the API port", mutate: func(c *Config) { c.Port, c.SandboxPort = 4010, 4010 }, wantVar: "SANDBOX_PORT"},
		{name: "sandbox port irrelevant with a token", mutate: func(c *Config) { c.Port, c.SandboxPort, c.WhatsAppAccessToken = 4010, 4010, "t" }},
		{name: "connect timeout too short", mutate: func(c *Config) { c.ConnectTimeout = time.Millisecond }, wantVar: "CONNECT_TIMEOUT"},
		{name: "webhook limit too small", mutate: func(c *Config) { c.WebhookMaxBytes = 10 }, wantVar: "WEBHOOK_MAX_BYTES"},
		{name: "media limit over WhatsApp's largest", mutate: func(c *Config) { c.MediaMaxBytes = 100<<20 + 1 }, wantVar: "MEDIA_MAX_BYTES"},
		{name: "media limit too small", mutate: func(c *Config) { c.MediaMaxBytes = 0 }, wantVar: "MEDIA_MAX_BYTES"},
		{name: "media limit of 5 MB", mutate: func(c *Config) { c.MediaMaxBytes = 5 << 20 }},
		{name: "business account id not digits", mutate: func(c *Config) { c.WhatsAppBusinessAccountID = "waba/1" }, wantVar: "WHATSAPP_BUSINESS_ACCOUNT_ID"},
		{name: "business account id with a token", mutate: func(c *Config) { c.WhatsAppBusinessAccountID, c.WhatsAppAccessToken = "102290129340398", "t" }},
		{name: "business account id other than the sandbox's", mutate: func(c *Config) { c.WhatsAppBusinessAccountID = "102290129340398" },
			wantVar: "WHATSAPP_BUSINESS_ACCOUNT_ID"},
		{name: "business account id of the sandbox", mutate: func(c *Config) { c.WhatsAppBusinessAccountID = c.SandboxWABAID }},
		{name: "template sync too often", mutate: func(c *Config) { c.TemplateSyncInterval = time.Second }, wantVar: "WHATSAPP_TEMPLATE_SYNC_INTERVAL"},
		{name: "template sync never", mutate: func(c *Config) { c.TemplateSyncInterval = 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantVar == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantVar)
		})
	}
}

// TestAdaptDefaults: a default that depends on another variable follows it
// when only the other was set, and an explicit impossible pair is still
// refused naming both variables.
func TestAdaptDefaults(t *testing.T) {
	cases := []struct {
		name string
		// set are the variables given explicitly, applied by mutate.
		set    []string
		mutate func(*Config)
		// want checks the adapted configuration; wantErr lists what the
		// error must name ("" entries: valid).
		want    func(t *testing.T, c Config)
		wantErr []string
	}{
		{name: "defaults stay as they are", want: func(t *testing.T, c Config) {
			require.Equal(t, Defaults(), c)
		}},
		{name: "short window, default warning becomes a quarter", set: []string{"WHATSAPP_SERVICE_WINDOW"},
			mutate: func(c *Config) { c.ServiceWindow = 30 * time.Minute },
			want:   func(t *testing.T, c Config) { require.Equal(t, 7*time.Minute+30*time.Second, c.WindowWarning) }},
		{name: "window of exactly the default warning", set: []string{"WHATSAPP_SERVICE_WINDOW"},
			mutate: func(c *Config) { c.ServiceWindow = time.Hour },
			want:   func(t *testing.T, c Config) { require.Equal(t, 15*time.Minute, c.WindowWarning) }},
		{name: "long window keeps the default warning", set: []string{"WHATSAPP_SERVICE_WINDOW"},
			mutate: func(c *Config) { c.ServiceWindow = 2 * time.Hour },
			want:   func(t *testing.T, c Config) { require.Equal(t, time.Hour, c.WindowWarning) }},
		{name: "one-second window", set: []string{"WHATSAPP_SERVICE_WINDOW"},
			mutate: func(c *Config) { c.ServiceWindow = time.Second },
			want:   func(t *testing.T, c Config) { require.Equal(t, 250*time.Millisecond, c.WindowWarning) }},
		{name: "explicit impossible warning refused naming both", set: []string{"WHATSAPP_SERVICE_WINDOW", "WINDOW_WARNING"},
			mutate:  func(c *Config) { c.ServiceWindow, c.WindowWarning = 30*time.Minute, time.Hour },
			wantErr: []string{"WINDOW_WARNING", "WHATSAPP_SERVICE_WINDOW"}},
		{name: "explicit warning alone longer than the default window", set: []string{"WINDOW_WARNING"},
			mutate:  func(c *Config) { c.WindowWarning = 25 * time.Hour },
			wantErr: []string{"WINDOW_WARNING", "WHATSAPP_SERVICE_WINDOW"}},
		{name: "origins follow the port", set: []string{"PORT"},
			mutate: func(c *Config) { c.Port = 8080 },
			want: func(t *testing.T, c Config) {
				require.Equal(t, []string{"http://localhost:8080", "http://127.0.0.1:8080"}, c.AllowedOrigins)
			}},
		{name: "explicit origins stay", set: []string{"PORT", "ALLOWED_ORIGINS"},
			mutate: func(c *Config) { c.Port, c.AllowedOrigins = 8080, []string{"https://console.example.com"} },
			want: func(t *testing.T, c Config) {
				require.Equal(t, []string{"https://console.example.com"}, c.AllowedOrigins)
			}},
		{name: "API on the sandbox's default port moves the sandbox", set: []string{"PORT"},
			mutate: func(c *Config) { c.Port = 4010 },
			want:   func(t *testing.T, c Config) { require.Equal(t, 0, c.SandboxPort) }},
		{name: "explicit sandbox port equal to the API's refused naming both", set: []string{"PORT", "SANDBOX_PORT"},
			mutate:  func(c *Config) { c.Port, c.SandboxPort = 4010, 4010 },
			wantErr: []string{"SANDBOX_PORT", "PORT"}},
		{name: "sandbox on the API's default port explicitly", set: []string{"SANDBOX_PORT"},
			mutate:  func(c *Config) { c.SandboxPort = 4000 },
			wantErr: []string{"SANDBOX_PORT", "PORT"}},
		{name: "longest access token with the default refresh lifetime", set: []string{"JWT_EXPIRES_IN"},
			mutate: func(c *Config) { c.JWTExpiresIn = 24 * time.Hour },
			want:   func(t *testing.T, c Config) { require.Equal(t, 7*24*time.Hour, c.JWTRefreshExpiresIn) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			if tc.mutate != nil {
				tc.mutate(&c)
			}
			c.AdaptDefaults(func(env string) bool { return slices.Contains(tc.set, env) })
			err := c.Validate()
			if len(tc.wantErr) > 0 {
				require.Error(t, err)
				for _, v := range tc.wantErr {
					require.Contains(t, err.Error(), v)
				}
				return
			}
			require.NoError(t, err)
			if tc.want != nil {
				tc.want(t, c)
			}
		})
	}
}

// TestEveryDerivedDefaultAdaptsAlone: for each default that follows
// another variable, setting only the partner to a value that would clash
// with the default still starts.
func TestEveryDerivedDefaultAdaptsAlone(t *testing.T) {
	partners := map[string]func(*Config){
		"WHATSAPP_SERVICE_WINDOW": func(c *Config) { c.ServiceWindow = 10 * time.Minute },
		"PORT":                    func(c *Config) { c.Port = 4010 },
	}
	for _, d := range derivedDefaults {
		t.Run(d.env, func(t *testing.T) {
			set, ok := partners[d.partner]
			require.True(t, ok, "a clashing value of %s is listed here", d.partner)
			c := Defaults()
			set(&c)
			c.AdaptDefaults(func(env string) bool { return env == d.partner })
			require.NoError(t, c.Validate())
		})
	}
}

func TestTrustedPrefixes(t *testing.T) {
	c := Defaults()
	c.TrustedProxies = []string{"10.0.0.0/8", "127.0.0.1", "::1"}
	ps, err := c.TrustedPrefixes()
	require.NoError(t, err)
	require.Len(t, ps, 3)
	require.Equal(t, "127.0.0.1/32", ps[1].String())
	require.Equal(t, "::1/128", ps[2].String())
}
