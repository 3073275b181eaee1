package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/audit"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
	"github.com/wacc/engine/persistence/memkv"
	"github.com/wacc/engine/persistence/mongostore"
	"github.com/wacc/engine/persistence/rediskv"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// kvStore is the shared-state store with its lifecycle.
type kvStore interface {
	gateway.KV
	Close() error
}

// engine is every long-lived component of one process, built by newEngine
// and run by Run, which also closes them in reverse order.
type engine struct {
	cfg      configs.Config
	log      *zap.Logger
	store    engineStore
	kv       kvStore
	conv     *conversationEngine
	out      *outbound
	audit    *audit.Log
	gw       *gateway.Server
	backends string
}

func newEngine(ctx context.Context, cfg configs.Config, log *zap.Logger) (e *engine, err error) {
	if cfg.JWTSecret == "" || cfg.JWTRefreshSecret == "" {
		// Validate made these fatal in production; in development they are
		// generated so `make run` works with no setup.
		log.Warn("JWT_SECRET/JWT_REFRESH_SECRET not set: using random secrets; tokens will not survive a restart")
		if cfg.JWTSecret == "" {
			cfg.JWTSecret = randomSecret()
		}
		if cfg.JWTRefreshSecret == "" {
			cfg.JWTRefreshSecret = randomSecret()
		}
	}
	e = &engine{cfg: cfg, log: log}
	// built, not e: a failing return sets e to nil before this runs.
	built := e
	defer func() {
		if err != nil {
			built.close()
		}
	}()

	var storeDesc, kvDesc string
	if cfg.MongoURI != "" {
		oc, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		s, err := mongostore.Open(oc, cfg.MongoURI, cfg.MongoDatabase, uint64(cfg.MongoPoolSize), log)
		if err != nil {
			return nil, fmt.Errorf("open mongodb store: %w", err)
		}
		e.store, storeDesc = s, "mongodb database "+cfg.MongoDatabase
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create DATA_DIR %s: %w", cfg.DataDir, err)
		}
		path := filepath.Join(cfg.DataDir, "engine.db")
		s, err := sqlitestore.Open(ctx, path, log)
		if err != nil {
			return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
		}
		e.store, storeDesc = s, "sqlite "+path
	}

	checks := []gateway.Check{{Name: "store", Ping: e.store.Ping}}
	var budget whatsapp.Budget
	if cfg.RedisURL != "" {
		client, err := rediskv.Dial(ctx, cfg.RedisURL, cfg.RedisPassword)
		if err != nil {
			return nil, fmt.Errorf("connect to redis: %w", err)
		}
		e.kv = &redisKV{KV: rediskv.New(client, cfg.RedisPrefix, 10*time.Second), close: client.Close}
		checks = append(checks, gateway.Check{Name: "redis", Ping: func(ctx context.Context) error { return client.Ping(ctx).Err() }})
		kvDesc = "redis"
		budget = e.kv
	} else {
		e.kv = memkv.New(memkv.Options{CacheMaxEntries: cfg.CustomerCacheSize})
		kvDesc = "in-process"
	}

	if cfg.WhatsAppAppSecret == "" {
		cfg.WhatsAppAppSecret = randomSecret()
		log.Warn("WHATSAPP_APP_SECRET not set: using a random one; signed webhooks from Meta will be refused")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e.audit = audit.New(e.store, log, reg, audit.Options{Capacity: cfg.AuditBuffer, FlushTimeout: cfg.ShutdownTimeout})
	e.out, err = openOutbound(ctx, cfg, budget, log)
	if err != nil {
		return nil, err
	}
	e.conv, err = startConversations(ctx, cfg, e.store, e.kv, log, reg, newCountingPublisher(e.out.queue, reg))
	if err != nil {
		return nil, err
	}
	e.out.startSender(e.store, e.conv, reg)
	ge := e.conv.gatewayEngine(e.store)
	ge.DeadLetters = e.out.queue
	e.gw, err = gateway.New(gateway.Deps{Log: log, Config: cfg, Store: e.store, KV: e.kv, Audit: e.audit, Checks: checks, Registry: reg,
		Engine: ge, App: e.conv.app})
	if err != nil {
		return nil, err
	}
	if err := e.out.recover(ctx, e.store); err != nil {
		return nil, err
	}
	if _, err := e.conv.app.ReconcileSkeletons(ctx); err != nil {
		return nil, err
	}
	if err := e.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}
	e.backends = fmt.Sprintf("store=%s shared=%s %s", storeDesc, kvDesc, e.out.desc)
	return e, nil
}

// redisKV gives the Redis store the client's Close.
type redisKV struct {
	*rediskv.KV
	close func() error
}

func (r *redisKV) Close() error { return r.close() }

// bootstrapAdmin creates ADMIN_EMAIL once if no user has that email.
func (e *engine) bootstrapAdmin(ctx context.Context) error {
	if e.cfg.AdminEmail == "" {
		return nil
	}
	u, err := e.conv.app.CreateUser(ctx, app.NewUser{Email: e.cfg.AdminEmail, Password: e.cfg.AdminPassword, Name: e.cfg.AdminName, Role: actors.RoleAdmin})
	switch {
	case errors.Is(err, app.ErrEmailTaken):
		return nil
	case err != nil:
		if msg := adminEmailProblem(e.cfg.AdminEmail, err); msg != "" {
			return fmt.Errorf("ADMIN_EMAIL: %s", msg)
		}
		return fmt.Errorf("create first admin: %w", err)
	}
	e.log.Info("first admin created", zap.String("email", u.Email))
	return nil
}

// adminEmailProblem explains why CreateUser refused an admin's address; ""
// when err is about something else.
func adminEmailProblem(email string, err error) string {
	switch {
	case errors.Is(err, app.ErrInvalidEmail):
		return fmt.Sprintf("%q is not a valid email address", email)
	case errors.Is(err, app.ErrEmailLookalike):
		return fmt.Sprintf("%q looks like the address of another user (look-alike characters); refusing to create it", email)
	case errors.Is(err, app.ErrMixedScript):
		return fmt.Sprintf("%q mixes letters of different scripts within a part of the address", email)
	case errors.Is(err, app.ErrEmailTaken):
		return fmt.Sprintf("a user with email %s already exists", email)
	}
	return ""
}

// Run serves until ctx ends, then shuts down in reverse order: HTTP drains,
// the audit log flushes, the shared store and the database close.
// ready, when not nil, receives the listening address.
func (e *engine) Run(ctx context.Context, ready chan<- net.Addr) error {
	defer e.close()
	addrs := make(chan net.Addr, 1)
	auditCtx, stopAudit := context.WithCancel(context.Background())
	defer stopAudit()

	g, gctx := errgroup.WithContext(ctx)
	auditDone := make(chan struct{})
	go func() {
		defer close(auditDone)
		_ = e.audit.Run(auditCtx)
	}()
	g.Go(func() error { return e.gw.Run(gctx, addrs) })
	g.Go(func() error { return e.sweepRefreshFamilies(gctx) })
	g.Go(func() error { return e.conv.dispatcher.Run(gctx) })
	g.Go(func() error { return e.conv.sweeper.Run(gctx) })
	if r := e.conv.rehydration; r != nil {
		g.Go(func() error { return r.Run(gctx) })
	}
	g.Go(func() error { return e.out.sender.Run(gctx) })
	g.Go(func() error { return servePprof(gctx, e.cfg.PprofAddr, e.log) })
	g.Go(func() error {
		select {
		case a := <-addrs:
			g.Go(func() error { return e.out.serveSandbox(gctx, a, e.gw.AppSecret()) })
			e.log.Info("engine listening", zap.String("addr", a.String()), zap.String("env", e.cfg.AppEnv), zap.String("backends", e.backends))
			if ready != nil {
				ready <- a
			}
		case <-gctx.Done():
		}
		return nil
	})
	err := g.Wait()
	// HTTP has drained; close sockets and stop the actors (their state is
	// persisted with every change), then flush the audit log.
	e.conv.stop(e.cfg.ShutdownTimeout)
	e.conv = nil
	stopAudit()
	<-auditDone
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// sweepRefreshFamilies deletes expired refresh families every hour.
func (e *engine) sweepRefreshFamilies(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := e.store.DeleteExpiredFamilies(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			e.log.Warn("sweep expired refresh families", zap.Error(err))
		} else if n > 0 {
			e.log.Info("expired refresh families removed", zap.Int("count", n))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (e *engine) close() {
	if e.conv != nil {
		e.conv.stop(e.cfg.ShutdownTimeout)
		e.conv = nil
	}
	if e.out != nil {
		e.out.close()
		e.out = nil
	}
	if e.kv != nil {
		if err := e.kv.Close(); err != nil {
			e.log.Warn("close shared store", zap.Error(err))
		}
	}
	if e.store != nil {
		if err := e.store.Close(); err != nil {
			e.log.Warn("close store", zap.Error(err))
		}
	}
}

func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
