package actors

import (
	"strconv"
	"time"
)

// ErrorAction is what a WhatsApp error code asks of the engine.
type ErrorAction uint8

// Error actions. The zero ErrorAction is none: a code the table does not
// know.
const (
	// ErrorRetry: the send may succeed later; try it again after Delay.
	ErrorRetry ErrorAction = iota + 1
	// ErrorFail: the message is failed for good.
	ErrorFail
	// ErrorPauseNumber: the business number cannot send (token, payment,
	// lock, policy block) until a person acts. Pause the number for Delay
	// and alert the operators.
	ErrorPauseNumber
	// ErrorPauseRecipient: Meta refuses more messages to this recipient
	// from this number for now. Pause that recipient for Delay.
	ErrorPauseRecipient
)

// Failure kinds: what an agent or an operator can act on, the same for an
// error WhatsApp answered to the send and for one it reported later in a
// failed status (WhatsAppError.Kind).
const (
	FailureWindowClosed     = "window_closed"     // 131047: only a template can reach the customer now
	FailureUndeliverable    = "undeliverable"     // 131026: not on WhatsApp, or cannot receive
	FailureRecipientLimited = "recipient_limited" // 131048, 131049, 131056: that recipient is paused
	FailureNumberBlocked    = "number_blocked"    // 0, 190, 368, 131031, 131042: the number is paused
	FailureTemplate         = "template"          // 132xxx: the template is unusable as sent
	FailureMedia            = "media"             // 131052, 131053: the media could not be handled
	FailureRejected         = "rejected"          // 100, 131051, 130472, unknown codes: not sent
	FailureTransient        = "transient"         // retried codes, once they are out of attempts
)

// ErrorRule is the table's entry for one of Meta's error codes: what the
// engine does about it and what it tells people. It is the same whether
// the code came back from the send (synchronous) or in a failed status
// webhook (asynchronous).
type ErrorRule struct {
	Action ErrorAction
	// Delay is the least wait before this message (ErrorRetry), this
	// recipient (ErrorPauseRecipient) or this number (ErrorPauseNumber)
	// is tried again. Zero for ErrorFail.
	Delay time.Duration
	// Reason is a short stable text for logs, the queue's LastError, dead
	// letters and metric labels ("131047 re-engagement window closed"). It
	// never holds message bodies or phone numbers.
	Reason string
	// Kind is one of the Failure kinds.
	Kind string
	// AgentReason says, in words an agent can act on, why the message
	// failed and what to do.
	AgentReason string
	// WindowClosed (131047): the customer-service window is closed; the
	// conversation becomes expired (templates only) and its agent is told.
	WindowClosed bool
	// RecipientOnly: the limit concerns this recipient alone (131048,
	// 131049, 131056), not the business number.
	RecipientOnly bool
	// NumberWide (130429): the business number's throughput is spent; every
	// send from it waits out Delay, not only the refused one, so its
	// queued sends do not all come back at once (a retry storm).
	NumberWide bool
	// TemplateUnusable (132xxx): the template as sent cannot be used; the
	// template registry is told.
	TemplateUnusable bool
	// OperatorAlert: a person must act on the business account (every
	// ErrorPauseNumber code): an error log, a metric and a notification to
	// every admin and supervisor.
	OperatorAlert bool
}

// Minimum delays of the table.
const (
	throughputDelay = time.Second      // 130429: the per-second budget refills
	pairRateDelay   = 6 * time.Second  // 131056: about 1 message per 6 s per pair
	appLimitDelay   = 30 * time.Second // 4, 80007: rolling-hour call limits
	tokenPauseDelay = 5 * time.Minute  // 0, 190: until the token is fixed
	accountPause    = 30 * time.Minute // 368, 131031, 131042: needs a person
	recipientPause  = 4 * time.Hour    // 131048, 131049
)

// Agent-facing reasons shared by several codes.
const (
	reasonTemplate = "WhatsApp refused the template as sent; it is marked unusable until it is fixed. Send another template or fix this one."
	reasonNumber   = "The business number cannot send right now; an administrator has been alerted. Sends from this number are paused."
	reasonMedia    = "WhatsApp could not handle the media of this message; check the file's type and size, upload it again and resend."
	reasonRetry    = "WhatsApp could not take the message for now and the engine stopped retrying; send it again later."
	reasonRejected = "WhatsApp rejected the message; it was not sent."
)

// errorRules maps Meta's error codes to rules. The codes and their meaning
// are Meta's error-code reference
// (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes):
// Meta asks integrations to branch on the code (and details), never on the
// HTTP status or the title, and the same code may come back synchronously
// from the send or later in a failed status's errors[].
var errorRules = map[int]ErrorRule{
	// Retry with backoff.
	130429: {Action: ErrorRetry, Delay: throughputDelay, Reason: "130429 throughput limit", Kind: FailureTransient, NumberWide: true, AgentReason: reasonRetry},
	131056: {Action: ErrorRetry, Delay: pairRateDelay, Reason: "131056 pair rate limit", Kind: FailureRecipientLimited, RecipientOnly: true,
		AgentReason: "Too many messages to this customer in a short time; sends to them are paused briefly. Send it again in a minute."},
	4:      {Action: ErrorRetry, Delay: appLimitDelay, Reason: "4 app call limit", Kind: FailureTransient, AgentReason: reasonRetry},
	80007:  {Action: ErrorRetry, Delay: appLimitDelay, Reason: "80007 account rate limit", Kind: FailureTransient, AgentReason: reasonRetry},
	1:      {Action: ErrorRetry, Reason: "1 api unknown error", Kind: FailureTransient, AgentReason: reasonRetry},
	2:      {Action: ErrorRetry, Reason: "2 api service unavailable", Kind: FailureTransient, AgentReason: reasonRetry},
	131000: {Action: ErrorRetry, Reason: "131000 something went wrong", Kind: FailureTransient, AgentReason: reasonRetry},
	131016: {Action: ErrorRetry, Reason: "131016 service unavailable", Kind: FailureTransient, AgentReason: reasonRetry},

	// Fail for good.
	131047: {Action: ErrorFail, Reason: "131047 re-engagement window closed", Kind: FailureWindowClosed, WindowClosed: true,
		AgentReason: "More than 24 hours since the customer last wrote: only a template can reach them now."},
	131026: {Action: ErrorFail, Reason: "131026 message undeliverable", Kind: FailureUndeliverable,
		AgentReason: "The number is not on WhatsApp or cannot receive messages; check the number or use another channel."},
	100:    {Action: ErrorFail, Reason: "100 invalid parameter", Kind: FailureRejected, AgentReason: reasonRejected},
	131051: {Action: ErrorFail, Reason: "131051 unsupported message type", Kind: FailureRejected, AgentReason: reasonRejected},
	130472: {Action: ErrorFail, Reason: "130472 recipient in experiment", Kind: FailureRejected,
		AgentReason: "WhatsApp held this message back because the customer is part of a Meta experiment; try a template or another channel."},
	131052: {Action: ErrorFail, Reason: "131052 media download error", Kind: FailureMedia, AgentReason: reasonMedia},
	131053: {Action: ErrorFail, Reason: "131053 media upload error", Kind: FailureMedia, AgentReason: reasonMedia},

	// The template is unusable as sent.
	132000: {Action: ErrorFail, Reason: "132000 template parameter count mismatch", Kind: FailureTemplate, TemplateUnusable: true, AgentReason: reasonTemplate},
	132001: {Action: ErrorFail, Reason: "132001 template does not exist", Kind: FailureTemplate, TemplateUnusable: true, AgentReason: reasonTemplate},
	132005: {Action: ErrorFail, Reason: "132005 translated text too long", Kind: FailureTemplate, TemplateUnusable: true, AgentReason: reasonTemplate},
	132007: {Action: ErrorFail, Reason: "132007 template format character policy violated", Kind: FailureTemplate, TemplateUnusable: true, AgentReason: reasonTemplate},
	132012: {Action: ErrorFail, Reason: "132012 template parameter format mismatch", Kind: FailureTemplate, TemplateUnusable: true, AgentReason: reasonTemplate},
	132015: {Action: ErrorFail, Reason: "132015 template is paused", Kind: FailureTemplate, TemplateUnusable: true, AgentReason: reasonTemplate},
	132016: {Action: ErrorFail, Reason: "132016 template is disabled", Kind: FailureTemplate, TemplateUnusable: true, AgentReason: reasonTemplate},

	// Pause the business number and alert the operators.
	0:      {Action: ErrorPauseNumber, Delay: tokenPauseDelay, Reason: "0 auth exception", Kind: FailureNumberBlocked, OperatorAlert: true, AgentReason: reasonNumber},
	190:    {Action: ErrorPauseNumber, Delay: tokenPauseDelay, Reason: "190 access token expired", Kind: FailureNumberBlocked, OperatorAlert: true, AgentReason: reasonNumber},
	368:    {Action: ErrorPauseNumber, Delay: accountPause, Reason: "368 blocked for policy violations", Kind: FailureNumberBlocked, OperatorAlert: true, AgentReason: reasonNumber},
	131031: {Action: ErrorPauseNumber, Delay: accountPause, Reason: "131031 account locked", Kind: FailureNumberBlocked, OperatorAlert: true, AgentReason: reasonNumber},
	131042: {Action: ErrorPauseNumber, Delay: accountPause, Reason: "131042 business payment issue", Kind: FailureNumberBlocked, OperatorAlert: true, AgentReason: reasonNumber},

	// Pause the recipient.
	131048: {Action: ErrorPauseRecipient, Delay: recipientPause, Reason: "131048 spam rate limit", Kind: FailureRecipientLimited, RecipientOnly: true,
		AgentReason: "WhatsApp limits messages to this customer because earlier ones were flagged as spam; sends to them are paused for a few hours."},
	131049: {Action: ErrorPauseRecipient, Delay: recipientPause, Reason: "131049 ecosystem engagement limit", Kind: FailureRecipientLimited, RecipientOnly: true,
		AgentReason: "WhatsApp held this message back to keep the customer's engagement healthy; sends to them are paused for a few hours."},
}

// WhatsAppErrorRule returns the table's rule for Meta's error code; ok is
// false for a code the table does not know.
func WhatsAppErrorRule(code int) (rule ErrorRule, ok bool) {
	rule, ok = errorRules[code]
	return rule, ok
}

// WhatsAppErrorCodes returns every code of the table (in no order), for
// tests that cover each one.
func WhatsAppErrorCodes() []int {
	codes := make([]int, 0, len(errorRules))
	for c := range errorRules {
		codes = append(codes, c)
	}
	return codes
}

// UnknownErrorRule is the rule of a code the table does not know: the
// message fails, whatever the HTTP status it came with.
func UnknownErrorRule(code int) ErrorRule {
	return ErrorRule{Action: ErrorFail, Reason: "unknown code " + strconv.Itoa(code), Kind: FailureRejected, AgentReason: reasonRejected}
}

// Explained returns e with Kind and Reason filled in from the table (an
// unknown code is FailureRejected). Kind and Reason already set are kept.
func (e WhatsAppError) Explained() WhatsAppError {
	rule, ok := WhatsAppErrorRule(e.Code)
	if !ok {
		rule = UnknownErrorRule(e.Code)
	}
	if e.Kind == "" {
		e.Kind = rule.Kind
	}
	if e.Reason == "" {
		e.Reason = rule.AgentReason
	}
	return e
}
