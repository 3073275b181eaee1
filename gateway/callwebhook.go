package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/gateway/exotelhook"
)

// callbackMaxBytes bounds one Exotel callback body.
const callbackMaxBytes = 64 << 10

// secretMatches compares the callback's secret with ours in constant time
// (both hashed first, so not even the length leaks).
func secretMatches(got, want string) bool {
	if want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// handleCallWebhook is Exotel's status callback: authenticated by the
// secret of its URL, stored before it is answered 200 (a repeat is stored
// once and answered 200 again), then applied by the call's actor. A
// callback the actor did not take in time stays stored unapplied and is
// replayed (cmd/engine's call-event replay), so a 200 never loses it.
func (s *Server) handleCallWebhook(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if got := q.Get("secret"); !secretMatches(got, s.calls.WebhookSecret) || len(q["secret"]) != 1 {
		reason := reasonSecretInvalid
		if got == "" {
			reason = reasonSecretMissing
		}
		s.refused(r, placeCallWebhook, reason)
		writeError(w, r, errf(http.StatusUnauthorized, CodeUnauthorized, "the callback URL's secret is missing or wrong"))
		return
	}
	body, err := io.ReadAll(r.Body) // limited by the route
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, errf(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("callback body is larger than %d bytes", mbe.Limit)))
			return
		}
		writeError(w, r, errf(http.StatusBadRequest, CodeValidation, "callback body could not be read"))
		return
	}
	cb, err := exotelhook.Parse(r.Header.Get("Content-Type"), body)
	if err != nil {
		writeError(w, r, errf(http.StatusBadRequest, CodeValidation, err.Error()))
		return
	}
	ctx := r.Context()
	c, err := s.callOfCallback(r, cb)
	if errors.Is(err, actors.ErrNotFound) {
		s.log.Warn("Exotel callback for a call we do not know", zap.String("call_sid", cb.CallSid), zap.String("custom_field", cb.CustomField))
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "no call matches this callback's CustomField or CallSid"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ev := cb.Event(c.ID, body, s.now().UTC())
	if _, err := s.calls.Store.AddCallEvent(ctx, ev); err != nil {
		s.log.Warn("Exotel callback not stored; Exotel will retry", zap.String("call_id", c.ID), zap.Error(err))
		s.fail(w, r, err)
		return
	}
	// Stored: from here on the callback is ours. The actor applies it (a
	// repeat changes nothing); if it does not answer in time the replay
	// does it later.
	if _, err := call.Ask(s.calls.Directory, c.ID, call.Callback{Event: ev}, s.callTimeout()); err != nil && !errors.Is(err, call.ErrClosed) {
		s.log.Warn("Exotel callback stored, not applied yet; it will be replayed", zap.String("call_id", c.ID), zap.Error(err))
	}
	writeData(w, http.StatusOK, map[string]bool{"received": true})
}

// callOfCallback finds the call a callback is about: by CustomField (our
// call id, when it names a call with the callback's CallSid or none yet),
// else by CallSid.
func (s *Server) callOfCallback(r *http.Request, cb exotelhook.Callback) (actors.Call, error) {
	ctx := r.Context()
	if cb.CustomField != "" {
		c, err := s.calls.Store.Call(ctx, cb.CustomField)
		if err == nil && (c.ExotelSid == "" || c.ExotelSid == cb.CallSid) {
			return c, nil
		}
		if err != nil && !errors.Is(err, actors.ErrNotFound) {
			return actors.Call{}, err
		}
	}
	return s.calls.Store.CallByExotelSid(ctx, cb.CallSid)
}
