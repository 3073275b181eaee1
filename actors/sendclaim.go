package actors

import "time"

// SendClaimState is what a claim of a send found on its message
// (OutboundStore.ClaimSend).
type SendClaimState int

// The states a ClaimSend reports.
const (
	// SendClaimed: the message was queued and unclaimed (or its claim was
	// released); the caller holds the claim now and makes the call.
	SendClaimed SendClaimState = iota + 1
	// SendNotQueued: the message is no longer queued (sent or failed): a
	// redelivery, nothing to send. The message is left as it was.
	SendNotQueued
	// SendInFlight: another holder's claim is still under its lease: the
	// same message is being sent right now. The message is left as it was.
	SendInFlight
	// SendOutcomeUnknown: a claim whose lease ran out (or was settled at
	// start-up) was found: its holder died during its call to the Cloud
	// API, which may have the message. The caller took the claim over (so
	// of concurrent callers only one sees this) and must not send again.
	SendOutcomeUnknown
)

// SendClaim is the answer of OutboundStore.ClaimSend.
type SendClaim struct {
	State SendClaimState
	// ClaimedAt is when the claim the caller now holds was first made: the
	// claim's own time for SendClaimed, the dead holder's for
	// SendOutcomeUnknown; zero otherwise.
	ClaimedAt time.Time
}
