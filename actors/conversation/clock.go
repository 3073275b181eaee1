package conversation

import "time"

// Clock is the time conversation actors live by: the wall clock their
// decisions read (what is stored, when the window ends, whether a timer is
// due, how long an actor has been idle) and the timers that wake them.
// Deps.Clock is nil in production, which is the system clock; tests hand in
// a fake (conversationtest.Clock) to move time and fire timers without
// waiting.
type Clock interface {
	// Now is the current time. The system clock's carries a monotonic
	// reading, so durations between two Nows are immune to wall-clock
	// jumps.
	Now() time.Time
	// AfterFunc calls f, on a goroutine of its own, once d has passed, as
	// time.AfterFunc does.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer started by Clock.AfterFunc; *time.Timer is one.
type Timer interface {
	// Reset re-arms the timer to fire d from now.
	Reset(d time.Duration) bool
	// Stop prevents the timer from firing, if it has not yet.
	Stop() bool
}

// systemClock is the Clock of time.Now and time.AfterFunc.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// SystemClock is the real clock: time.Now and time.AfterFunc.
var SystemClock Clock = systemClock{}
