package cloudapi

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"time"
)

// SentMessage is one message the sandbox accepted on the send endpoint.
type SentMessage struct {
	// To is the recipient's wa_id: the request's "to" without '+'.
	To   string `json:"to"`
	Type string `json:"type"`
	// Body is the request body exactly as the client sent it.
	Body          json.RawMessage `json:"body"`
	WaMessageID   string          `json:"wamid"`
	At            time.Time       `json:"at"`
	PhoneNumberID string          `json:"phoneNumberId"`
	// Seq numbers the accepted sends from 1, in order; GET
	// /sandbox/whatsapp/sent?after=N lists those after N.
	Seq uint64 `json:"seq"`
}

// recorder keeps the accepted sends (a bounded log, oldest dropped first)
// and their times per business number for Rate. It is safe for concurrent
// use.
type recorder struct {
	mu       sync.Mutex
	seq      uint64
	sent     []SentMessage
	maxSent  int
	times    map[string][]time.Time // phone_number_id -> accept times, in arrival order
	maxTimes int
}

func newRecorder(maxSent, maxTimes int) *recorder {
	return &recorder{maxSent: maxSent, maxTimes: maxTimes, times: map[string][]time.Time{}}
}

func (r *recorder) add(m SentMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	m.Seq = r.seq
	r.sent = keepLast(append(r.sent, m), r.maxSent)
	r.times[m.PhoneNumberID] = keepLast(append(r.times[m.PhoneNumberID], m.At), r.maxTimes)
}

// keepLast drops the oldest elements once s is an eighth longer than n, so
// trimming is amortised O(1) per append; s keeps at least its last n.
func keepLast[T any](s []T, n int) []T {
	if len(s) <= n+n/8 {
		return s
	}
	old := len(s)
	copy(s, s[old-n:])
	clear(s[n:old]) // release what the dropped elements referenced
	return s[:n]
}

// list returns a copy of the log, oldest first, only messages to waID when
// it is not empty.
func (r *recorder) list(waID string, after uint64) []SentMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	if after == math.MaxUint64 {
		return []SentMessage{}
	}
	// The log is in Seq order: skip to the first after "after".
	from, _ := slices.BinarySearchFunc(r.sent, after+1, func(m SentMessage, seq uint64) int { return cmp.Compare(m.Seq, seq) })
	out := make([]SentMessage, 0, len(r.sent)-from)
	for _, m := range r.sent[from:] {
		if waID == "" || m.To == waID {
			out = append(out, m)
		}
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = nil
	r.times = map[string][]time.Time{}
}

// rate is the largest number of sends for phoneNumberID whose times fall in
// one half-open interval [t, t+window), over every t.
func (r *recorder) rate(phoneNumberID string, window time.Duration) int {
	r.mu.Lock()
	ts := slices.Clone(r.times[phoneNumberID])
	r.mu.Unlock()
	if window <= 0 || len(ts) == 0 {
		return 0
	}
	// Accept times are recorded in arrival order, which is time order
	// unless Options.Now is not monotonic; sort to be sure.
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}
