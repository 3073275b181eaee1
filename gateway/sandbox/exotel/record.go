package exotel

import (
	"sync"
	"time"
)

// PlacedCall is one call the sandbox placed (Exotel accepted the connect
// request), with the request's fields as the client sent them.
type PlacedCall struct {
	Seq            uint64    `json:"seq"`
	Sid            string    `json:"sid"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	CallerID       string    `json:"callerId"`
	CustomField    string    `json:"customField,omitempty"`
	StatusCallback string    `json:"statusCallback,omitempty"`
	Events         []string  `json:"statusCallbackEvents,omitempty"`
	ContentType    string    `json:"statusCallbackContentType,omitempty"`
	TimeLimit      int       `json:"timeLimit,omitempty"`
	TimeOut        int       `json:"timeOut,omitempty"`
	Record         bool      `json:"record"`
	Outcome        Outcome   `json:"outcome"`
	PlacedAt       time.Time `json:"placedAt"`
}

// Callback is one status callback the sandbox posted.
type Callback struct {
	CallSid     string `json:"callSid"`
	EventType   string `json:"eventType,omitempty"` // empty when no StatusCallbackEvents were asked
	Status      string `json:"status"`
	URL         string `json:"url"`
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
	Attempts    int    `json:"attempts"`
	// HTTPStatus is the receiver's last answer (0: no answer).
	HTTPStatus int       `json:"httpStatus"`
	Delivered  bool      `json:"delivered"`
	At         time.Time `json:"at"`
}

// recorder keeps the placed calls (by sid too) and the callbacks, each a
// bounded log with the oldest dropped. It is safe for concurrent use.
type recorder struct {
	mu    sync.Mutex
	max   int
	seq   uint64
	order []*call
	bySid map[string]*call
	cbs   []Callback
}

func newRecorder(maxRecords int) *recorder {
	return &recorder{max: maxRecords, bySid: map[string]*call{}}
}

func (r *recorder) addCall(c *call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	c.placed.Seq = r.seq
	r.order = append(r.order, c)
	r.bySid[c.placed.Sid] = c
	if len(r.order) > r.max {
		delete(r.bySid, r.order[0].placed.Sid)
		r.order[0] = nil
		r.order = r.order[1:]
	}
}

func (r *recorder) find(sid string) *call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bySid[sid]
}

// each returns the recorded calls matching keep, oldest first.
func (r *recorder) each(keep func(*call) bool) []*call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*call
	for _, c := range r.order {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// calls returns the placed calls, only those to the digits toDigits when
// it is not empty.
func (r *recorder) calls(toDigits string) []PlacedCall {
	out := []PlacedCall{}
	for _, c := range r.each(func(c *call) bool { return toDigits == "" || c.toDigits == toDigits }) {
		out = append(out, c.placed)
	}
	return out
}

func (r *recorder) addCallback(cb Callback) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cbs = append(r.cbs, cb)
	if len(r.cbs) > r.max {
		r.cbs = r.cbs[1:]
	}
}

func (r *recorder) callbacks() []Callback {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Callback{}, r.cbs...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order, r.bySid, r.cbs = nil, map[string]*call{}, nil
}
