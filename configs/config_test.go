package configs

import (
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
		}},
		{name: "bad rabbit url", mutate: func(c *Config) { c.RabbitMQURL = "http://x" }, wantVar: "RABBITMQ_URL"},
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

func TestTrustedPrefixes(t *testing.T) {
	c := Defaults()
	c.TrustedProxies = []string{"10.0.0.0/8", "127.0.0.1", "::1"}
	ps, err := c.TrustedPrefixes()
	require.NoError(t, err)
	require.Len(t, ps, 3)
	require.Equal(t, "127.0.0.1/32", ps[1].String())
	require.Equal(t, "::1/128", ps[2].String())
}
