package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/auth"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxPrincipal
	ctxClientIP
	ctxUserHolder
	ctxIdempotency
)

// principal is the authenticated caller of a request.
type principal struct {
	User   actors.User
	Claims auth.Claims
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

func principalFrom(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(ctxPrincipal).(principal)
	return p, ok
}

func clientIPFrom(ctx context.Context) string {
	ip, _ := ctx.Value(ctxClientIP).(string)
	return ip
}

func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

var requestSeq atomic.Uint64

var requestPrefix = strings.ToLower(rand.Text()[:8])

// withRequestID takes a sane X-Request-Id from the client or makes one, puts
// it in the context and echoes it in the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = requestPrefix + "-" + strconv.FormatUint(requestSeq.Add(1), 36)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxRequestID, id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// statusWriter records the status and size a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	n, err := sw.ResponseWriter.Write(b)
	sw.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (WebSocket
// upgrades, flushes).
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// observe writes one log line and the metrics of every request, and turns a
// panic into a logged 500 INTERNAL_ERROR carrying the request id.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		holder := &userHolder{}
		r = r.WithContext(context.WithValue(r.Context(), ctxUserHolder, holder))
		defer func() {
			if rec := recover(); rec != nil {
				if rec == http.ErrAbortHandler {
					panic(rec)
				}
				s.log.Error("panic in handler",
					zap.String("request_id", requestIDFrom(r.Context())),
					zap.String("route", routePattern(r)),
					zap.Any("panic", rec),
					zap.ByteString("stack", debug.Stack()))
				s.metrics.panics.Inc()
				if sw.status == 0 {
					writeError(sw, r, errf(http.StatusInternalServerError, CodeInternal, "internal error"))
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			route := routePattern(r)
			s.metrics.requests.WithLabelValues(r.Method, route, strconv.Itoa(status)).Inc()
			s.metrics.latency.WithLabelValues(r.Method, route).Observe(d.Seconds())
			ce := s.log.Check(zap.InfoLevel, "request")
			if ce == nil {
				return
			}
			fields := []zap.Field{
				zap.String("request_id", requestIDFrom(r.Context())),
				zap.String("method", r.Method),
				zap.String("route", route),
				zap.Int("status", status),
				zap.Duration("duration", d),
				zap.String("ip", clientIPFrom(r.Context())),
			}
			if id := holder.id.Load(); id != nil {
				fields = append(fields, zap.String("user_id", *id))
			}
			ce.Write(fields...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// userHolder carries the authenticated user id from the auth middleware,
// which runs in a deeper context, back to the request's log line.
type userHolder struct{ id atomic.Pointer[string] }

// withClientIP resolves the caller's address: the TCP peer, or, when the peer
// is a trusted proxy, the right-most address in X-Forwarded-For that is not a
// trusted proxy.
func (s *Server) withClientIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := s.clientIP(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxClientIP, ip)))
	})
}

func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// securityHeaders sets the headers every API response carries.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if s.cfg.Production {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// cors answers preflights and marks allowed cross-origin responses. The API
// authenticates with bearer tokens only, never cookies, so credentials are
// never allowed and "*" is safe when configured.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		allowed := s.originAllowed(origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !allowed {
			if preflight {
				writeError(w, r, errf(http.StatusForbidden, CodeForbidden, "origin is not allowed"))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
		if preflight {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, X-Request-Id")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// limitBody caps a route's request body at limit bytes: a declared
// Content-Length above it is refused at once, and a longer body (chunked or
// lying) fails its read with *http.MaxBytesError, which the handlers answer
// with 413 PAYLOAD_TOO_LARGE. Reading stops at the limit. note, when set,
// ends the refusal's message (what the limit is made of).
func limitBody(limit int64, note string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				writeError(w, r, errf(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body is larger than %d bytes%s", limit, note)))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}

// rateLimit refuses a client IP over perMinute requests with 429
// RATE_LIMITED and Retry-After. If the limiter itself fails the request is
// let through (fail open), logged and counted: an outage of Redis must not
// take the API down.
func (s *Server) rateLimit(scope string, perMinute int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := scope + ":" + clientIPFrom(r.Context())
			ok, retry, err := s.kv.Allow(r.Context(), key, perMinute)
			if err != nil {
				s.metrics.limiterErrors.Inc()
				s.log.Warn("rate limiter unavailable; allowing request", zap.String("request_id", requestIDFrom(r.Context())), zap.Error(err))
				next.ServeHTTP(w, r)
				return
			}
			if !ok {
				s.metrics.rateLimited.WithLabelValues(scope).Inc()
				if retry < time.Second {
					retry = time.Second
				}
				e := errf(http.StatusTooManyRequests, CodeRateLimited, "too many requests; retry later")
				e.RetryAfter = retry
				writeError(w, r, e)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// authenticate requires a valid, unrevoked bearer token whose user still
// exists, and puts the caller in the context with the user's current role.
// A presented token that is refused is audited (aggregated, see
// audit.Refusals); a missing one is not an authentication attempt.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearerToken(r)
		if tok == "" {
			writeError(w, r, errf(http.StatusUnauthorized, CodeUnauthorized, "a bearer access token is required"))
			return
		}
		p, err := s.verifyToken(r.Context(), tok)
		if err != nil {
			s.refusedToken(r, placeAPI, err)
			s.fail(w, r, err)
			return
		}
		if h, ok := r.Context().Value(ctxUserHolder).(*userHolder); ok {
			h.id.Store(&p.User.ID)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxPrincipal, p)))
	})
}

func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Refusals of a token, as answered.
var (
	errTokenExpired = errf(http.StatusUnauthorized, CodeTokenExpired, "access token has expired")
	errTokenInvalid = errf(http.StatusUnauthorized, CodeUnauthorized, "access token is invalid")
	errTokenRevoked = errf(http.StatusUnauthorized, CodeTokenRevoked, "access token has been revoked")
)

// verifyToken checks signature, claims and revocation (app.VerifyAccess),
// loads the user behind a token (through the read cache) and refuses the
// token of a disabled user or one older than the user's token version
// (app.Current). Used by HTTP
// requests and WebSocket upgrades. A refused token is one of the
// errToken* answers.
func (s *Server) verifyToken(ctx context.Context, tok string) (principal, error) {
	claims, err := s.app.VerifyAccess(ctx, tok)
	switch {
	case errors.Is(err, actors.ErrTokenExpired):
		return principal{}, errTokenExpired
	case errors.Is(err, actors.ErrTokenRevoked):
		return principal{}, errTokenRevoked
	case errors.Is(err, actors.ErrTokenInvalid):
		return principal{}, errTokenInvalid
	case err != nil:
		return principal{}, err
	}
	u, err := s.users.get(ctx, claims.Subject)
	if errors.Is(err, actors.ErrNotFound) {
		return principal{}, errTokenInvalid
	}
	if err != nil {
		return principal{}, fmt.Errorf("load user %s: %w", claims.Subject, err)
	}
	if err := app.Current(claims, u); err != nil {
		return principal{}, errTokenRevoked
	}
	return principal{User: u, Claims: claims}, nil
}

// require refuses callers whose role lacks perm with 403 FORBIDDEN.
func (s *Server) require(perm actors.Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := principalFrom(r.Context())
			if !ok || !p.User.Role.Can(perm) {
				if ok {
					s.audit(r, "auth.forbidden", routePattern(r), actors.OutcomeDenied, string(perm))
				}
				writeError(w, r, errf(http.StatusForbidden, CodeForbidden, "you do not have permission "+string(perm)))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
