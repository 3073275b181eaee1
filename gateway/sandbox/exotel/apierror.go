package exotel

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// restException is Exotel's error body:
// {"RestException":{"Status":401,"Message":"...","Code":"UNAUTHORIZED"}}.
type restException struct {
	Status  int    `json:"Status"`
	Message string `json:"Message"`
	Code    string `json:"Code"`
}

// Error codes of the sandbox's RestException bodies. Exotel documents the
// shape and the UNAUTHORIZED and INVALID_ACCOUNT_SID codes; the others
// name the sandbox's checks in the same style.
const (
	CodeUnauthorized      = "UNAUTHORIZED"
	CodeInvalidAccountSID = "INVALID_ACCOUNT_SID"
	CodeInvalidParameter  = "INVALID_PARAMETER"
	CodeMissingParameter  = "MISSING_PARAMETER"
	CodeForbidden         = "FORBIDDEN"
	CodeNotFound          = "NOT_FOUND"
	CodeTooManyRequests   = "TOO_MANY_REQUESTS"
	CodeInternal          = "INTERNAL_SERVER_ERROR"
)

func writeRestError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]restException{"RestException": {Status: status, Message: msg, Code: code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authenticate requires HTTP basic auth with the API key and token
// (compared in constant time) and the account sid of the credentials.
func (s *Sandbox) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, token, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.APIKey)) != 1 ||
			subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.APIToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="Exotel"`)
			writeRestError(w, http.StatusUnauthorized, CodeUnauthorized, "Authentication failed. Invalid API Key or Token.")
			return
		}
		if chi.URLParam(r, "sid") != s.opts.AccountSID {
			writeRestError(w, http.StatusUnauthorized, CodeInvalidAccountSID, "Account SID is invalid or does not match credentials.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clip bounds a client-supplied string echoed in an error message.
func clip(s string) string {
	const limit = 200
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
