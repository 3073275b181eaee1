package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
	"github.com/wacc/engine/gateway/template"
)

// templateFailures is what the sender (a send Meta answered with a
// template error) and the conversation actors (a failed status reporting
// one) tell the template registry; *template.Registry is it.
type templateFailures interface {
	TemplateFailed(ctx context.Context, phoneNumberID, name, language string, werr actors.WhatsAppError) error
}

var _ templateFailures = (*template.Registry)(nil)

// templateAccount is the WhatsApp Business Account whose templates the
// engine keeps: WHATSAPP_BUSINESS_ACCOUNT_ID, else the sandbox's
// (SANDBOX_WABA_ID) when the sandbox runs, else none. Validate refuses a
// WHATSAPP_BUSINESS_ACCOUNT_ID other than the running sandbox's.
func templateAccount(cfg configs.Config) string {
	if cfg.WhatsAppBusinessAccountID != "" {
		return cfg.WhatsAppBusinessAccountID
	}
	if cfg.SandboxRuns() {
		return cfg.SandboxWABAID
	}
	return ""
}

// newTemplates builds the template registry of the engine's business
// account over the store, listing through the Cloud API client; nil when
// no account is known (template sends then go unchecked).
func newTemplates(cfg configs.Config, store template.Store, client *whatsapp.Client, log *zap.Logger, reg prometheus.Registerer) *template.Registry {
	waba := templateAccount(cfg)
	if waba == "" {
		log.Warn("WHATSAPP_BUSINESS_ACCOUNT_ID not set: templates are not kept and template sends are not checked before they reach WhatsApp")
		return nil
	}
	return template.New(template.Options{Store: store, Lister: client, BusinessAccountID: waba, Interval: cfg.TemplateSyncInterval,
		Log: log, Registry: reg})
}
