package exotel

import (
	"fmt"
	"sync"
)

// Outcome is how a placed call ends, chosen by the customer (To) number's
// last four digits; the package documentation has the table.
type Outcome string

const (
	OutcomeCompleted      Outcome = "completed"
	OutcomeBusy           Outcome = "busy"
	OutcomeNoAnswer       Outcome = "no-answer"
	OutcomeFailed         Outcome = "failed"
	OutcomeLostTerminal   Outcome = "lost-terminal"   // completed, but the terminal callback never comes
	OutcomeConnectTimeout Outcome = "connect-timeout" // completed, but the connect request is never answered
)

// Customer-number suffixes that choose an outcome.
const (
	SuffixBusy           = "0005"
	SuffixNoAnswer       = "0006"
	SuffixFailed         = "0007"
	SuffixLostTerminal   = "0008"
	SuffixConnectTimeout = "0009"
)

// outcomeFor applies the suffix table to the customer number's digits.
func outcomeFor(toDigits string) Outcome {
	switch toDigits[len(toDigits)-4:] {
	case SuffixBusy:
		return OutcomeBusy
	case SuffixNoAnswer:
		return OutcomeNoAnswer
	case SuffixFailed:
		return OutcomeFailed
	case SuffixLostTerminal:
		return OutcomeLostTerminal
	case SuffixConnectTimeout:
		return OutcomeConnectTimeout
	}
	return OutcomeCompleted
}

// finalStatus is the Status Exotel reports once the call is over.
func (o Outcome) finalStatus() string {
	switch o {
	case OutcomeBusy, OutcomeNoAnswer, OutcomeFailed:
		return string(o)
	}
	return "completed"
}

// answered tells whether both legs talked.
func (o Outcome) answered() bool {
	return o == OutcomeCompleted || o == OutcomeLostTerminal || o == OutcomeConnectTimeout
}

// Fault is a failure armed for the next connect requests, before any call
// is placed (unlike the 0009 suffix, which places the call).
type Fault string

const (
	FaultNone        Fault = ""
	FaultServerError Fault = "server_error" // 500 with a RestException body
	FaultUnavailable Fault = "unavailable"  // 503
	FaultRateLimit   Fault = "rate_limit"   // 429, Exotel's answer past 200 requests a minute
	FaultTimeout     Fault = "timeout"      // held, then the connection dropped; no call placed
)

// ParseFault reads a fault name; "" and "none" disarm.
func ParseFault(name string) (Fault, error) {
	switch f := Fault(name); f {
	case FaultServerError, FaultUnavailable, FaultRateLimit, FaultTimeout:
		return f, nil
	case FaultNone, "none":
		return FaultNone, nil
	}
	return FaultNone, fmt.Errorf("unknown fault %q: want server_error, unavailable, rate_limit, timeout or none", name)
}

// faultBook holds the armed fault and how many more connects it hits. It
// is safe for concurrent use.
type faultBook struct {
	mu    sync.Mutex
	fault Fault
	left  int
}

func (f *faultBook) arm(fault Fault, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fault == FaultNone || n <= 0 {
		f.fault, f.left = FaultNone, 0
		return
	}
	f.fault, f.left = fault, n
}

// take returns the fault for this connect request and counts it.
func (f *faultBook) take() Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.left == 0 {
		return FaultNone
	}
	f.left--
	fault := f.fault
	if f.left == 0 {
		f.fault = FaultNone
	}
	return fault
}

// armed returns the armed fault and the connects it still hits.
func (f *faultBook) armed() (Fault, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fault, f.left
}

// ArmFault makes the next n connect requests fail with fault (FaultNone or
// n <= 0 disarms). Requests refused by auth or field checks do not count.
func (s *Sandbox) ArmFault(fault Fault, n int) { s.faults.arm(fault, n) }
