package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/audit"
	"github.com/wacc/engine/gateway/auth"
	"github.com/wacc/engine/gateway/outbound/sender"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
	"github.com/wacc/engine/gateway/template"
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
	cfg   configs.Config
	log   *zap.Logger
	lock  *dataDirLock
	store engineStore
	kv    kvStore
	ln    net.Listener
	// opsLn is the METRICS_ADDR listener (nil when it is off); opsAddr
	// its address.
	opsLn   net.Listener
	opsAddr string
	conv    *conversationEngine
	out     *outbound
	sender  *sender.Sender
	relay   *relay
	audit   *audit.Log
	gw      *gateway.Server
	media   *engineMedia
	// calls is the call side; nil when calls are off (production without
	// an Exotel token).
	calls    *engineCalls
	backends string

	// templates is the template registry; nil when no business account
	// is known.
	templates *template.Registry
}

// newEngine opens and builds every component. It fails with one line
// naming the cause (the variable or the dependency), and then has closed
// whatever it had opened: a failed start leaves no lock, listener or
// connection behind.
func newEngine(ctx context.Context, cfg configs.Config, log *zap.Logger) (*engine, error) {
	logEncryptionAtRest(cfg, log)
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
	if cfg.WhatsAppAppSecret == "" {
		cfg.WhatsAppAppSecret = randomSecret()
		log.Warn("WHATSAPP_APP_SECRET not set: using a random one; signed webhooks from Meta will be refused")
	}
	e := &engine{cfg: cfg, log: log}
	if err := e.open(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// open builds the engine step by step; newEngine closes what it opened
// when a step fails.
func (e *engine) open(ctx context.Context) error {
	cfg, log := e.cfg, e.log
	var storeDesc, kvDesc string
	if cfg.MongoURI == "" {
		// Only one engine may use a SQLite DATA_DIR: the lock comes first,
		// so a second engine names it rather than a busy port.
		lock, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		e.lock = lock
	}
	store, storeDesc, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	e.store = store
	if e.media, err = openMedia(ctx, cfg, store, e.lock != nil, log); err != nil {
		return err
	}
	addr := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	if e.ln, err = net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("listen for the API on PORT %d (%s): %w", cfg.Port, addr, listenCause(err))
	}
	if e.opsLn, err = listenOps(cfg, log); err != nil {
		return err
	}
	if e.opsLn != nil {
		e.opsAddr = e.opsLn.Addr().String()
	}

	checks := []gateway.Check{{Name: "store", Ping: e.store.Ping}}
	var budget whatsapp.Budget
	var rdb redis.UniversalClient
	if cfg.RedisURL != "" {
		dctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
		client, err := rediskv.Dial(dctx, cfg.RedisURL, cfg.RedisPassword)
		cancel()
		if err != nil {
			return fmt.Errorf("connect to REDIS_URL within CONNECT_TIMEOUT %s: %w", cfg.ConnectTimeout, err)
		}
		rdb = client
		e.kv = &redisKV{KV: rediskv.New(client, cfg.RedisPrefix, 10*time.Second), close: client.Close}
		checks = append(checks, gateway.Check{Name: "redis", Ping: func(ctx context.Context) error { return client.Ping(ctx).Err() }})
		kvDesc = "redis"
		budget = e.kv
	} else {
		e.kv = memkv.New(memkv.Options{CacheMaxEntries: cfg.CustomerCacheSize})
		kvDesc = "in-process"
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e.audit = audit.New(e.store, log, reg, audit.Options{Capacity: cfg.AuditBuffer, FlushTimeout: cfg.ShutdownTimeout})
	if e.out, err = openOutbound(ctx, cfg, budget, log); err != nil {
		return err
	}
	if c := e.out.check(); c != nil {
		checks = append(checks, *c)
	}
	if e.out.rabbit != nil {
		reg.MustRegister(rabbitBlockedGauge(e.out.rabbit))
	}
	// Refused authentications are aggregated once for the HTTP edge and
	// the agent sessions.
	refusals := audit.NewRefusals(e.audit, reg, audit.RefusalOptions{})
	e.templates = newTemplates(cfg, e.store, e.out.client, log, reg)
	e.relay = newRelay(e.out.queue, e.store, log)
	if e.conv, err = startConversations(ctx, cfg, actorInputs{store: e.store, revocations: e.kv, refusals: socketRefusals{refusals},
		outbox: newCountingPublisher(e.relay, reg), shaper: e.out.shaper, templates: e.templates, blobs: e.media.blobs, client: e.out.client,
		redis: rdb, fence: cfg.Clustered()}, log, reg); err != nil {
		return err
	}
	e.sender = e.out.newSender(e.store, e.media.blobs, e.conv.dir, e.conv.pauses, reg)
	var (
		deadLetters actors.DeadLetters = e.out.queue
		callRoutes  *gateway.Calls
		callsDesc   string
	)
	if cfg.CallsEnabled() {
		if e.calls, err = openCalls(ctx, cfg, e.ln.Addr().(*net.TCPAddr).Port, log); err != nil {
			return err
		}
		if err := e.calls.build(e.store, e.conv.system, e.conv.events, e.audit, reg); err != nil {
			return err
		}
		checks = withCallQueueCheck(checks, e.calls.rabbit)
		deadLetters, callRoutes, callsDesc = deadLetterSet{e.out.queue, e.calls.queue}, e.calls.gateway(), " "+e.calls.desc
	}
	e.gw, err = gateway.New(gateway.Deps{Log: log, Options: gatewayOptions(cfg), Store: e.store, KV: e.kv, Audit: e.audit, Checks: checks, Registry: reg,
		Engine: e.conv.gatewayEngine(e.store, deadLetters), App: e.conv.app, Refusals: refusals, Media: e.media.gateway(e.store), Calls: callRoutes})
	if err != nil {
		return err
	}
	if err := e.settleIdempotency(ctx); err != nil {
		return err
	}
	if err := e.out.recover(ctx, e.store, e.lock != nil); err != nil {
		return err
	}
	if _, err := e.conv.app.ReconcileSkeletons(ctx); err != nil {
		return err
	}
	if err := e.bootstrapAdmin(ctx); err != nil {
		return err
	}
	e.backends = fmt.Sprintf("store=%s media=%s shared=%s %s%s", storeDesc, e.media.desc, kvDesc, e.out.desc, callsDesc)
	return nil
}

// openStore opens MongoDB (within CONNECT_TIMEOUT) or the SQLite database
// in DATA_DIR, and describes it for the start-up line.
func openStore(ctx context.Context, cfg configs.Config, log *zap.Logger) (engineStore, string, error) {
	keys, err := dataKeyring(cfg)
	if err != nil {
		return nil, "", err
	}
	if cfg.MongoURI != "" {
		oc, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
		defer cancel()
		s, err := mongostore.Open(oc, cfg.MongoURI, cfg.MongoDatabase, uint64(cfg.MongoPoolSize), log, mongostore.WithKeyring(keys))
		if err != nil {
			return nil, "", fmt.Errorf("connect to MONGODB_URI within CONNECT_TIMEOUT %s: %w", cfg.ConnectTimeout, err)
		}
		return s, "mongodb database " + cfg.MongoDatabase, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, "", fmt.Errorf("create DATA_DIR %s: %w", cfg.DataDir, err)
	}
	path := filepath.Join(cfg.DataDir, "engine.db")
	s, err := sqlitestore.Open(ctx, path, log, sqlitestore.WithKeyring(keys))
	if err != nil {
		return nil, "", fmt.Errorf("open the SQLite database in DATA_DIR %s: %w", path, err)
	}
	return s, "sqlite " + path, nil
}

// settleIdempotency ends, at start-up, the lease of every Idempotency-Key
// claim left unanswered by a previous process, and of every send claim it
// left on a queued message (a send it died during: its redelivery fails
// the message as of unknown outcome at once, without waiting out the
// lease). Only an engine holding the DATA_DIR lock may: no other engine
// can be running a request or a send on this database. With MongoDB
// (shared by several engines) a dead claim is taken over when its lease
// runs out.
func (e *engine) settleIdempotency(ctx context.Context) error {
	if e.lock == nil {
		return nil
	}
	n, err := e.store.SettleIdempotencyClaims(ctx)
	if err != nil {
		return fmt.Errorf("settle unanswered Idempotency-Key claims: %w", err)
	}
	if n > 0 {
		e.log.Info("unanswered Idempotency-Key claims of the previous process settled; their retries run", zap.Int("count", n))
	}
	if n, err = e.store.SettleSendClaims(ctx); err != nil {
		return fmt.Errorf("settle the send claims of the previous process: %w", err)
	}
	if n > 0 {
		e.log.Info("sends the previous process died during settled; their messages fail as of unknown outcome", zap.Int("count", n))
	}
	return nil
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
	if auth.Breached(e.cfg.AdminPassword) {
		// Refused only while the admin is still to be created: once it
		// exists, ADMIN_PASSWORD is not used.
		if _, err := e.conv.app.UserByEmail(ctx, e.cfg.AdminEmail); err == nil {
			e.log.Warn("ADMIN_PASSWORD is a common or breached password; it is not used (the admin exists), remove it from the environment")
			return nil
		}
		return errors.New("ADMIN_PASSWORD: is a common or breached password (on the list shipped with the engine); choose another")
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
	ln := e.ln
	e.ln = nil // Serve owns and closes it now
	g.Go(func() error { return e.gw.Serve(gctx, ln, addrs) })
	g.Go(func() error { return e.sweepRefreshFamilies(gctx) })
	g.Go(func() error { return e.conv.dispatcher.Run(gctx) })
	g.Go(func() error { return e.conv.sweeper.Run(gctx) })
	if r := e.conv.rehydration; r != nil {
		g.Go(func() error { return r.Run(gctx) })
	}
	g.Go(func() error { return e.sender.Run(gctx) })
	g.Go(func() error { return e.relay.Run(gctx) })
	if c := e.conv.shared; c != nil {
		for _, run := range c.run(gctx, e.conv.hub) {
			g.Go(run)
		}
	}
	if m := e.conv.media; m != nil {
		g.Go(func() error { return m.fetcher.Run(gctx) })
	}
	if t := e.templates; t != nil {
		g.Go(func() error { return t.Run(gctx) })
	}
	if c := e.calls; c != nil {
		g.Go(func() error { return c.serveSandbox(gctx) })
		g.Go(func() error { return c.sender.Run(gctx) })
		g.Go(func() error { return c.rehydrate(gctx) })
		g.Go(func() error { return c.replayEvents(gctx) })
	}
	g.Go(func() error { return servePprof(gctx, e.cfg.PprofAddr, e.log) })
	opsLn := e.opsLn
	e.opsLn = nil // serveOps owns and closes it now
	g.Go(func() error { return serveOps(gctx, opsLn, e.gw.OpsHandler(), e.log) })
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
	if e.calls != nil {
		e.calls.stop(e.cfg.ShutdownTimeout)
	}
	e.conv.stop(e.cfg.ShutdownTimeout)
	e.conv = nil
	stopAudit()
	<-auditDone
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// sweepRefreshFamilies deletes expired refresh families and expired
// Idempotency-Key answers every hour.
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
		n, err = e.store.DeleteExpiredIdempotency(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			e.log.Warn("sweep expired Idempotency-Key answers", zap.Error(err))
		} else if n > 0 {
			e.log.Info("expired Idempotency-Key answers removed", zap.Int("count", n))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// close closes, in reverse order, whatever is open; safe on a partly built
// engine and twice.
func (e *engine) close() {
	if e.calls != nil && e.conv != nil {
		e.calls.stop(e.cfg.ShutdownTimeout)
	}
	if e.conv != nil {
		e.conv.stop(e.cfg.ShutdownTimeout)
		e.conv = nil
	}
	if e.calls != nil {
		e.calls.close()
		e.calls = nil
	}
	if e.out != nil {
		e.out.close()
		e.out = nil
	}
	if e.ln != nil {
		_ = e.ln.Close()
		e.ln = nil
	}
	if e.opsLn != nil {
		_ = e.opsLn.Close()
		e.opsLn = nil
	}
	if e.kv != nil {
		if err := e.kv.Close(); err != nil {
			e.log.Warn("close shared store", zap.Error(err))
		}
		e.kv = nil
	}
	if e.store != nil {
		if err := e.store.Close(); err != nil {
			e.log.Warn("close store", zap.Error(err))
		}
		e.store = nil
	}
	e.lock.release()
	e.lock = nil
}

// randomSecret returns 260 random bits as text (two rand.Text), longer
// than the 32 bytes JWT secrets need.
func randomSecret() string { return rand.Text() + rand.Text() }
