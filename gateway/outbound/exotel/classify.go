package exotel

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Action is what the sender does after a connect failed.
type Action uint8

// Actions. The zero Action is none of them: Classify(nil) returns it.
const (
	// Retry: Exotel placed nothing; send the connect again after a backoff
	// of at least Decision.Delay.
	Retry Action = iota + 1
	// Fail: Exotel refused the call for good and placed nothing; close the
	// call as failed with Decision.Reason. With Decision.Auth, pause every
	// call.
	Fail
	// Unknown: the request was sent and its outcome is unknown; the call
	// may have been placed. Never send it again before looking it up
	// (FindPlaced).
	Unknown
)

func (a Action) String() string {
	switch a {
	case Retry:
		return "retry"
	case Fail:
		return "fail"
	case Unknown:
		return "unknown"
	}
	return "none"
}

// Decision is Classify's verdict on one failed request.
type Decision struct {
	Action Action
	// Auth is set when Exotel refused our credentials, account or caller
	// id (401, 403): every call would fail the same way, so calling is
	// paused and an operator alerted.
	Auth bool
	// Delay is the least wait before the request is sent again (Retry):
	// the answer's Retry-After, or a floor for 429 and 503.
	Delay time.Duration
	// HTTPStatus is Exotel's answer (0 when none came); Code its
	// RestException.Code.
	HTTPStatus int
	Code       string
	// Reason is a short stable text for the queue's LastError, dead
	// letters, metrics and the call's failure reason: "http 400
	// INVALID_PARAMETER", "timeout after sending", "not sent". It never
	// holds phone numbers or the callback URL.
	Reason string
}

// Least waits after Exotel's rate limit (200 calls a minute) and an
// unavailable answer without Retry-After.
const (
	rateLimitDelay   = 2 * time.Second
	unavailableDelay = time.Second
)

// Classify decides what to do after a failed Connect (or lookup). It looks
// through wrapping:
//
//   - *APIError: 401 and 403 Fail with Auth; 429 and 503 Retry (Exotel
//     refused before placing anything), as does 408 (Exotel did not get
//     the whole request); any other 5xx (500, 502, 504) is Unknown (the
//     call may have been placed before the server or a gateway failed);
//     any other status (400, 404, 422, ...) Fails.
//   - ErrInvalid: Fail. ErrNotSent: Retry (nothing left this process
//     whole: a refused connection, DNS, TLS, a timeout before sending).
//   - ErrNoAnswer (a timeout or reset after sending), ErrNoSid, a bare
//     context error and anything else: Unknown, so that no call is ever
//     placed twice by a guess.
//   - nil: the zero Decision.
func Classify(err error) Decision {
	if err == nil {
		return Decision{}
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		return classifyAPIError(ae)
	}
	switch {
	case errors.Is(err, ErrInvalid):
		return Decision{Action: Fail, Reason: "invalid request"}
	case errors.Is(err, ErrNotSent):
		return Decision{Action: Retry, Reason: "not sent"}
	case errors.Is(err, ErrNoSid):
		return Decision{Action: Unknown, Reason: "answer without call sid"}
	case errors.Is(err, ErrNoAnswer) && isTimeout(err):
		return Decision{Action: Unknown, Reason: "timeout after sending"}
	case errors.Is(err, ErrNoAnswer):
		return Decision{Action: Unknown, Reason: "connection lost after sending"}
	case errors.Is(err, context.Canceled):
		return Decision{Action: Unknown, Reason: "canceled"}
	case isTimeout(err):
		return Decision{Action: Unknown, Reason: "timeout"}
	}
	return Decision{Action: Unknown, Reason: "unclassified error"}
}

func classifyAPIError(e *APIError) Decision {
	d := Decision{HTTPStatus: e.HTTPStatus, Code: e.Code, Reason: "http " + strconv.Itoa(e.HTTPStatus)}
	if e.Code != "" {
		d.Reason += " " + e.Code
	}
	switch s := e.HTTPStatus; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		d.Action, d.Auth = Fail, true
	case s == http.StatusTooManyRequests:
		d.Action, d.Delay = Retry, max(e.RetryAfter, rateLimitDelay)
	case s == http.StatusServiceUnavailable:
		d.Action, d.Delay = Retry, max(e.RetryAfter, unavailableDelay)
	case s == http.StatusRequestTimeout:
		d.Action = Retry
	case s >= 500:
		d.Action = Unknown
	default:
		d.Action = Fail
	}
	return d
}

// isTimeout reports a deadline or any error in the chain that says it is a
// timeout (net.Error, http.Client's timeout).
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	t, ok := errors.AsType[interface {
		error
		Timeout() bool
	}](err)
	return ok && t.Timeout()
}
