package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/gateway/agentsocket"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/audit"
	"github.com/wacc/engine/gateway/auth"
	"github.com/wacc/engine/gateway/gatewaytest"
	"github.com/wacc/engine/gateway/media"
	"github.com/wacc/engine/persistence/fsblobs"
	"github.com/wacc/engine/persistence/memkv"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// harness is a real gateway on a loopback port over a real SQLite store, the
// in-process shared store and the real audit log.
type harness struct {
	t     testing.TB
	url   string
	cfg   gateway.Options
	store *sqlitestore.Store
	kv    gateway.KV
	audit *audit.Log
	app   *app.App
	// blobs and spool are the media byte store and the intake's spool
	// directory.
	blobs  *fsblobs.Store
	spool  string
	srv    *gateway.Server
	client *http.Client
	// sockets is the agent socket server (harnessOpts.sockets).
	sockets *agentsocket.Server
	// clock, when set by a test, shifts the server's time.
	skew atomic.Int64
}

type harnessOpts struct {
	config func(*gateway.Options)
	kv     gateway.KV                             // memkv when nil
	store  func(*sqlitestore.Store) gateway.Store // wraps the store (fault injection)
	// shareStore, when set, makes this gateway a second node over the
	// other harness's database.
	shareStore *harness
	// dbPath, when set, is the SQLite file (a temporary one otherwise): a
	// second harness on the same path is a restarted engine over the same
	// database, with its own store, cache and server.
	dbPath string
	// refusalWindow is the audit.Refusals window (one minute when 0).
	refusalWindow time.Duration
	// mediaMaxBytes is MEDIA_MAX_BYTES (100 MB when 0).
	mediaMaxBytes int64
	// sockets, when set, serves the agent socket (GET /ws) through a real
	// agent-session hub, and nothing else of the conversation engine.
	sockets bool
	// accepted, when set, makes the webhook route live: bodies go to the
	// store's inbox and, once stored, to accepted (Engine.Accepted).
	accepted func([]actors.InboxEntry)
}

// The harness's token secrets; tests sign their own forged tokens with them.
var (
	testJWTSecret        = strings.Repeat("a", 32)
	testJWTRefreshSecret = strings.Repeat("b", 32)
)

func newHarness(t testing.TB, opts harnessOpts) *harness {
	t.Helper()
	cfg := gateway.Options{
		Host: "127.0.0.1", AllowedOrigins: []string{"http://localhost:4000", "http://127.0.0.1:4000"},
		MaxBodyBytes: 1 << 20, WebhookMaxBytes: 3 << 20, RateLimitAPIPerMin: 100000, RateLimitAuthPerMin: 100000,
		JWTExpiresIn: 15 * time.Minute, JWTRefreshExpiresIn: 7 * 24 * time.Hour, CacheTTL: 5 * time.Minute,
		WhatsAppVerifyToken: "verify-token", WhatsAppAppSecret: "app-secret", WhatsAppPhoneNumberID: "100000000000001",
	}
	if opts.config != nil {
		opts.config(&cfg)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	ctx, cancel := context.WithCancel(context.Background())

	var store *sqlitestore.Store
	var err error
	if opts.shareStore != nil {
		store = opts.shareStore.store
	} else {
		path := opts.dbPath
		if path == "" {
			path = filepath.Join(t.TempDir(), "engine.db")
		}
		store, err = sqlitestore.Open(ctx, path, log)
		require.NoError(t, err)
	}
	h := &harness{t: t, cfg: cfg, store: store, client: &http.Client{Timeout: 10 * time.Second}}
	kv := opts.kv
	if kv == nil {
		m := memkv.New(memkv.Options{Holdoff: 300 * time.Millisecond})
		t.Cleanup(func() { _ = m.Close() })
		kv = m
	}
	h.kv = kv
	var gs gateway.Store = store
	if opts.store != nil {
		gs = opts.store(store)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	h.audit = audit.New(gs, log, reg, audit.Options{MaxBackoff: 100 * time.Millisecond})
	auditDone := make(chan struct{})
	go func() { defer close(auditDone); _ = h.audit.Run(ctx) }()
	now := func() time.Time { return time.Now().Add(time.Duration(h.skew.Load())) }
	h.app = app.New(app.Deps{
		Users: gs, Families: gs, Revocations: kv, RefreshTTL: cfg.JWTRefreshExpiresIn, Now: now, Log: log,
		Issuer:        auth.NewIssuer([]byte(testJWTSecret), []byte(testJWTRefreshSecret), cfg.JWTExpiresIn, now),
		Conversations: store, Media: store,
	})
	h.blobs, err = fsblobs.Open(filepath.Join(t.TempDir(), "media"))
	require.NoError(t, err)
	h.spool = filepath.Join(t.TempDir(), "spool")
	maxBytes := opts.mediaMaxBytes
	if maxBytes == 0 {
		maxBytes = 100 << 20
	}
	intake, err := media.NewIntake(media.Options{Dir: h.spool, MaxBytes: maxBytes})
	require.NoError(t, err)
	var engine *gateway.Engine
	if opts.sockets || opts.accepted != nil {
		engine = &gateway.Engine{}
	}
	if opts.sockets {
		system := actor.NewActorSystem()
		t.Cleanup(system.Shutdown)
		hub := agentsession.NewHub(system, agentsession.Options{Log: log, Commands: h.app})
		h.sockets = agentsocket.New(agentsocket.Options{Log: log, Hub: hub})
		engine.Sockets = harnessSockets{Server: h.sockets, hub: hub}
	}
	if opts.accepted != nil {
		engine.Inbox, engine.Accepted = store, opts.accepted
	}
	h.srv, err = gateway.New(gateway.Deps{
		Log: log, Options: cfg, Store: gs, KV: kv, Audit: h.audit, Registry: reg, App: h.app, Engine: engine,
		Media:         &gateway.Media{Store: store, Blobs: h.blobs, Intake: intake},
		Checks:        []gateway.Check{{Name: "store", Ping: store.Ping}},
		Now:           now,
		RefusalWindow: opts.refusalWindow,
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ready := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(ctx, ln, ready) }()
	h.url = "http://" + (<-ready).String()
	t.Cleanup(func() {
		if h.sockets != nil {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			require.NoError(t, h.sockets.Shutdown(sctx))
		}
		cancel()
		require.NoError(t, <-served)
		<-auditDone
		if opts.shareStore == nil {
			_ = store.Close()
		}
	})
	return h
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Env    map[string]any
}

// ops calls the operations listener's handler (METRICS_ADDR in the engine).
func (h *harness) ops(method, path string) response {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.srv.OpsHandler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	out := response{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.Bytes()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		require.NoError(h.t, json.Unmarshal(out.Raw, &out.Env), "body %s", out.Raw)
	}
	return out
}

func (r response) data() map[string]any {
	d, _ := r.Env["data"].(map[string]any)
	return d
}

func (r response) code() string {
	c, _ := r.Env["code"].(string)
	return c
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Raw) }

// call sends a request. body may be a string (sent as is), nil, or any value
// (JSON encoded). headers are name/value pairs.
func (h *harness) call(method, path, token string, body any, headers ...string) response {
	h.t.Helper()
	status, header, raw := gatewaytest.Call(h.t, h.client, method, h.url+path, token, body, headers...)
	out := response{Status: status, Header: header, Raw: raw}
	if len(raw) > 0 && strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		require.NoError(h.t, json.Unmarshal(raw, &out.Env), "body %s", raw)
	}
	return out
}

// session is a logged-in user.
type session struct {
	ID      string
	Email   string
	Role    string
	Access  string
	Refresh string
}

func sessionOf(t testing.TB, r response) session {
	t.Helper()
	d := r.data()
	require.NotNil(t, d, r.String())
	u := d["user"].(map[string]any)
	return session{ID: u["id"].(string), Email: u["email"].(string), Role: u["role"].(string),
		Access: d["accessToken"].(string), Refresh: d["refreshToken"].(string)}
}

var userSeq atomic.Int64

// register creates an agent with a unique email and returns its session.
func (h *harness) register() session {
	h.t.Helper()
	email := fmt.Sprintf("agent%d-%d@example.com", userSeq.Add(1), time.Now().UnixNano())
	r := h.call("POST", "/api/auth/register", "", map[string]string{"email": email, "password": "s3cret-pass", "name": "Agent"})
	require.Equal(h.t, http.StatusCreated, r.Status, r.String())
	return sessionOf(h.t, r)
}

// userWithRole creates a user of role directly in the store and logs in.
func (h *harness) userWithRole(role actors.Role) session {
	h.t.Helper()
	email := fmt.Sprintf("%s%d@example.com", role, userSeq.Add(1))
	_, err := h.app.CreateUser(context.Background(), app.NewUser{Email: email, Password: "s3cret-pass", Name: string(role), Role: role})
	require.NoError(h.t, err)
	r := h.call("POST", "/api/auth/login", "", map[string]string{"email": email, "password": "s3cret-pass"})
	require.Equal(h.t, http.StatusOK, r.Status, r.String())
	return sessionOf(h.t, r)
}

// requireError checks an answer is the contract's error envelope.
func requireError(t testing.TB, r response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.Status, r.String())
	require.Equal(t, "error", r.Env["status"], r.String())
	require.Equal(t, code, r.code(), r.String())
	require.NotEmpty(t, r.Env["message"], r.String())
	require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), r.Header.Get("Content-Type"))
	if status == http.StatusServiceUnavailable {
		require.NotEmpty(t, r.Header.Get("Retry-After"), "503 without Retry-After")
	}
	if status == http.StatusUnauthorized {
		require.True(t, strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer "), "401 without a Bearer challenge: %q", r.Header.Get("WWW-Authenticate"))
	}
}

// auditActions waits for the audit log to flush and returns the actions
// recorded for actor (all actors when empty).
func (h *harness) auditRecords(filter actors.AuditFilter) []actors.AuditRecord {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.audit.Pending() == 0 }, 5*time.Second, 10*time.Millisecond)
	if filter.Limit == 0 {
		filter.Limit = 100
	}
	if filter.Page == 0 {
		filter.Page = 1
	}
	recs, _, err := h.store.ListAudit(context.Background(), filter)
	require.NoError(h.t, err)
	return recs
}

// harnessSockets is the agent socket server with the hub's DisconnectUser
// and Online, as cmd/engine wires them.
type harnessSockets struct {
	*agentsocket.Server
	hub *agentsession.Hub
}

func (s harnessSockets) DisconnectUser(userID string, code int, reason string) {
	s.hub.DisconnectUser(userID, code, reason)
}

func (s harnessSockets) Online(userID string) bool { return s.hub.Online(userID) }
