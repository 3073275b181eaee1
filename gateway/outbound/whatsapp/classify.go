package whatsapp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Action is what the sender does with a message whose send failed.
type Action uint8

// Actions. The zero Action is none of them: Classify(nil) returns it.
const (
	// Retry: requeue the message after Backoff(attempt, Decision.Delay).
	Retry Action = iota + 1
	// Fail: do not retry; record the message as failed with
	// Decision.Code.
	Fail
	// PauseNumber: the business number cannot send (token or account
	// problem). Pause it (Shaper.PauseNumber) for Decision.Delay, write an
	// error log and a metric, and requeue the message: it is not at fault.
	PauseNumber
	// PauseRecipient: Meta refuses more messages to this recipient for
	// now. Pause the recipient on this number (Shaper.PauseRecipient) for
	// Decision.Delay and requeue the message after it.
	PauseRecipient
)

func (a Action) String() string {
	switch a {
	case Retry:
		return "retry"
	case Fail:
		return "fail"
	case PauseNumber:
		return "pause_number"
	case PauseRecipient:
		return "pause_recipient"
	}
	return "none"
}

// Decision is Classify's verdict on one failed send.
type Decision struct {
	Action Action
	// Delay is the least the sender waits before this message (Retry,
	// PauseRecipient) or this number (PauseNumber) is tried again; feed it
	// to Backoff as min. Zero for Fail.
	Delay time.Duration
	// Code is Meta's error code, or NoCode when the error carried none.
	Code int
	// Reason is a short stable text for the queue's LastError, dead
	// letters and metrics labels: "131047 re-engagement window closed",
	// "unknown code 12345", "http 503", "transport error". It never holds
	// message bodies or phone numbers.
	Reason string
	// WindowClosed is set on 131047: the 24-hour customer service window
	// is closed, and the caller marks the conversation expired.
	WindowClosed bool
	// RecipientOnly says the limit concerns this recipient alone (131056,
	// 131048, 131049): hold back that recipient, not the business number.
	RecipientOnly bool
}

// Minimum delays Classify hands out.
const (
	throughputDelay  = time.Second      // 130429: the per-second budget refills
	pairRateDelay    = 6 * time.Second  // 131056: about 1 message per 6 s per pair
	appLimitDelay    = 30 * time.Second // 4, 80007: rolling-hour call limits
	tokenPauseDelay  = 5 * time.Minute  // 0, 190: until the token is fixed
	accountPause     = 30 * time.Minute // 368, 131031, 131042: needs a person
	recipientPause   = 4 * time.Hour    // 131048, 131049
	httpTooManyDelay = time.Second      // HTTP 429 without a known code
)

// rules maps Meta's error codes to decisions (Code is filled in by
// Classify). Codes not listed are unknown: Fail, unless the HTTP status is
// 5xx or 429.
var rules = map[int]Decision{
	// Retry with backoff.
	130429: {Action: Retry, Delay: throughputDelay, Reason: "130429 throughput limit"},
	131056: {Action: Retry, Delay: pairRateDelay, Reason: "131056 pair rate limit", RecipientOnly: true},
	4:      {Action: Retry, Delay: appLimitDelay, Reason: "4 app call limit"},
	80007:  {Action: Retry, Delay: appLimitDelay, Reason: "80007 account rate limit"},
	1:      {Action: Retry, Reason: "1 api unknown error"},
	2:      {Action: Retry, Reason: "2 api service unavailable"},
	131000: {Action: Retry, Reason: "131000 something went wrong"},
	131016: {Action: Retry, Reason: "131016 service unavailable"},

	// Fail for good.
	131047: {Action: Fail, Reason: "131047 re-engagement window closed", WindowClosed: true},
	131026: {Action: Fail, Reason: "131026 message undeliverable"},
	100:    {Action: Fail, Reason: "100 invalid parameter"},
	132000: {Action: Fail, Reason: "132000 template parameter count mismatch"},
	132001: {Action: Fail, Reason: "132001 template does not exist"},
	131051: {Action: Fail, Reason: "131051 unsupported message type"},
	130472: {Action: Fail, Reason: "130472 recipient in experiment"},

	// Pause the business number.
	0:      {Action: PauseNumber, Delay: tokenPauseDelay, Reason: "0 auth exception"},
	190:    {Action: PauseNumber, Delay: tokenPauseDelay, Reason: "190 access token expired"},
	368:    {Action: PauseNumber, Delay: accountPause, Reason: "368 blocked for policy violations"},
	131031: {Action: PauseNumber, Delay: accountPause, Reason: "131031 account locked"},
	131042: {Action: PauseNumber, Delay: accountPause, Reason: "131042 business payment issue"},

	// Pause the recipient.
	131048: {Action: PauseRecipient, Delay: recipientPause, Reason: "131048 spam rate limit", RecipientOnly: true},
	131049: {Action: PauseRecipient, Delay: recipientPause, Reason: "131049 ecosystem engagement limit", RecipientOnly: true},
}

// Classify decides what to do after a failed send. It looks through
// wrapping (errors.As/Is), so errors from Client.Send and Shaper.Wait can
// be passed as they are:
//
//   - *APIError with a code in the table: that code's decision, whatever
//     the HTTP status.
//   - *APIError with an unknown code or none: Retry on HTTP 5xx and 429,
//     otherwise Fail with Reason "unknown code N" (or "http N" without a
//     code).
//   - ErrTransport, timeouts, context.DeadlineExceeded and
//     context.Canceled: Retry.
//   - ErrNoMessageID: Fail (Meta accepted the request; a retry could send
//     it twice).
//   - *PausedError: Retry with Delay the pause's remaining time.
//   - ErrBudgetUnavailable: Retry.
//   - nil: the zero Decision. Anything else: Fail, "unclassified error".
func Classify(err error) Decision {
	if err == nil {
		return Decision{}
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		return classifyAPIError(ae)
	}
	if pe, ok := errors.AsType[*PausedError](err); ok {
		reason := "number paused"
		if pe.Recipient {
			reason = "recipient paused"
		}
		return Decision{Action: Retry, Delay: pe.Remaining, Code: NoCode, Reason: reason, RecipientOnly: pe.Recipient}
	}
	switch {
	case errors.Is(err, ErrNoMessageID):
		return Decision{Action: Fail, Code: NoCode, Reason: "response without message id"}
	case isTimeout(err):
		return Decision{Action: Retry, Code: NoCode, Reason: "timeout"}
	case errors.Is(err, context.Canceled):
		return Decision{Action: Retry, Code: NoCode, Reason: "canceled"}
	case errors.Is(err, ErrTransport):
		return Decision{Action: Retry, Code: NoCode, Reason: "transport error"}
	case errors.Is(err, ErrBudgetUnavailable):
		return Decision{Action: Retry, Code: NoCode, Reason: "rate budget unavailable"}
	}
	return Decision{Action: Fail, Code: NoCode, Reason: "unclassified error"}
}

func classifyAPIError(e *APIError) Decision {
	if d, ok := rules[e.Code]; ok {
		d.Code = e.Code
		return d
	}
	d := Decision{Code: e.Code}
	switch {
	case e.HTTPStatus >= 500:
		d.Action = Retry
	case e.HTTPStatus == http.StatusTooManyRequests:
		d.Action, d.Delay = Retry, httpTooManyDelay
	default:
		d.Action = Fail
	}
	if e.Code == NoCode {
		d.Reason = "http " + strconv.Itoa(e.HTTPStatus)
	} else {
		d.Reason = "unknown code " + strconv.Itoa(e.Code)
		if d.Action == Retry {
			d.Reason = "http " + strconv.Itoa(e.HTTPStatus) + " " + d.Reason
		}
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
