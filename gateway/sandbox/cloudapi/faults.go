package cloudapi

import (
	"net/http"
	"sync"
)

// Recipient suffixes that trigger failure injection (the last four digits
// of "to"); the package documentation has the table.
const (
	SuffixUndeliverable   = "0001"
	SuffixRateLimited     = "0002"
	SuffixTimeout         = "0003"
	SuffixOutOfOrder      = "0004"
	SuffixReEngagement    = "0005"
	SuffixPairRateLimited = "0006"
	SuffixServerError     = "0007"
	SuffixFailedStatus    = "0008"
)

// outcome is what the send endpoint does with a valid message.
type outcome struct {
	reject *apiError // answer this error, accept nothing
	hold   bool      // hold the request, then drop the connection
	order  []string  // accepted: the statuses to post, in this order
}

var (
	normalOrder     = []string{"sent", "delivered", "read"}
	outOfOrder      = []string{"delivered", "sent", "read"}
	failedAfterSent = []string{"sent", "failed"}
)

// faultBook counts, per recipient and suffix, the sends that have hit an
// "N times, then accept" fault. It is safe for concurrent use.
type faultBook struct {
	mu     sync.Mutex
	counts map[string]int // wa_id -> sends seen
}

func newFaultBook() *faultBook { return &faultBook{counts: map[string]int{}} }

// hit counts one more send to waID and returns the count, starting at 1.
func (f *faultBook) hit(waID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[waID]++
	return f.counts[waID]
}

func (f *faultBook) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts = map[string]int{}
}

// decide applies the failure-injection table to a valid message.
func (f *faultBook) decide(m *validMessage) outcome {
	switch m.waID[len(m.waID)-4:] {
	case SuffixUndeliverable:
		return outcome{reject: &apiError{status: http.StatusBadRequest, code: CodeUndeliverable, title: "Message undeliverable",
			details: "Unable to deliver message. The recipient may not be a WhatsApp user, may not have accepted the latest terms, or uses an outdated WhatsApp version."}}
	case SuffixRateLimited:
		if f.hit(m.waID) <= 2 {
			return outcome{reject: &apiError{status: http.StatusTooManyRequests, code: CodeRateLimit, title: "Rate limit hit",
				details: "Cloud API message throughput has been reached. Try again later or reduce the frequency of messages."}}
		}
	case SuffixTimeout:
		if f.hit(m.waID) <= 1 {
			return outcome{hold: true}
		}
	case SuffixOutOfOrder:
		return outcome{order: outOfOrder}
	case SuffixReEngagement:
		// A template is how a business re-engages, so only free-form
		// messages are refused.
		if m.typ != "template" {
			return outcome{reject: &apiError{status: http.StatusBadRequest, code: CodeReEngagement, title: "Re-engagement message",
				details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}
		}
	case SuffixPairRateLimited:
		if f.hit(m.waID) <= 1 {
			return outcome{reject: &apiError{status: http.StatusBadRequest, code: CodePairRateLimit, title: "(Business Account, Consumer Account) pair rate limit hit",
				details: "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time."}}
		}
	case SuffixServerError:
		switch f.hit(m.waID) {
		case 1:
			return outcome{reject: &apiError{status: http.StatusInternalServerError, code: CodeAPIUnknown, title: "API Unknown",
				details: "Invalid request or possible server error."}}
		case 2:
			return outcome{reject: &apiError{status: http.StatusInternalServerError, code: CodeAPIService, title: "API Service",
				details: "Service temporarily unavailable due to downtime or overload."}}
		}
	case SuffixFailedStatus:
		return outcome{order: failedAfterSent}
	}
	return outcome{order: normalOrder}
}
