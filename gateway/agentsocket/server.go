package agentsocket

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
)

// Defaults of Options.
const (
	DefaultBufferSize   = 256
	DefaultPingInterval = 30 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultReadLimit    = agentsession.MaxFrameSize
)

// Options configure a Server. Zero values take the defaults.
type Options struct {
	Log *zap.Logger
	Hub *agentsession.Hub
	// BufferSize is how many outgoing frames a socket queues before its
	// client counts as too slow.
	BufferSize int
	// PingInterval is the time between pings. Every pong is reported to
	// the session (Session.Alive); a client that answers none is closed by
	// its session after the hub's idle timeout (4002).
	PingInterval time.Duration
	// WriteTimeout bounds one frame's write.
	WriteTimeout time.Duration
	// ReadLimit is the largest client frame in bytes (close 1009 above).
	ReadLimit int64
}

// Server serves agent sockets.
type Server struct {
	opts Options
	log  *zap.Logger

	mu      sync.Mutex
	closing bool
	conns   map[*conn]struct{}
	// serving counts the sockets (and upgrades) in progress.
	serving sync.WaitGroup
}

// New returns a server; opts.Hub is required.
func New(opts Options) *Server {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	return &Server{opts: opts, log: opts.Log.With(zap.String("component", "agentsocket")), conns: map[*conn]struct{}{}}
}

// Serve upgrades r to a WebSocket for user and returns; the socket runs on a
// goroutine of its own (its reader) until it closes, and Shutdown waits for
// it. The caller has authenticated user and checked Origin.
//
// The request's goroutine is not kept for the socket's life: it is deep in
// the HTTP server and middleware, with a stack grown to match and the
// request's state around it, and an agent's socket lives all day. Started
// afresh, the reader's stack stays small: this halved the memory an idle
// socket costs (bench: sockets).
//
// expiresAt is when the access token of the upgrade expires: the session
// then expires unless the client sends a fresh one (see agentsession);
// zero never expires. clientIP is the client's address as the caller
// resolved it; with the request's User-Agent it is the session's Source.
func (s *Server) Serve(w http.ResponseWriter, r *http.Request, user actors.User, expiresAt time.Time, clientIP string) {
	if !s.enter() {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"error","message":"server is shutting down","code":"DEPENDENCY_UNAVAILABLE"}`))
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		// Accept has answered the request.
		s.log.Debug("websocket upgrade refused", zap.String("agent_id", user.ID), zap.Error(err))
		s.serving.Done()
		return
	}
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	go s.run(ws, user, expiresAt, agentsession.Source{IP: clientIP, UserAgent: ua})
}

// run runs an accepted socket until it closes.
func (s *Server) run(ws *websocket.Conn, user actors.User, expiresAt time.Time, source agentsession.Source) {
	defer s.serving.Done()
	ws.SetReadLimit(s.opts.ReadLimit)
	// No logger per socket (zap's With keeps an encoded copy of its fields
	// for the logger's life): the agent id is added to the rare lines.
	ctx, cancel := context.WithCancel(context.Background())
	c := newConn(ctx, ws, s.opts.BufferSize, s.opts.WriteTimeout, user.ID, s.log)
	if !s.track(c) {
		c.Close(agentsession.CloseGoingAway, "server shutting down")
	}
	defer s.untrack(c)
	started := time.Now()
	s.log.Debug("agent socket opened", zap.String("agent_id", user.ID))

	session := s.opts.Hub.Open(user, expiresAt, source, c)
	c.startPings(s.opts.PingInterval, session.Alive)
	err := readLoop(ctx, ws, session)
	session.Closed()
	cancel()
	c.stop()
	_ = ws.CloseNow()
	s.log.Debug("agent socket closed", zap.String("agent_id", user.ID), zap.Int("status", int(websocket.CloseStatus(err))), zap.Duration("duration", time.Since(started)))
}

// readLoop hands client frames to the session until the connection ends.
func readLoop(ctx context.Context, ws *websocket.Conn, session *agentsession.Session) error {
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		session.Deliver(b)
	}
}

// Shutdown closes every live socket with 1001 and waits until every Serve
// call has returned or ctx ends. New sockets are refused from the start.
// Safe to call more than once. When ctx ends first, the Serve calls still
// finish on their own (each within its write timeouts) and a later Shutdown
// can wait for them again.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.Close(agentsession.CloseGoingAway, "server shutting down")
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.serving.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shut down agent sockets: %w", ctx.Err())
	}
}

// Sockets returns how many sockets are open.
func (s *Server) Sockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.serving.Add(1)
	return true
}

// track registers c for Shutdown; false when shutdown already started.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = struct{}{}
	return !s.closing
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}
