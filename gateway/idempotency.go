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
// Idempotency-Key.
type IdempotencyStore interface {
	ClaimIdempotency(ctx context.Context, rec actors.IdempotencyRecord) error
	IdempotencyRecord(ctx context.Context, key string) (actors.IdempotencyRecord, error)
	CompleteIdempotency(ctx context.Context, key string, status int, body []byte) error
	ReleaseIdempotency(ctx context.Context, key string) error
}

// idempotencyTTL is how long a key's answer is kept.
const idempotencyTTL = 24 * time.Hour

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
// body is 422; a repeat while the first still runs is 409. Answers below 500
// are kept for 24 hours; a 5xx releases the key so the client may retry.
// Keys are scoped by user, method and route.
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
		p, _ := principalFrom(r.Context())
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		key := p.User.ID + ":" + r.Method + ":" + routePattern(r) + ":" + header
		store := s.engine.Idempotency
		ctx := r.Context()
		now := s.now().UTC()
		err = store.ClaimIdempotency(ctx, actors.IdempotencyRecord{Key: key, RequestHash: hash, CreatedAt: now, ExpiresAt: now.Add(idempotencyTTL)})
		if errors.Is(err, actors.ErrDuplicate) {
			rec, gerr := store.IdempotencyRecord(ctx, key)
			switch {
			case gerr != nil:
				s.fail(w, r, gerr)
			case rec.RequestHash != hash:
				writeError(w, r, errf(http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different request body"))
			case rec.Status == 0:
				writeError(w, r, errf(http.StatusConflict, CodeConflict, "a request with this Idempotency-Key is still in progress"))
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
		rw := &recorder{ResponseWriter: w}
		defer func() {
			// Runs on panic too (observe recovers above us): release the key.
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if rw.status == 0 || rw.status >= 500 {
				if err := store.ReleaseIdempotency(bg, key); err != nil {
					s.log.Warn("release idempotency key", zap.Error(err))
				}
				return
			}
			if err := store.CompleteIdempotency(bg, key, rw.status, rw.body.Bytes()); err != nil {
				s.log.Error("store idempotent answer; a repeat may run again", zap.Error(err))
			}
		}()
		next.ServeHTTP(rw, r)
	})
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
