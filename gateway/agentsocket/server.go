package agentsocket

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
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
	// DefaultMaxFramesPerSecond and DefaultFrameBurst bound the client
	// frames of one socket: far above what an agent console sends (a ping
	// every few seconds, a typing frame a second, a read per conversation
	// opened), far below a flood.
	DefaultMaxFramesPerSecond = 20
	DefaultFrameBurst         = 100
	// DefaultMaxSocketsPerUser is how many sockets one user may hold open
	// at once (browser tabs, devices).
	DefaultMaxSocketsPerUser = 10
	// socketCapRetryAfter is the Retry-After of an upgrade refused for the
	// per-user cap.
	socketCapRetryAfter = 5 * time.Second
)

// Close codes and reasons of the socket itself (the session has its own).
const (
	// CloseFlood closes a socket whose client sent frames faster than
	// MaxFramesPerSecond beyond FrameBurst (1008 policy violation).
	CloseFlood       = 1008
	CloseFloodReason = "too many frames"
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
	// MaxFramesPerSecond and FrameBurst are a token bucket over each
	// socket's client frames: a burst of FrameBurst, refilled at
	// MaxFramesPerSecond. A client that empties it is flooding: the socket
	// closes with 1008 and the frames after it are dropped unread by the
	// session.
	MaxFramesPerSecond float64
	FrameBurst         int
	// MaxSocketsPerUser caps one user's open sockets; an upgrade beyond it
	// is refused before the upgrade with 429 RATE_LIMITED and Retry-After
	// (the open sockets are kept: closing one an agent is using, for a new
	// tab, would trade a working console for an unknown client).
	MaxSocketsPerUser int
}

// Server serves agent sockets.
type Server struct {
	opts Options
	log  *zap.Logger

	mu      sync.Mutex
	closing bool
	conns   map[*conn]struct{}
	// perUser counts each user's sockets and upgrades in progress.
	perUser map[string]int
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
	if opts.MaxFramesPerSecond <= 0 {
		opts.MaxFramesPerSecond = DefaultMaxFramesPerSecond
	}
	if opts.FrameBurst <= 0 {
		opts.FrameBurst = DefaultFrameBurst
	}
	if opts.MaxSocketsPerUser <= 0 {
		opts.MaxSocketsPerUser = DefaultMaxSocketsPerUser
	}
	return &Server{opts: opts, log: opts.Log.With(zap.String("component", "agentsocket")), conns: map[*conn]struct{}{},
		perUser: map[string]int{}}
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
	switch s.enter(user.ID) {
	case refusedClosing:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"error","message":"server is shutting down","code":"DEPENDENCY_UNAVAILABLE"}`))
		return
	case refusedCap:
		s.log.Info("agent socket refused: too many sockets", zap.String("agent_id", user.ID), zap.Int("max", s.opts.MaxSocketsPerUser))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Retry-After", strconv.Itoa(int(socketCapRetryAfter/time.Second)))
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = fmt.Fprintf(w, `{"status":"error","message":"too many open sockets for this user (at most %d); close one and retry","code":"RATE_LIMITED"}`,
			s.opts.MaxSocketsPerUser)
		return
	}
	resume := r.URL.Query().Get("cursor")
	if resume != "" && !agentsession.ValidCursor(resume) {
		s.leave(user.ID)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"status":"error","message":"request is invalid","code":"VALIDATION_ERROR",` +
			`"errors":[{"field":"cursor","code":"INVALID_CURSOR","message":"is not a cursor this server issued"}]}`))
		return
	}
	cw := &corkingWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		// Accept has answered the request.
		s.log.Debug("websocket upgrade refused", zap.String("agent_id", user.ID), zap.Error(err))
		s.leave(user.ID)
		return
	}
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	go s.run(ws, cw.cork, user, expiresAt, agentsession.Source{IP: clientIP, UserAgent: ua}, resume)
}

// run runs an accepted socket until it closes.
func (s *Server) run(ws *websocket.Conn, cork *corkConn, user actors.User, expiresAt time.Time, source agentsession.Source, resume string) {
	defer s.leave(user.ID)
	ws.SetReadLimit(s.opts.ReadLimit)
	// No logger per socket (zap's With keeps an encoded copy of its fields
	// for the logger's life): the agent id is added to the rare lines.
	ctx, cancel := context.WithCancel(context.Background())
	c := newConn(ctx, ws, cork, s.opts.BufferSize, s.opts.WriteTimeout, user.ID, s.log)
	if !s.track(c) {
		c.Close(agentsession.CloseGoingAway, "server shutting down")
	}
	defer s.untrack(c)
	started := time.Now()
	s.log.Debug("agent socket opened", zap.String("agent_id", user.ID))

	session := s.opts.Hub.OpenAfter(user, expiresAt, source, c, resume)
	c.startPings(s.opts.PingInterval, session.Alive)
	err := readLoop(ctx, ws, session, c, newFrameBucket(s.opts.MaxFramesPerSecond, s.opts.FrameBurst))
	session.Closed()
	cancel()
	c.stop()
	_ = ws.CloseNow()
	s.log.Debug("agent socket closed", zap.String("agent_id", user.ID), zap.Int("status", int(websocket.CloseStatus(err))), zap.Duration("duration", time.Since(started)))
}

// readLoop hands client frames to the session until the connection ends.
// A client that empties its frame bucket is flooding: the socket closes
// with 1008 and the frames still coming until the close completes are read
// (the close handshake needs the reader) and dropped.
func readLoop(ctx context.Context, ws *websocket.Conn, session *agentsession.Session, c *conn, bucket *frameBucket) error {
	flooded := false
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		if flooded {
			continue
		}
		if !bucket.take(time.Now()) {
			flooded = true
			c.Close(CloseFlood, CloseFloodReason)
			continue
		}
		session.Deliver(b)
	}
}

// frameBucket is a token bucket over one socket's client frames; only its
// reader uses it.
type frameBucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	at     time.Time
}

func newFrameBucket(perSecond float64, burst int) *frameBucket {
	return &frameBucket{rate: perSecond, burst: float64(burst), tokens: float64(burst)}
}

// take spends one token; false when none is left.
func (b *frameBucket) take(now time.Time) bool {
	if !b.at.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.at).Seconds()*b.rate)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
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

// Outcomes of enter.
const (
	entered = iota
	refusedClosing
	refusedCap
)

// enter admits one upgrade of user: refusedClosing once Shutdown started,
// refusedCap when the user holds MaxSocketsPerUser sockets (or upgrades in
// progress). An admitted upgrade is counted until leave.
func (s *Server) enter(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return refusedClosing
	}
	if s.perUser[userID] >= s.opts.MaxSocketsPerUser {
		return refusedCap
	}
	s.perUser[userID]++
	s.serving.Add(1)
	return entered
}

// leave ends what enter admitted.
func (s *Server) leave(userID string) {
	s.mu.Lock()
	if s.perUser[userID] <= 1 {
		delete(s.perUser, userID)
	} else {
		s.perUser[userID]--
	}
	s.mu.Unlock()
	s.serving.Done()
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
