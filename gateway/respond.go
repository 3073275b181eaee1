package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// Error codes of the contract.
const (
	CodeValidation   = "VALIDATION_ERROR"
	CodeInvalidJSON  = "INVALID_JSON"
	CodeUnauthorized = "UNAUTHORIZED"
	CodeTokenExpired = "TOKEN_EXPIRED"
	CodeTokenRevoked = "TOKEN_REVOKED"
	// CodeAccountDisabled answers a login with the right password to an
	// account an admin disabled (401).
	CodeAccountDisabled = "ACCOUNT_DISABLED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeMethodNotAllow  = "METHOD_NOT_ALLOWED"
	CodeConflict        = "CONFLICT"
	CodeTooLarge        = "PAYLOAD_TOO_LARGE"
	CodeUnsupported     = "UNSUPPORTED_MEDIA_TYPE"
	CodeRateLimited     = "RATE_LIMITED"
	CodeUnavailable     = "DEPENDENCY_UNAVAILABLE"
	CodeInternal        = "INTERNAL_ERROR"
)

// FieldError is one entry of a validation failure's errors list.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

// apiError is an error the edge turns into the contract's envelope.
type apiError struct {
	Status  int
	Code    string
	Message string
	Fields  []FieldError
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter time.Duration
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message}
}

// validationError collects field errors; nil while empty.
type validationError struct{ fields []FieldError }

func (v *validationError) add(field, code, message string) {
	v.fields = append(v.fields, FieldError{Field: field, Message: message, Code: code})
}

func (v *validationError) err() *apiError {
	if len(v.fields) == 0 {
		return nil
	}
	return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: "request is invalid", Fields: v.fields}
}

type successEnvelope struct {
	Status string `json:"status"`
	Data   any    `json:"data"`
}

type errorEnvelope struct {
	Status    string       `json:"status"`
	Message   string       `json:"message"`
	Code      string       `json:"code"`
	Errors    []FieldError `json:"errors,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
}

// listPage is the data of every paged list.
type listPage[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
	Page  int `json:"page"`
	Limit int `json:"limit"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	buf, err := json.Marshal(body)
	if err != nil {
		// Our own response types always marshal; reaching here is a bug.
		panic("marshal response: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(status)
	_, _ = w.Write(buf)
}

func writeData(w http.ResponseWriter, status int, data any) {
	writeJSON(w, status, successEnvelope{Status: "success", Data: data})
}

// retryUnavailable is the Retry-After of a 503 that names none: a
// dependency that is down is retried after a short pause.
const retryUnavailable = 5 * time.Second

// writeError writes e in the contract's envelope. 5xx answers carry the
// request id and a fixed message, never internals; 401 answers carry a
// Bearer WWW-Authenticate challenge, and 503 answers a Retry-After (5 s
// unless e says otherwise).
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	env := errorEnvelope{Status: "error", Message: e.Message, Code: e.Code, Errors: e.Fields}
	if e.Status >= 500 {
		env.RequestID = requestIDFrom(r.Context())
	}
	if e.Status == http.StatusUnauthorized {
		// RFC 9110 section 15.5.2: a 401 carries its challenge (RFC 6750).
		w.Header().Set("WWW-Authenticate", `Bearer realm="wacc-engine"`)
	}
	retry := e.RetryAfter
	if e.Status == http.StatusServiceUnavailable && retry <= 0 {
		retry = retryUnavailable
	}
	if retry > 0 {
		secs := int((retry + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSON(w, e.Status, env)
}

// fail maps any error to the envelope: *apiError as it is; anything else is
// logged with the request id and answered 500 (or 503 when a dependency is
// unavailable) without internals.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if ae, ok := err.(*apiError); ok {
		writeError(w, r, ae)
		return
	}
	if isUnavailable(err) {
		s.log.Warn("dependency unavailable", zap.String("request_id", requestIDFrom(r.Context())), zap.Error(err))
		writeError(w, r, errf(http.StatusServiceUnavailable, CodeUnavailable, "a dependency is unavailable, retry later"))
		return
	}
	s.log.Error("request failed", zap.String("request_id", requestIDFrom(r.Context())), zap.String("route", routePattern(r)), zap.Error(err))
	writeError(w, r, errf(http.StatusInternalServerError, CodeInternal, "internal error"))
}
