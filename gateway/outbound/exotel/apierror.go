package exotel

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors of the client (matched with errors.Is). Classify turns each into
// a Decision.
var (
	// ErrInvalid means the request was refused before it was sent (an empty
	// or too long call id, a time limit above 14400 s): nothing was placed,
	// and sending it again would not help.
	ErrInvalid = errors.New("exotel request invalid")
	// ErrNotSent means no byte of the request reached Exotel whole (DNS,
	// a refused connection, TLS, a timeout before the request was written):
	// nothing was placed; it may be sent again.
	ErrNotSent = errors.New("exotel request not sent")
	// ErrNoAnswer means the request was sent but no answer came (a timeout,
	// a reset or dropped connection, an unreadable answer): Exotel may
	// have acted on it. For a connect, the call may have been placed.
	ErrNoAnswer = errors.New("exotel request sent, no answer")
	// ErrNoSid means Exotel answered a connect 2xx without a Call.Sid: it
	// accepted something, so the call may have been placed.
	ErrNoSid = errors.New("exotel connect answer without a call sid")
)

// APIError is a non-2xx answer of Exotel, decoded from its error body
// {"RestException":{"Status":400,"Message":"...","Code":"..."}}. Fields
// Exotel did not send are zero.
type APIError struct {
	HTTPStatus int
	// Status is RestException.Status (usually HTTPStatus).
	Status int
	// Code is RestException.Code, e.g. "UNAUTHORIZED"; Exotel sends
	// strings and numbers, both kept as text.
	Code    string
	Message string
	// RetryAfter is the answer's Retry-After, zero when absent.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("exotel api: http ")
	b.WriteString(strconv.Itoa(e.HTTPStatus))
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// maxMessage bounds the error text kept from an answer.
const maxMessage = 300

// decodeAPIError turns a non-2xx answer into an *APIError. It never fails:
// a body that is not Exotel's error object (a proxy's page) gives only the
// HTTP status.
func decodeAPIError(status int, retryAfter string, raw []byte) *APIError {
	e := &APIError{HTTPStatus: status, RetryAfter: parseRetryAfter(retryAfter)}
	var env struct {
		RestException *struct {
			Status  json.RawMessage `json:"Status"`
			Message string          `json:"Message"`
			Code    json.RawMessage `json:"Code"`
		} `json:"RestException"`
	}
	if json.Unmarshal(raw, &env) != nil || env.RestException == nil {
		return e
	}
	re := env.RestException
	e.Status, _ = strconv.Atoi(rawText(re.Status))
	e.Code = rawText(re.Code)
	e.Message = re.Message
	if len(e.Message) > maxMessage {
		e.Message = e.Message[:maxMessage] + "..."
	}
	return e
}

// rawText is a JSON string's text or a number's digits; "" otherwise.
func rawText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// parseRetryAfter reads a Retry-After of whole seconds; anything else is 0.
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, time.Hour)
}

// unwrapURLError drops *url.Error's "Post <url>:" prefix (the URL would
// repeat the account sid) but keeps what it wraps, so errors.Is still
// finds context.DeadlineExceeded and a timeout still reports Timeout.
func unwrapURLError(err error) error {
	ue, ok := errors.AsType[*url.Error](err)
	if !ok {
		return err
	}
	if ue.Timeout() {
		return &timeoutError{err: ue.Err}
	}
	return ue.Err
}

// timeoutError marks a transport error that was a timeout, whatever the
// underlying type (http.Client's timeout is an unexported type).
type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return "timeout: " + e.err.Error() }
func (e *timeoutError) Unwrap() error { return e.err }
func (e *timeoutError) Timeout() bool { return true }
