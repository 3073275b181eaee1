package main

import (
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway"
)

// gatewayOptions maps the configuration onto the gateway's own options.
// cfg is validated (TRUSTED_PROXIES parses).
func gatewayOptions(cfg configs.Config) gateway.Options {
	trusted, _ := cfg.TrustedPrefixes() // Validate refused a bad list
	return gateway.Options{
		Host:                  cfg.Host,
		Port:                  cfg.Port,
		Production:            cfg.Production(),
		AllowedOrigins:        cfg.AllowedOrigins,
		TrustedProxies:        trusted,
		MaxBodyBytes:          cfg.MaxBodyBytes,
		WebhookMaxBytes:       cfg.WebhookMaxBytes,
		RateLimitAPIPerMin:    cfg.RateLimitAPIPerMin,
		RateLimitAuthPerMin:   cfg.RateLimitAuthPerMin,
		JWTExpiresIn:          cfg.JWTExpiresIn,
		JWTRefreshExpiresIn:   cfg.JWTRefreshExpiresIn,
		CacheTTL:              cfg.CacheTTL,
		WhatsAppVerifyToken:   cfg.WhatsAppVerifyToken,
		WhatsAppAppSecret:     cfg.WhatsAppAppSecret,
		DefaultPhoneRegion:    cfg.DefaultPhoneRegion,
		WhatsAppPhoneNumberID: cfg.WhatsAppPhoneNumberID,
		ShutdownTimeout:       cfg.ShutdownTimeout,
	}
}
