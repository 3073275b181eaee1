package conversation

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// alarms wakes the conversation actors of one Props at their deadlines
// with one Clock timer between them: a min-heap of (deadline, actor), and
// the clock timer armed for its earliest entry. An actor arms an alarm
// instead of a timer of its own, so an idle conversation pays for a heap
// entry (16 bytes) rather than a runtime timer and the closure it calls
// (about 150 bytes). Deadlines are mono readings of the clock.
type alarms struct {
	system *actor.ActorSystem
	clock  Clock
	mu     sync.Mutex
	heap   []alarm
	// timer fires at timerAt for heap[0], while armed.
	timer   Timer
	timerAt int64
	armed   bool
}

// alarm is an actor's pending wake: its slot (Actor.slot) is its index in
// the heap plus one.
type alarm struct {
	at int64
	a  *Actor
}

func newAlarms(system *actor.ActorSystem, clock Clock) *alarms {
	return &alarms{system: system, clock: clock}
}

// mono is the clock's reading in nanoseconds since monoBase.
func (s *alarms) mono() int64 { return int64(s.clock.Now().Sub(monoBase)) }

// set arms a's alarm for at (a mono reading), moving it if armed already.
// a.self must be set: the alarm sends to it.
func (s *alarms) set(a *Actor, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.slot > 0 {
		i := int(a.slot - 1)
		s.heap[i].at = at
		s.fix(i)
	} else {
		s.heap = append(s.heap, alarm{at: at, a: a})
		a.slot = int32(len(s.heap))
		s.up(len(s.heap) - 1)
	}
	s.armLocked()
}

// cancel disarms a's alarm, if armed.
func (s *alarms) cancel(a *Actor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.slot == 0 {
		return
	}
	s.removeLocked(int(a.slot - 1))
	s.armLocked()
}

// fire runs on the clock timer's goroutine: it takes the due alarms off
// the heap, re-arms the clock timer for the next one, and sends each due
// actor a wake.
func (s *alarms) fire() {
	s.mu.Lock()
	s.armed = false
	now := s.mono()
	var due []*actor.PID
	for len(s.heap) > 0 && s.heap[0].at <= now {
		due = append(due, s.heap[0].a.self)
		s.removeLocked(0)
	}
	s.armLocked()
	s.mu.Unlock()
	for _, pid := range due {
		s.system.Root.Send(pid, wake{})
	}
}

// armLocked keeps the clock timer armed for the earliest alarm, and
// disarmed when there is none.
func (s *alarms) armLocked() {
	if len(s.heap) == 0 {
		if s.armed {
			s.timer.Stop()
			s.armed = false
		}
		return
	}
	at := s.heap[0].at
	if s.armed && s.timerAt == at {
		return
	}
	d := time.Duration(max(at-s.mono(), 0))
	if s.timer == nil {
		s.timer = s.clock.AfterFunc(d, s.fire)
	} else {
		s.timer.Reset(d)
	}
	s.timerAt, s.armed = at, true
}

// removeLocked takes entry i off the heap.
func (s *alarms) removeLocked(i int) {
	s.heap[i].a.slot = 0
	last := len(s.heap) - 1
	if i != last {
		s.heap[i] = s.heap[last]
		s.heap[i].a.slot = int32(i + 1)
	}
	s.heap[last] = alarm{}
	s.heap = s.heap[:last]
	if i != last {
		s.fix(i)
	}
	if cap(s.heap) > 64 && len(s.heap) < cap(s.heap)/4 {
		// Give back what a passivated burst left.
		s.heap = append(make([]alarm, 0, cap(s.heap)/2), s.heap...)
		for j := range s.heap {
			s.heap[j].a.slot = int32(j + 1)
		}
	}
}

// fix restores the heap order around entry i after its deadline changed.
func (s *alarms) fix(i int) {
	if !s.down(i) {
		s.up(i)
	}
}

func (s *alarms) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if s.heap[p].at <= s.heap[i].at {
			return
		}
		s.swap(i, p)
		i = p
	}
}

// down moves entry i down while a child is earlier; it reports whether it
// moved.
func (s *alarms) down(i int) bool {
	start, n := i, len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && s.heap[r].at < s.heap[l].at {
			j = r
		}
		if s.heap[i].at <= s.heap[j].at {
			break
		}
		s.swap(i, j)
		i = j
	}
	return i > start
}

func (s *alarms) swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.heap[i].a.slot = int32(i + 1)
	s.heap[j].a.slot = int32(j + 1)
}
