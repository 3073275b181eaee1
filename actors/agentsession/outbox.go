package agentsession

import (
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// maxEarlyEvents bounds the events a session keeps while it is New (between
// Open and its hello, microseconds unless the machine is starved); one more
// closes it as too slow (1013), as a full socket buffer would.
const maxEarlyEvents = 256

// Frame is one server frame as a Sink gets it. An event's Frame is shared
// by every session it goes to and marshalled once, by the first socket that
// writes it (off the publisher's goroutine); a session's own frames (hello,
// replies) come marshalled. Bytes is safe for concurrent use; the bytes
// must not be modified.
type Frame struct {
	// raw is set when b was given at construction (immutable then).
	raw bool
	b   []byte

	once           sync.Once
	typ            string
	conversationID string
	data           any
	cursor         string
	log            *zap.Logger
}

// RawFrame is a Frame of bytes already marshalled (tests, own frames).
func RawFrame(b []byte) *Frame { return &Frame{raw: true, b: b} }

// eventFrame is the Frame of a published event, marshalled on first use.
func eventFrame(typ, conversationID string, data any, cursor string, log *zap.Logger) *Frame {
	return &Frame{typ: typ, conversationID: conversationID, data: data, cursor: cursor, log: log}
}

// Bytes returns the frame's JSON, marshalling it on the first call; nil
// when it cannot be marshalled (logged once): the frame is then skipped.
func (f *Frame) Bytes() []byte {
	if f == nil {
		return nil
	}
	if f.raw {
		return f.b
	}
	f.once.Do(func() {
		b, err := marshalEvent(f.typ, f.data, f.cursor)
		if err != nil {
			f.log.Error("event dropped", zap.String("event", f.typ), zap.String("conversation_id", f.conversationID), zap.Error(err))
			return
		}
		f.b = b
	})
	return f.b
}

// publication is one event on its way to the sessions that may see it;
// its Frame is made when the first session takes it. Only the publishing
// goroutine touches it.
type publication struct {
	typ            string
	conversationID string
	data           any
	cursor         string
	log            *zap.Logger
	f              *Frame
}

func (p *publication) frame() *Frame {
	if p.f == nil {
		p.f = eventFrame(p.typ, p.conversationID, p.data, p.cursor, p.log)
	}
	return p.f
}

// The outbox is a session's outgoing side as publishers and the session's
// actor share it: the state events see (out) and the frames pushed to the
// Sink, under outMu, so that a state change and the frame announcing it
// (hello, session.expired, the ack and resync of a renewal) are one step
// that no event slips into. Publishers push events straight to the Sink
// through it, without a message to the actor; the actor pushes its own
// frames (replies, hello) through it too.

// offer pushes a published event to the session as its state decides: an
// Active session pushes it, an Expired one counts it as withheld, a New one
// keeps it until its hello is out. It never blocks (Sink.Push does not).
// When the Sink is full, or panics, the session is closed (1013, 1011).
func (s *Session) offer(p *publication) {
	if s.closing.Load() {
		return
	}
	if code := s.offerLocked(p); code != 0 {
		s.abort(code)
	}
}

// offerLocked is offer under outMu; it answers the close code the session
// must close with, 0 when none.
func (s *Session) offerLocked(p *publication) (code int) {
	s.outMu.Lock()
	defer func() {
		if r := recover(); r != nil {
			s.hub.log.Error("agent session: pushing an event panicked; closing its socket",
				zap.String("agent_id", s.user.ID), zap.String("event", p.typ), zap.String("panic", fmt.Sprint(r)))
			s.out, s.early = StateClosed, nil
			code = CloseInternalError
		}
		s.unlockOut()
	}()
	switch s.out {
	case StateActive:
		if s.filterEarly && !after(p.cursor, s.through) {
			// A resumed session: replayed already (this node's reader
			// delivers it after the replay read it from the stream).
			return 0
		}
		if !s.sink.Push(p.frame()) {
			s.out = StateClosed
			return CloseTryAgainLater
		}
	case StateExpired:
		s.withheld++
	case StateNew:
		if len(s.early) >= s.maxEarly() {
			s.out, s.early = StateClosed, nil
			return CloseTryAgainLater
		}
		s.early = append(s.early, p.frame())
	}
	return 0
}

// maxEarly is how many events a New session keeps: more while a resume
// reads what was missed.
func (s *Session) maxEarly() int {
	if s.resume != "" {
		return maxResumeEarly
	}
	return maxEarlyEvents
}

// abort closes the socket of a session a publisher found too slow (or
// whose Sink panicked); the actor then stops.
func (s *Session) abort(code int) {
	reason := ReasonTooSlow
	if code == CloseInternalError {
		reason = ReasonInternal
	} else {
		s.hub.log.Info("agent socket too slow; closing", zap.String("agent_id", s.user.ID))
	}
	s.closing.Store(true)
	s.sink.Close(code, reason)
	s.hub.system.Root.Send(s.pid, disconnected{})
}

// pushOwn pushes one of the session's own frames (a reply); false when the
// Sink is full (the session is then Closed to publishers). Nothing is
// pushed once the session is Closed.
func (s *Session) pushOwn(b *Frame) bool {
	s.outMu.Lock()
	defer s.unlockOut()
	if s.out == StateClosed {
		return true
	}
	if !s.sink.Push(b) {
		s.out, s.early = StateClosed, nil
		return false
	}
	return true
}

// transition moves the outbox to st and pushes frames (nil ones are
// skipped: they failed to marshal, logged), in one step. Leaving
// New for Active pushes the events kept meanwhile after the frames; for
// Expired (or Closed) it drops them, counted as withheld. Entering Expired
// from Active starts the withheld count afresh. False when the Sink is full
// (the outbox is then Closed).
func (s *Session) transition(st State, frames ...*Frame) bool {
	s.outMu.Lock()
	defer s.unlockOut()
	if s.out == StateClosed {
		return true
	}
	from := s.out
	s.out = st
	if st == StateClosed {
		s.early = nil
		return true
	}
	if st == StateExpired {
		s.withheld = 0
	}
	for _, b := range frames {
		if b.Bytes() != nil && !s.sink.Push(b) {
			s.out, s.early = StateClosed, nil
			return false
		}
	}
	if from == StateNew {
		early := s.early
		s.early = nil
		if st != StateActive {
			s.withheld += len(early)
			return true
		}
		for _, b := range early {
			if s.filterEarly && !after(b.cursor, s.through) {
				continue // replayed already
			}
			if !s.sink.Push(b) {
				s.out = StateClosed
				return false
			}
		}
	}
	return true
}

// renew brings an Expired outbox back to Active with the ack of the auth
// frame and a resync frame counting the events withheld since since.
// False when the Sink is full.
func (s *Session) renew(ack *Frame, since time.Time) (withheld int, ok bool) {
	s.outMu.Lock()
	defer s.unlockOut()
	if s.out == StateClosed {
		return 0, true
	}
	withheld = s.withheld
	s.out, s.withheld = StateActive, 0
	resync, err := marshalFrame(FrameSessionResync, resyncData{Since: since, Withheld: withheld})
	if err != nil {
		// Only this package's own types get here: a bug.
		s.hub.log.Error("resync dropped", zap.Error(err))
	}
	for _, b := range []*Frame{ack, RawFrame(resync)} {
		if b.Bytes() != nil && !s.sink.Push(b) {
			s.out = StateClosed
			return withheld, false
		}
	}
	return withheld, true
}

// unlockOut publishes the outbox's state to State() and unlocks it: State()
// says Expired (or Active) only once publishers see it, so an event
// published after State() changed is handled by the new state.
func (s *Session) unlockOut() {
	s.state.Store(int32(s.out))
	s.outMu.Unlock()
}
