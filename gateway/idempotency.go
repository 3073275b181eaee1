package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// IdempotencyStore keeps the answers of requests sent with an
// Idempotency-Key (see actors.OutboundStore for the claim's semantics).
type IdempotencyStore interface {
	ClaimIdempotency(ctx context.Context, rec actors.IdempotencyRecord) (actors.IdempotencyRecord, error)
	IdempotencyRecord(ctx context.Context, key string) (actors.IdempotencyRecord, error)
	CompleteIdempotency(ctx context.Context, key, owner string, status int, body []byte) error
	ReleaseIdempotency(ctx context.Context, key, owner string) error
}

// idempotencyTTL is how long a key's answer is kept.
const idempotencyTTL = 24 * time.Hour

// idempotencyClaim is a request's claim of its Idempotency-Key, in its
// context for the handlers that derive ids from it.
type idempotencyClaim struct {
	key  string // scoped: user, method, route, header
	hash string // of the request body
	// first is when the key was first claimed: the same for a repeat that
	// took over the claim of a request whose process died.
	first time.Time
}

// newMessageID is the id of the message a send request creates. Under an
// Idempotency-Key it is derived from the claim (scoped key, body, first
// claim time), so a repeat after a crash names the same message: the
// conversation answers with the one already stored instead of storing and
// sending a second. A repeat after an answer of 5xx (the claim was
// released) is a new request with a new id.
func newMessageID(ctx context.Context) string {
	c, ok := ctx.Value(ctxIdempotency).(idempotencyClaim)
	if !ok {
		return actors.NewID()
	}
	sum := sha256.Sum256([]byte(c.key + "\x00" + c.hash + "\x00" + strconv.FormatInt(c.first.UnixMilli(), 10)))
	return hex.EncodeToString(sum[:16])
}

// recorder captures a response while writing it through.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	rw.body.Write(b)
	return rw.ResponseWriter.Write(b)
}

// idempotent makes a mutating request carrying Idempotency-Key happen once:
// a repeat with the same key and body gets the first answer (with
// Idempotent-Replayed: true) and does nothing; the same key with another
// body is 422; a repeat while the first still runs is 409 with Retry-After.
// Answers below 500 are kept for 24 hours; a 5xx releases the key so the
// client may retry. Keys are scoped by user, method and route.
//
// A claim is leased to its request for a little longer than any request
// may run (the request's context ends at WriteTimeout). If the process
// dies before answering, the claim is left unanswered: a repeat after the
// lease (or, on SQLite, after the next start settles every claim) takes it
// over and runs the request again, and a send then finds the message the
// dead process may already have stored under the same derived id.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Idempotency-Key")
		if header == "" || s.engine == nil || s.engine.Idempotency == nil {
			next.ServeHTTP(w, r)
			return
		}
		if len(header) > 255 || !printableASCII(header) {
			ve := &validationError{}
			ve.add("Idempotency-Key", "INVALID_VALUE", "must be 1 to 255 printable ASCII characters")
			writeError(w, r, ve.err())
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, r, errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is too large"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		s.runIdempotent(w, r, header, hex.EncodeToString(sum[:]), s.cfg.WriteTimeout, next)
	})
}

// runIdempotent runs next under the claim of the Idempotency-Key header
// for a request whose body hashes to hash (what idempotent describes). A
// request may run for at most runFor (its context ends there), and its
// claim is leased 10 s longer. The streamed upload routes call it
// themselves once their body is spooled and hashed.
func (s *Server) runIdempotent(w http.ResponseWriter, r *http.Request, header, hash string, runFor time.Duration, next http.Handler) {
	p, _ := principalFrom(r.Context())
	key := p.User.ID + ":" + r.Method + ":" + routePattern(r) + ":" + header
	owner := s.instance + ":" + requestIDFrom(r.Context()) + ":" + actors.NewID()
	store := s.engine.Idempotency
	ctx := r.Context()
	now := s.now().UTC()
	claimed, err := store.ClaimIdempotency(ctx, actors.IdempotencyRecord{Key: key, RequestHash: hash, Owner: owner,
		CreatedAt: now, ExpiresAt: now.Add(idempotencyTTL), LeaseUntil: now.Add(runFor + idempotencyLeaseSlack)})
	if errors.Is(err, actors.ErrDuplicate) {
		rec, gerr := store.IdempotencyRecord(ctx, key)
		switch {
		case errors.Is(gerr, actors.ErrNotFound):
			// Released between the two reads: the first request ended
			// with a 5xx; this one may be sent again at once.
			e := errf(http.StatusConflict, CodeConflict, "a request with this Idempotency-Key just ended; retry")
			e.RetryAfter = time.Second
			writeError(w, r, e)
		case gerr != nil:
			s.fail(w, r, gerr)
		case rec.RequestHash != hash:
			writeError(w, r, errf(http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different request body"))
		case rec.Status == 0:
			e := errf(http.StatusConflict, CodeConflict, "a request with this Idempotency-Key is still in progress")
			e.RetryAfter = max(time.Second, rec.LeaseUntil.Sub(now))
			writeError(w, r, e)
		default:
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(rec.Body)))
			w.WriteHeader(rec.Status)
			_, _ = w.Write(rec.Body)
		}
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The request may not outlive its lease: its work stops at the
	// write timeout, before a repeat could take the claim over.
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, ctxIdempotency, idempotencyClaim{key: key, hash: hash, first: claimed.CreatedAt}), runFor)
	defer cancel()
	rw := &recorder{ResponseWriter: w}
	defer func() {
		// Runs on panic too (observe recovers above us): release the key.
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rw.status == 0 || rw.status >= 500 {
			if err := store.ReleaseIdempotency(bg, key, owner); err != nil {
				s.log.Warn("release idempotency key", zap.Error(err))
			}
			return
		}
		if err := store.CompleteIdempotency(bg, key, owner, rw.status, rw.body.Bytes()); err != nil {
			s.log.Error("store idempotent answer; a repeat may run again", zap.Error(err))
		}
	}()
	next.ServeHTTP(rw, r.WithContext(ctx))
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
