package conversation

import (
	"time"

	"github.com/wacc/engine/actors"
)

// recentCap bounds the outbound messages an actor holds: Meta's statuses
// follow a send within seconds, so the newest few dozen cover them; a
// status for an older message is looked up in the store.
const recentCap = 64

// maxPendingKept bounds the wamids an actor remembers keeping a pending
// status for (see recent.pending); past it, every send outcome looks for
// pending statuses in the store, as if the actor remembered nothing.
const maxPendingKept = 16

// recent is what a conversation actor holds of its open conversation's
// latest outbound messages, so that a send's duplicate check, its outcome
// and its statuses need not read the message back from the store. It is
// allocated with the first message it holds (an idle conversation holds
// none) and dropped with the conversation it belongs to: when the actor
// passivates, stops, retires or holds another conversation.
//
// What it holds is never ahead of the store: a message enters it once
// stored (by this actor's write, or as read from the store), and a status
// once stored (this actor's write, as read from the store, or a send
// outcome, which the sender stores before telling the actor). Stored
// statuses only move forward, but for one exception: a re-drive of the
// dead letters puts a failed message back to queued without telling the
// actor. So a status that ranks no higher than a held one other than
// failed would change nothing in the store either, and is answered
// without a write; a held failed status is checked against the store (the
// conditional write, or a read for a send outcome).
type recent struct {
	// msgs is a ring of at most recentCap messages, grown as it fills;
	// once full, next is the oldest, which the next message replaces.
	msgs []sentMessage
	next int
	// pending are the wamids this activation kept a pending status for
	// (Store.AddPendingStatus) while holding these messages: the only
	// pending statuses a message it stored itself can have, since its
	// statuses come to this actor and none can precede its send.
	pending []string
	// pendingLost is set once more than maxPendingKept were kept: from
	// then on every outcome looks for pending statuses.
	pendingLost bool
}

// sentMessage is one outbound message as the actor knows it: 64 bytes.
type sentMessage struct {
	id    string
	wamid string
	err   *actors.WhatsAppError
	// pricing is the pricing recorded for the message (Deps.Pricing),
	// nil when none was.
	pricing *actors.Pricing
	// at is when its status last changed, as Unix milliseconds.
	at int64
	// rank is its status's actors.StatusRank (never 0).
	rank uint8
	// ours is set when this activation stored the message: then its
	// pending statuses are known (recent.pending).
	ours bool
}

// failedRank is actors.StatusRank(actors.StatusFailed): the one held
// status the store may have left behind the actor's back (see recent).
const failedRank = 5

// statusOfRank is the status whose actors.StatusRank is r.
func statusOfRank(r uint8) string {
	switch r {
	case 1:
		return actors.StatusQueued
	case 2:
		return actors.StatusSent
	case 3:
		return actors.StatusDelivered
	case 4:
		return actors.StatusRead
	case 5:
		return actors.StatusFailed
	}
	return ""
}

// rankOf is actors.StatusRank(status) as a sentMessage keeps it.
func rankOf(status string) uint8 { return uint8(actors.StatusRank(status)) }

// sentOf is what the actor keeps of m (ours: stored by this activation).
func sentOf(m *actors.Message, ours bool) sentMessage {
	return sentMessage{id: m.ID, wamid: m.WaMessageID, err: m.Error, pricing: m.Pricing, at: m.UpdatedAt.UnixMilli(),
		rank: rankOf(m.Status), ours: ours}
}

// status is the message's status.
func (s *sentMessage) status() string { return statusOfRank(s.rank) }

// advance records that the message's status reached status (with werr)
// at at, when that ranks above the held one; it reports whether it did.
func (s *sentMessage) advance(status string, werr *actors.WhatsAppError, at time.Time) bool {
	r := rankOf(status)
	if r <= s.rank {
		return false
	}
	s.rank, s.err, s.at = r, werr, at.UnixMilli()
	return true
}

// set records that the store holds status (with werr) since at: a write
// of it that changed the message, or a read.
func (s *sentMessage) set(status string, werr *actors.WhatsAppError, at time.Time) {
	s.rank, s.err, s.at = rankOf(status), werr, at.UnixMilli()
}

// spares reports whether a status update to status is known to change
// nothing in the store: the held status ranks as high, and is not failed.
func (s *sentMessage) spares(status string) bool {
	return s.rank != failedRank && rankOf(status) <= s.rank
}

// message is the message as the actor knows it, in conversation convID:
// its ids, direction, status, error and pricing, not its content (read
// the store for that).
func (s *sentMessage) message(convID string) actors.Message {
	return actors.Message{ID: s.id, ConversationID: convID, Direction: actors.DirectionOutbound, Status: s.status(),
		WaMessageID: s.wamid, Error: s.err, Pricing: s.pricing, UpdatedAt: time.UnixMilli(s.at).UTC()}
}

// find returns the newest held message match accepts, nil when none.
// Lookups scan newest first: a status usually follows its send closely,
// and a linear scan of a few dozen entries costs less than keeping maps
// (measured: BenchmarkRecent).
func (r *recent) find(match func(*sentMessage) bool) *sentMessage {
	if r == nil {
		return nil
	}
	n := len(r.msgs)
	newest := n - 1
	if n == recentCap {
		newest = r.next - 1
		if newest < 0 {
			newest = n - 1
		}
	}
	for k, i := 0, newest; k < n; k++ {
		if match(&r.msgs[i]) {
			return &r.msgs[i]
		}
		if i--; i < 0 {
			i = n - 1
		}
	}
	return nil
}

// byID returns the held message with that id, nil when none. The pointer
// is valid until the next add.
func (r *recent) byID(id string) *sentMessage {
	return r.find(func(s *sentMessage) bool { return s.id == id })
}

// byWaID returns the held message with that wamid, nil when none (always
// for ""). The pointer is valid until the next add.
func (r *recent) byWaID(wamid string) *sentMessage {
	if wamid == "" {
		return nil
	}
	return r.find(func(s *sentMessage) bool { return s.wamid == wamid })
}

// add holds s, replacing the oldest message once recentCap are held, and
// returns where it is held (valid until the next add).
func (r *recent) add(s sentMessage) *sentMessage {
	if len(r.msgs) < recentCap {
		if r.msgs == nil {
			r.msgs = make([]sentMessage, 0, 4)
		}
		r.msgs = append(r.msgs, s)
		return &r.msgs[len(r.msgs)-1]
	}
	i := r.next
	r.msgs[i] = s
	r.next = (i + 1) % recentCap
	return &r.msgs[i]
}

// keptPending records that a status for wamid was kept pending.
func (r *recent) keptPending(wamid string) {
	if r.pendingLost {
		return
	}
	for _, w := range r.pending {
		if w == wamid {
			return
		}
	}
	if len(r.pending) == maxPendingKept {
		r.pending, r.pendingLost = nil, true
		return
	}
	r.pending = append(r.pending, wamid)
}

// mayPend reports whether statuses for wamid, the wamid a send outcome
// gave message s, may be pending in the store: always for a message this
// activation did not store (it may have been sent before), otherwise only
// when this activation kept one (or lost count).
func (r *recent) mayPend(s *sentMessage, wamid string) bool {
	if r == nil || s == nil || !s.ours || r.pendingLost {
		return true
	}
	for _, w := range r.pending {
		if w == wamid {
			return true
		}
	}
	return false
}

// tookPending records that the pending statuses of wamid were taken.
func (r *recent) tookPending(wamid string) {
	if r == nil {
		return
	}
	for i, w := range r.pending {
		if w == wamid {
			r.pending = append(r.pending[:i], r.pending[i+1:]...)
			return
		}
	}
}
