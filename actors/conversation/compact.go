package conversation

import (
	"math"
	"time"

	"github.com/wacc/engine/actors"
)

// held is the open conversation an actor holds, in a compact form, and its
// latest outbound messages (nil until it holds one; see recent). Every idle
// conversation keeps one, so it fits the 144-byte size class where an
// actors.Conversation takes 320: the business number and the customer come
// from the actor's key, the state is a small number, each time is its
// nanoseconds since the Unix epoch, and ClosedAt (always zero for an open
// conversation) is not kept. A conversation that does not fit (a time out
// of int64 nanoseconds or not in UTC, another state, a key of its own)
// is kept whole behind wide instead, and read from there.
type held struct {
	ID         string
	CustomerID string
	AssigneeID string

	lastInboundAt  stamp
	lastOutboundAt stamp
	expiresAt      stamp
	nextTimerAt    stamp
	warnedAt       stamp
	createdAt      stamp
	updatedAt      stamp

	Seq     int64
	Version int64
	// unread is the conversation's Unread, clamped to int32 (read through
	// conversation; held.unreadZero is exact).
	unread int32
	state  heldState

	recent *recent
	// wide is the conversation as it came, when it does not fit the
	// compact fields (see held); nil otherwise.
	wide *actors.Conversation
}

// heldState is an open conversation's state.
type heldState uint8

const (
	heldWide heldState = iota // see held.wide
	heldNew
	heldActive
	heldExpired
)

var heldStates = [...]string{heldNew: actors.StateNew, heldActive: actors.StateActive, heldExpired: actors.StateExpired}

func heldStateOf(s string) heldState {
	switch s {
	case actors.StateNew:
		return heldNew
	case actors.StateActive:
		return heldActive
	case actors.StateExpired:
		return heldExpired
	}
	return heldWide
}

// stamp is a time as nanoseconds since the Unix epoch; 0 is the zero time.
type stamp int64

// stampOf is t as a stamp; ok is false when the stamp would not give t
// back exactly (t is not in UTC, carries a monotonic reading, is out of
// int64 nanoseconds, or is the epoch itself).
func stampOf(t time.Time) (s stamp, ok bool) {
	if t.IsZero() {
		return 0, true
	}
	n := t.UnixNano()
	if n == 0 || n == math.MinInt64 {
		return 0, false
	}
	s = stamp(n)
	// ==, not Equal: the stamp must give t back to its location and
	// monotonic reading, not only the same instant.
	return s, s.time() == t //nolint:staticcheck // see above
}

func (s stamp) time() time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(s)).UTC()
}

// set makes h hold c, the open conversation of key.
func (h *held) set(c *actors.Conversation, key Key) {
	h.ID, h.CustomerID, h.AssigneeID = c.ID, c.CustomerID, c.AssigneeID
	h.Seq, h.Version = c.Seq, c.Version
	h.unread = int32(max(min(c.Unread, math.MaxInt32), math.MinInt32))
	h.state = heldStateOf(c.State)
	fits := h.state != heldWide && c.PhoneNumberID == key.PhoneNumberID && c.WaID == key.WaID && c.ClosedAt.IsZero() &&
		int(h.unread) == c.Unread
	for _, f := range [...]struct {
		to *stamp
		t  time.Time
	}{
		{&h.lastInboundAt, c.LastInboundAt}, {&h.lastOutboundAt, c.LastOutboundAt}, {&h.expiresAt, c.ExpiresAt},
		{&h.nextTimerAt, c.NextTimerAt}, {&h.warnedAt, c.WarnedAt}, {&h.createdAt, c.CreatedAt}, {&h.updatedAt, c.UpdatedAt},
	} {
		s, ok := stampOf(f.t)
		*f.to, fits = s, fits && ok
	}
	if fits {
		h.wide = nil
		return
	}
	wide := *c
	h.wide, h.state = &wide, heldWide
}

// conversation is the held conversation of key, whole.
func (h *held) conversation(key Key) actors.Conversation {
	if h.wide != nil {
		return *h.wide
	}
	return actors.Conversation{
		ID: h.ID, CustomerID: h.CustomerID, PhoneNumberID: key.PhoneNumberID, WaID: key.WaID,
		State: heldStates[h.state], AssigneeID: h.AssigneeID,
		LastInboundAt: h.lastInboundAt.time(), LastOutboundAt: h.lastOutboundAt.time(), ExpiresAt: h.expiresAt.time(),
		NextTimerAt: h.nextTimerAt.time(), WarnedAt: h.warnedAt.time(),
		Unread: int(h.unread), Seq: h.Seq, Version: h.Version,
		CreatedAt: h.createdAt.time(), UpdatedAt: h.updatedAt.time(),
	}
}

// State is the held conversation's state.
func (h *held) State() string {
	if h.wide != nil {
		return h.wide.State
	}
	return heldStates[h.state]
}

// NextTimerAt is the held conversation's NextTimerAt.
func (h *held) NextTimerAt() time.Time {
	if h.wide != nil {
		return h.wide.NextTimerAt
	}
	return h.nextTimerAt.time()
}

// unreadZero reports whether the held conversation has no unread message.
func (h *held) unreadZero() bool {
	if h.wide != nil {
		return h.wide.Unread == 0
	}
	return h.unread == 0
}

// due reports whether the held conversation's next timer is due at now.
func (h *held) due(now time.Time) bool {
	next := h.NextTimerAt()
	return !next.IsZero() && !now.Before(next)
}
