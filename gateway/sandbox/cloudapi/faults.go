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
	reject *apiError    // answer this error, accept nothing
	hold   bool         // hold the request, then drop the connection
	order  []statusStep // accepted: the statuses to post, in this order
}

var (
	normalOrder = []statusStep{{status: "sent"}, {status: "delivered"}, {status: "read"}}
	outOfOrder  = []statusStep{{status: "delivered"}, {status: "sent"}, {status: "read"}}
	// Meta accepts these sends and reports the failure only by webhook.
	failedUnsupported   = []statusStep{{status: "sent"}, {status: "failed", err: &errUnsupportedType}}
	failedUndeliverable = []statusStep{{status: "failed", err: &errUndeliverable}}
	failedReEngagement  = []statusStep{{status: "failed", err: &errReEngagement}}
	failedMediaUpload   = []statusStep{{status: "failed", err: &errMediaUpload}}
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

// decide applies the failure-injection table to a valid message. Faults
// Meta reports synchronously are answered; those it reports by webhook
// are accepted and fail in their status callbacks.
func (f *faultBook) decide(m *validMessage) outcome {
	switch m.waID[len(m.waID)-4:] {
	case SuffixUndeliverable:
		return outcome{order: failedUndeliverable}
	case SuffixRateLimited:
		if f.hit(m.waID) <= 2 {
			return outcome{reject: &apiError{status: http.StatusBadRequest, code: CodeRateLimit, title: "Rate limit hit",
				details: "Cloud API message throughput has been reached. Try again later or reduce the frequency of messages."}}
		}
	case SuffixTimeout:
		if f.hit(m.waID) <= 1 {
			return outcome{hold: true}
		}
	case SuffixOutOfOrder:
		return outcome{order: outOfOrder}
	case SuffixReEngagement:
		// The window is closed for this customer whatever they sent; a
		// template is how a business re-engages, so it is delivered.
		if m.typ != "template" {
			return outcome{order: failedReEngagement}
		}
	case SuffixPairRateLimited:
		if f.hit(m.waID) <= 1 {
			return outcome{reject: &apiError{status: http.StatusBadRequest, code: CodePairRateLimit, title: "(Business Account, Consumer Account) pair rate limit hit",
				details: "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."}}
		}
	case SuffixServerError:
		switch f.hit(m.waID) {
		case 1:
			return outcome{reject: &apiError{status: http.StatusBadRequest, code: CodeAPIUnknown, title: "API Unknown",
				details: "Invalid request or possible server error."}}
		case 2:
			return outcome{reject: &apiError{status: http.StatusServiceUnavailable, code: CodeAPIService, title: "API Service",
				details: "Service temporarily unavailable due to downtime or overload."}}
		}
	case SuffixFailedStatus:
		return outcome{order: failedUnsupported}
	}
	return outcome{order: normalOrder}
}
