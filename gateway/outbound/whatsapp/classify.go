package whatsapp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/wacc/engine/actors"
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
	// NumberWide says the business number's throughput is spent (130429):
	// hold back every send from it for Delay.
	NumberWide bool
}

// httpTooManyDelay is the least wait after an HTTP 429 that carries no
// Meta error code (a proxy's, not Meta's).
const httpTooManyDelay = time.Second

// actionOf maps the table's actions to the sender's.
var actionOf = map[actors.ErrorAction]Action{
	actors.ErrorRetry:          Retry,
	actors.ErrorFail:           Fail,
	actors.ErrorPauseNumber:    PauseNumber,
	actors.ErrorPauseRecipient: PauseRecipient,
}

// Classify decides what to do after a failed send. It looks through
// wrapping (errors.As/Is), so errors from Client.Send and Shaper.Wait can
// be passed as they are:
//
//   - *APIError with a Meta error code: the decision of the engine's one
//     table of codes (actors.WhatsAppErrorRule), the same table the
//     conversations apply to a failed status's errors[]. The HTTP status
//     plays no part: a code not in the table fails as "unknown code N"
//     whatever the status.
//   - *APIError without a code (an answer that is not Meta's error
//     object: a proxy's 502, a gateway's 429): Retry on HTTP 5xx and 429,
//     otherwise Fail with Reason "http N".
//   - ErrTransport, timeouts, context.DeadlineExceeded and
//     context.Canceled: Retry.
//   - ErrNoMessageID: Fail (Meta accepted the request; a retry could send
//     it twice). ErrNoMediaID: Retry (a second upload costs only a copy).
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
	case errors.Is(err, ErrNoMediaID):
		return Decision{Action: Retry, Code: NoCode, Reason: "upload response without media id"}
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
	if e.Code != NoCode {
		rule, ok := actors.WhatsAppErrorRule(e.Code)
		if !ok {
			rule = actors.UnknownErrorRule(e.Code)
		}
		return Decision{Action: actionOf[rule.Action], Delay: rule.Delay, Code: e.Code, Reason: rule.Reason,
			WindowClosed: rule.WindowClosed, RecipientOnly: rule.RecipientOnly, NumberWide: rule.NumberWide}
	}
	d := Decision{Code: NoCode, Reason: "http " + strconv.Itoa(e.HTTPStatus)}
	switch {
	case e.HTTPStatus >= 500:
		d.Action = Retry
	case e.HTTPStatus == http.StatusTooManyRequests:
		d.Action, d.Delay = Retry, httpTooManyDelay
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
