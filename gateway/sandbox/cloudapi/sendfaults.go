package cloudapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// SendFault is what an injected failure makes a send to one recipient
// answer, armed for its next N sends (Sandbox.FailSends or
// POST /sandbox/whatsapp/sends/faults). The answers are Meta's, in its
// error format.
type SendFault string

// Send faults.
const (
	// SendServerError answers HTTP 500, code 131000 (Something went wrong).
	SendServerError SendFault = "server_error"
	// SendUnavailable answers HTTP 503, code 2 (API Service).
	SendUnavailable SendFault = "unavailable"
	// SendTimeout holds the request for Options.TimeoutHold (less if the
	// client gives up or Run stops) and drops it unanswered; nothing is
	// sent.
	SendTimeout SendFault = "timeout"
	// SendRejected answers HTTP 400, code 100 (Invalid parameter): a
	// permanent refusal.
	SendRejected SendFault = "rejected"
	// SendRateLimited answers HTTP 400, code 130429 (Cloud API throughput).
	SendRateLimited SendFault = "rate_limit"
	// SendPairRateLimited answers HTTP 400, code 131056 (pair rate limit).
	SendPairRateLimited SendFault = "pair_rate_limit"
	// SendSlow accepts and records the message at once (its callbacks
	// follow) but answers only after the armed delay: a client that dies
	// meanwhile has sent it without knowing.
	SendSlow SendFault = "slow"
)

var sendFaults = []SendFault{SendServerError, SendUnavailable, SendTimeout, SendRejected, SendRateLimited, SendPairRateLimited, SendSlow}

// Bounds of the send fault book.
const (
	maxSendFaultRecipients = 1000
	maxSendAttempts        = 10000 // attempts remembered per recipient
	maxSendDelay           = time.Minute
)

// armedSendFault is the fault armed for one recipient.
type armedSendFault struct {
	fault SendFault
	left  int
	delay time.Duration
}

// SendAttempts is what the sandbox saw of the sends to one recipient that
// had a fault armed: when each send arrived (valid ones, faulted or not,
// oldest first) and the fault still armed.
type SendAttempts struct {
	To       string      `json:"to"`
	Fault    SendFault   `json:"fault,omitempty"`
	Left     int         `json:"left"`
	Attempts []time.Time `json:"attempts"`
}

// sendFaultBook keeps armed send faults and the attempts of their
// recipients. It is safe for concurrent use.
type sendFaultBook struct {
	mu       sync.Mutex
	armed    map[string]armedSendFault
	attempts map[string][]time.Time // recipients that ever had a fault armed
}

func newSendFaultBook() *sendFaultBook {
	return &sendFaultBook{armed: map[string]armedSendFault{}, attempts: map[string][]time.Time{}}
}

func (b *sendFaultBook) arm(waID string, f SendFault, count int, delay time.Duration) error {
	if !slices.Contains(sendFaults, f) || count < 1 || count > maxFaultCount || waID == "" {
		return fmt.Errorf("%w: to must be a wa_id, fault one of %s and count 1 to %d", ErrBadFault, sendFaultNames(), maxFaultCount)
	}
	if (f == SendSlow) != (delay > 0) || delay > maxSendDelay {
		return fmt.Errorf("%w: delayMs is required by slow (1 to %d) and only by it", ErrBadFault, maxSendDelay.Milliseconds())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.attempts[waID]; !ok && len(b.attempts) >= maxSendFaultRecipients {
		return fmt.Errorf("%w: faults were armed for %d recipients already; reset the sandbox", ErrBadFault, maxSendFaultRecipients)
	}
	b.armed[waID] = armedSendFault{fault: f, left: count, delay: delay}
	if b.attempts[waID] == nil {
		b.attempts[waID] = []time.Time{}
	}
	return nil
}

func sendFaultNames() string {
	names := make([]string, len(sendFaults))
	for i, f := range sendFaults {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// take records a send to waID at now and returns the fault it answers
// (zero when none is armed).
func (b *sendFaultBook) take(waID string, now time.Time) armedSendFault {
	b.mu.Lock()
	defer b.mu.Unlock()
	if at, ok := b.attempts[waID]; ok && len(at) < maxSendAttempts {
		b.attempts[waID] = append(at, now)
	}
	a, ok := b.armed[waID]
	if !ok {
		return armedSendFault{}
	}
	if a.left--; a.left == 0 {
		delete(b.armed, waID)
	} else {
		b.armed[waID] = a
	}
	return a
}

func (b *sendFaultBook) state(waID string) SendAttempts {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.armed[waID]
	return SendAttempts{To: waID, Fault: a.fault, Left: a.left, Attempts: slices.Clone(b.attempts[waID])}
}

func (b *sendFaultBook) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed, b.attempts = map[string]armedSendFault{}, map[string][]time.Time{}
}

// answer is the error a refusing fault answers, nil for timeout and slow.
func (f SendFault) answer() *apiError {
	switch f {
	case SendServerError:
		return &apiError{status: http.StatusInternalServerError, code: CodeSomethingWrong, title: "Something went wrong",
			details: "Message failed to send because of an unknown error. Try again later."}
	case SendUnavailable:
		return &apiError{status: http.StatusServiceUnavailable, code: CodeAPIService, title: "API Service",
			details: "Service temporarily unavailable due to downtime or overload."}
	case SendRejected:
		return invalidParam("Param text['body'] is not valid for this recipient.")
	case SendRateLimited:
		return &apiError{status: http.StatusBadRequest, code: CodeRateLimit, title: "Rate limit hit",
			details: "Cloud API message throughput has been reached. Try again later or reduce the frequency of messages."}
	case SendPairRateLimited:
		return &apiError{status: http.StatusBadRequest, code: CodePairRateLimit, title: "(Business Account, Consumer Account) pair rate limit hit",
			details: "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."}
	}
	return nil
}

// FailSends makes the next count sends to waID answer fault (slow ones
// after delay); ErrBadFault otherwise.
func (s *Sandbox) FailSends(waID string, count int, fault SendFault, delay time.Duration) error {
	return s.wa.sendFaults.arm(waID, fault, count, delay)
}

// SendAttempts returns the sends seen for waID since a fault was first
// armed for it.
func (s *Sandbox) SendAttempts(waID string) SendAttempts { return s.wa.sendFaults.state(waID) }

// handleSendFaults is POST /sandbox/whatsapp/sends/faults
// {"to","fault","count","delayMs"}.
func (w *whatsApp) handleSendFaults(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 4<<10))
	var req struct {
		To      string    `json:"to"`
		Fault   SendFault `json:"fault"`
		Count   int       `json:"count"`
		DelayMs int64     `json:"delayMs"`
	}
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	if err != nil {
		writeValidation(rw, "", `request body must be {"to":"<wa_id>","fault":"...","count":N[,"delayMs":M]}`)
		return
	}
	if req.DelayMs < 0 || req.DelayMs > maxSendDelay.Milliseconds() {
		writeValidation(rw, "delayMs", fmt.Sprintf("delayMs must be 0 to %d", maxSendDelay.Milliseconds()))
		return
	}
	if err := w.sendFaults.arm(req.To, req.Fault, req.Count, time.Duration(req.DelayMs)*time.Millisecond); err != nil {
		writeValidation(rw, "fault", strings.TrimPrefix(err.Error(), ErrBadFault.Error()+": "))
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"status": "success", "data": req})
}

// handleSendAttempts is GET /sandbox/whatsapp/sends/faults?to=<wa_id>.
func (w *whatsApp) handleSendAttempts(rw http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	if to == "" {
		writeValidation(rw, "to", "to is required: the recipient's wa_id")
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"status": "success", "data": w.sendFaults.state(to)})
}
