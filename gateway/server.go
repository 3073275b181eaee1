package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/audit"
	"github.com/wacc/engine/gateway/auth"
	"github.com/wacc/engine/gateway/console"
)

// Deps is what the gateway is built from; cmd/engine constructs the
// concrete types.
type Deps struct {
	Log *zap.Logger
	// Options are the gateway's settings.
	Options Options
	Store   Store
	KV      KV
	Audit   Auditor
	// Checks are the readiness probes of /readyz.
	Checks []Check
	// Registry receives the gateway's metrics and is served on /metrics; a
	// fresh one with Go and process collectors is made when nil.
	Registry *prometheus.Registry
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Engine is the conversation engine; nil leaves its routes out.
	Engine *Engine
	// Media is the media store and intake; nil leaves the /api/media
	// routes out. The App's MediaVisible must read the same store.
	Media *Media
	// Calls is the call store and call actors; nil leaves the /api/calls
	// routes out.
	Calls *Calls
	// App is the use cases the gateway shares with the agent sessions
	// (cmd/engine builds one and hands it to both); required. Its issuer
	// signs and verifies the tokens.
	App *app.App
	// Refusals aggregates refused authentications into the audit log; the
	// server runs it while it serves. cmd/engine builds it to share it with
	// the agent sessions (tokens refused on an open socket); when nil the
	// server builds its own, writing every RefusalWindow (one minute when 0).
	Refusals      *audit.Refusals
	RefusalWindow time.Duration
}

// Server is the HTTP edge.
type Server struct {
	log            *zap.Logger
	cfg            Options
	store          Store
	kv             KV
	auditor        Auditor
	checks         []Check
	registry       *prometheus.Registry
	metrics        *metrics
	issuer         *auth.Issuer
	app            *app.App
	refusals       *audit.Refusals
	now            func() time.Time
	trustedProxies []netip.Prefix
	users          *readCache[actors.User]
	customers      *readCache[actors.Customer]
	phoneIDs       phoneIDs
	routes         []route
	handler        http.Handler
	engine         *Engine
	console        *console.Handler
	media          *Media
	calls          *Calls
	committer      *committer
	webhookMetrics *webhookMetrics
	// instance names this server in the owners of its Idempotency-Key
	// claims.
	instance string
	openAPICache
}

// New builds the server and its routes. The options must carry both JWT
// secrets, positive body limits, lifetimes and rate limits.
func New(d Deps) (*Server, error) {
	if d.App == nil {
		return nil, errors.New("new gateway: no app")
	}
	opts, err := d.Options.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	if c := d.Calls; c != nil && (c.Store == nil || c.Directory == nil || c.WebhookSecret == "") {
		return nil, errors.New("new gateway: calls need a store, a directory and a webhook secret")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
		d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{
		log:            d.Log.With(zap.String("component", "gateway")),
		cfg:            opts,
		store:          d.Store,
		kv:             d.KV,
		auditor:        d.Audit,
		checks:         d.Checks,
		registry:       d.Registry,
		metrics:        newMetrics(d.Registry),
		now:            d.Now,
		trustedProxies: opts.TrustedProxies,
		engine:         d.Engine,
		media:          d.Media,
		calls:          d.Calls,
		instance:       actors.NewID(),
	}
	s.app = d.App
	s.issuer = d.App.Issuer()
	s.refusals = d.Refusals
	if s.refusals == nil {
		s.refusals = audit.NewRefusals(d.Audit, d.Registry, audit.RefusalOptions{Window: d.RefusalWindow})
	}
	s.webhookMetrics = newWebhookMetrics(d.Registry)
	if d.Engine != nil {
		s.committer = &committer{inbox: d.Engine.Inbox, wake: d.Engine.WakeInbox, accepted: d.Engine.Accepted, queue: make(chan commitReq, 8192), maxRun: 256,
			metrics: s.webhookMetrics, log: s.log}
	}
	s.users = newReadCache(&readCache[actors.User]{
		name: "users", prefix: "user:", kv: d.KV, ttl: opts.CacheTTL, m: s.metrics, log: s.log,
		load:  d.Store.UserByID,
		scrub: func(u actors.User) actors.User { u.PasswordHash = ""; return u },
	})
	s.customers = newReadCache(&readCache[actors.Customer]{
		name: "customers", prefix: "customer:", kv: d.KV, ttl: opts.CacheTTL, m: s.metrics, log: s.log,
		load: d.Store.Customer,
		clone: func(c actors.Customer) actors.Customer {
			c.Tags, c.Attributes = slices.Clone(c.Tags), maps.Clone(c.Attributes)
			return c
		},
	})
	if s.console, err = console.New(); err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	s.routes = s.routeTable()
	s.handler = s.buildRouter()
	return s, nil
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes lists the registered routes (method, pattern) for the OpenAPI test.
func (s *Server) Routes() [][2]string {
	out := make([][2]string, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, [2]string{rt.method, rt.pattern})
	}
	return out
}

func (s *Server) buildRouter() http.Handler {
	r := chi.NewRouter()
	r.Use(withRequestID, s.withClientIP, s.observe, s.securityHeaders, s.cors)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		// The agent console owns GET and HEAD of every path outside the
		// API's; the API's own 404 stays JSON.
		if console.Serves(r.Method, r.URL.Path) {
			s.console.ServeHTTP(w, r)
			return
		}
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "no such route: "+r.Method+" "+r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errf(http.StatusMethodNotAllowed, CodeMethodNotAllow, "method "+r.Method+" is not allowed on "+r.URL.Path))
	})
	apiLimit := s.rateLimit("api", s.cfg.RateLimitAPIPerMin)
	authLimit := s.rateLimit("auth", s.cfg.RateLimitAuthPerMin)
	for _, rt := range s.routes {
		// Each route reads at most its own limit: the JSON API's, or the
		// webhook's (a signed batch from Meta may be several MiB).
		limit := rt.maxBody
		if limit == 0 {
			limit = s.cfg.MaxBodyBytes
		}
		mw := []func(http.Handler) http.Handler{limitBody(limit, rt.bodyNote)}
		if rt.limited {
			mw = append(mw, apiLimit)
		}
		if rt.authLimited {
			mw = append(mw, authLimit)
		}
		if rt.authenticated || rt.perm != "" {
			mw = append(mw, s.authenticate)
		}
		if rt.perm != "" {
			mw = append(mw, s.require(rt.perm))
		}
		if (rt.authenticated || rt.perm != "") && rt.method != http.MethodGet && !rt.streamed {
			mw = append(mw, s.idempotent)
		}
		r.With(mw...).Method(rt.method, rt.pattern, rt.handler)
	}
	return r
}

// Run serves on the configured address until ctx is cancelled, then stops
// accepting and drains in-flight requests for at most ShutdownTimeout.
// ready, when not nil, receives the bound address once listening.
func (s *Server) Run(ctx context.Context, ready chan<- net.Addr) error {
	addr := net.JoinHostPort(s.cfg.Host, fmt.Sprint(s.cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln, ready)
}

// Serve is Run on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready chan<- net.Addr) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(s.log.With(zap.String("source", "net/http"))),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Refused authentications are counted until the server has drained;
	// the last counts are written then.
	refusalsCtx, stopRefusals := context.WithCancel(context.Background())
	refusalsDone := make(chan struct{})
	go func() { defer close(refusalsDone); _ = s.refusals.Run(refusalsCtx) }()
	defer func() { stopRefusals(); <-refusalsDone }()
	if s.committer != nil {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { defer close(done); s.committer.run(stop) }()
		// Runs after the HTTP server drained: no webhook is waiting.
		defer func() { close(stop); <-done }()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- ln.Addr()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("http server draining", zap.Duration("timeout", s.cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("drain http: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("http server ended with an error", zap.Error(err))
	}
	s.log.Info("http server stopped")
	return nil
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeData(w, http.StatusOK, map[string]string{"state": "up"})
}

// handleReadyz is the API port's readiness probe for load balancers: 200
// {state} or 503 naming the failing dependencies, no more (the detail is
// on the operations listener, see OpsHandler).
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) { s.readyz(w, r, false) }

// readyz pings every dependency; 503 names the failing ones. detailed adds
// each dependency's state, ping time and error.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, detailed bool) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	deps := map[string]dependencyState{}
	var failed []FieldError
	for _, c := range s.checks {
		began := time.Now()
		err := c.Ping(ctx)
		st := dependencyState{State: "up", PingMs: float64(time.Since(began).Microseconds()) / 1000}
		if err != nil {
			st.State, st.Error = "down", err.Error()
			msg := "not reachable"
			if detailed {
				msg += ": " + err.Error()
			}
			failed = append(failed, FieldError{Field: c.Name, Message: msg, Code: "DOWN"})
			s.log.Warn("readiness check failed", zap.String("dependency", c.Name), zap.Error(err))
		}
		deps[c.Name] = st
	}
	if len(failed) > 0 {
		e := errf(http.StatusServiceUnavailable, CodeUnavailable, "not ready: "+joinFields(failed)+" unreachable")
		e.Fields = failed
		writeError(w, r, e)
		return
	}
	if !detailed {
		writeData(w, http.StatusOK, map[string]any{"state": "ready"})
		return
	}
	writeData(w, http.StatusOK, map[string]any{"state": "ready", "dependencies": deps})
}

// dependencyState is one dependency in the operations listener's /readyz.
type dependencyState struct {
	State  string  `json:"state"`
	PingMs float64 `json:"pingMs"`
	Error  string  `json:"error,omitempty"`
}

// OpsHandler serves the operations listener (METRICS_ADDR): GET /metrics
// without a token, GET /readyz with every dependency's state, ping time
// and error, and GET /healthz. Bind it to loopback or an admin network,
// never beside the public API.
func (s *Server) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { s.readyz(w, r, true) })
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	return withRequestID(mux)
}

func joinFields(fs []FieldError) string {
	out := ""
	for i, f := range fs {
		if i > 0 {
			out += ", "
		}
		out += f.Field
	}
	return out
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

func isUnavailable(err error) bool {
	return errors.Is(err, actors.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// AppSecret is the WhatsApp app secret webhooks are checked against (the
// sandbox signs its callbacks with it).
func (s *Server) AppSecret() string { return s.cfg.WhatsAppAppSecret }
