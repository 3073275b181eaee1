package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults NewShaper uses for zero ShaperOptions fields.
const (
	DefaultMPS          = 80
	DefaultPairInterval = 6 * time.Second
	DefaultPairBurst    = 1
)

var (
	// ErrPaused is matched (errors.Is) by every *PausedError Wait returns.
	ErrPaused = errors.New("sending paused")
	// ErrBudgetUnavailable wraps an error of the shared Budget: Wait could
	// not learn whether a send fits the number's budget. Classify answers
	// Retry.
	ErrBudgetUnavailable = errors.New("shared send budget unavailable")
)

// Budget is a rate limiter shared by every engine node (rediskv.KV
// satisfies it). Allow reports whether one more event for key fits in
// perMinute and, when not, how long until one would.
type Budget interface {
	Allow(ctx context.Context, key string, perMinute int) (bool, time.Duration, error)
}

// ShaperOptions configures a Shaper. Zero fields take the defaults.
type ShaperOptions struct {
	// MPS is the messages per second one business number may send
	// (default 80). Sends are paced by GCRA with a burst of MPS/100 (at
	// least 1), the emission interval shortened to match, so that no
	// one-second window ever holds more than MPS sends: at 80 every send is
	// spaced 12.5 ms; at 10,000 sends go in small bursts, which matters
	// because a sleep shorter than a millisecond is not to be had.
	MPS int
	// PairInterval is the least gap between two sends from one number to
	// one recipient once the burst is spent (default 6 s: Meta's pair rate
	// is about one message per 6 s sustained).
	PairInterval time.Duration
	// PairBurst is how many sends to one recipient may go back to back
	// before PairInterval applies (default 1: every send waits the full
	// interval after the previous one).
	PairBurst int
	// Limiter, when set, shares each number's budget between nodes under
	// key "mps:<phoneNumberID>" with perMinute = MPS*60, on top of the
	// local pacing. Nil keeps the budget in this process only.
	Limiter Budget
}

// PausedError is the error Wait returns while the number, or the recipient
// on that number, is paused. It matches ErrPaused.
type PausedError struct {
	PhoneNumberID string
	// Recipient is true when the pause is the recipient's on that number,
	// false when the whole number is paused.
	Recipient bool
	Until     time.Time
	// Remaining is Until minus the time Wait gave up.
	Remaining time.Duration
}

func (e *PausedError) Error() string {
	what := "phone number " + e.PhoneNumberID
	if e.Recipient {
		what = "recipient on phone number " + e.PhoneNumberID
	}
	return fmt.Sprintf("%s paused for %s", what, e.Remaining.Round(time.Millisecond))
}

// Unwrap makes errors.Is(err, ErrPaused) true.
func (e *PausedError) Unwrap() error { return ErrPaused }

// Shaper decides when the next message may go out: it paces each business
// number to its MPS and each (number, recipient) pair to the pair rate, and
// holds back paused numbers and recipients. It is safe for concurrent use.
// Build it with NewShaper.
type Shaper struct {
	interval     time.Duration // GCRA emission interval of one number
	numberSlack  time.Duration // (number burst-1) × interval
	pairInterval time.Duration
	pairSlack    time.Duration // (PairBurst-1) × PairInterval
	sweepEvery   time.Duration
	budget       Budget
	perMinute    int

	mu              sync.Mutex
	numbers         map[string]*numberState
	recipients      map[recipientKey]*recipientState
	recipientPauses map[recipientKey]time.Time
	// wake is closed (and replaced) whenever a pause is set, so sleeping
	// Waits re-check pauses at once.
	wake      chan struct{}
	lastSweep time.Time
	// onGrant, when set (tests only), sees the instant of every grant
	// under s.mu: the instant the budget was charged, which a caller's
	// clock read after Wait returns can only approximate.
	onGrant func(now time.Time)
}

type numberState struct {
	// turn is held (a value sent) by the one Wait pacing this number;
	// the others queue on it.
	turn chan struct{}
	// tat is the number's GCRA theoretical arrival time: a send is
	// allowed from tat - numberSlack.
	tat         time.Time
	pausedUntil time.Time
	budgetKey   string
}

type recipientKey struct{ phoneNumberID, to string }

type recipientState struct {
	turn chan struct{}
	// tat is the GCRA theoretical arrival time: a send is allowed from
	// tat - pairSlack; at or after tat the pair's burst is whole again.
	tat time.Time
	// refs counts the Waits using this entry; it is never evicted while
	// refs > 0.
	refs int
}

// NewShaper returns a Shaper for opts.
func NewShaper(opts ShaperOptions) *Shaper {
	mps := opts.MPS
	if mps <= 0 {
		mps = DefaultMPS
	}
	pairInterval := opts.PairInterval
	if pairInterval <= 0 {
		pairInterval = DefaultPairInterval
	}
	burst := opts.PairBurst
	if burst <= 0 {
		burst = DefaultPairBurst
	}
	numberBurst := max(1, mps/100)
	// Rounded up: rounded down, one second could hold one send more.
	n := time.Duration(mps - numberBurst + 1)
	interval := (time.Second + n - 1) / n
	return &Shaper{
		interval:        interval,
		numberSlack:     time.Duration(numberBurst-1) * interval,
		pairInterval:    pairInterval,
		pairSlack:       time.Duration(burst-1) * pairInterval,
		sweepEvery:      max(pairInterval, time.Millisecond),
		budget:          opts.Limiter,
		perMinute:       mps * 60,
		numbers:         make(map[string]*numberState),
		recipients:      make(map[recipientKey]*recipientState),
		recipientPauses: make(map[recipientKey]time.Time),
		wake:            make(chan struct{}),
	}
}

// Wait blocks until a message from phoneNumberID to the recipient to may
// be sent: the number's budget has room and the pair's interval has passed.
// A nil return grants exactly one send; the caller sends right away.
//
// It returns ctx.Err() when ctx ends first, a *PausedError (errors.Is
// ErrPaused) at once when the number or the recipient is paused, also when
// the pause is set while Wait is blocked, so the caller can requeue the
// message for PausedError.Remaining instead of holding it, and an error
// wrapping ErrBudgetUnavailable when the shared Budget fails. A Wait that
// returns an error grants nothing.
func (s *Shaper) Wait(ctx context.Context, phoneNumberID, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := recipientKey{phoneNumberID: phoneNumberID, to: to}

	s.mu.Lock()
	now := time.Now()
	s.sweepLocked(now)
	n := s.numberLocked(phoneNumberID)
	if err := s.pausedLocked(key, n, now); err != nil {
		s.mu.Unlock()
		return err
	}
	r := s.recipients[key]
	if r == nil {
		r = &recipientState{turn: make(chan struct{}, 1)}
		s.recipients[key] = r
	}
	r.refs++
	s.mu.Unlock()
	defer s.unref(r)

	// Lock order: recipient turn, then number turn. The pair interval is
	// awaited before taking the number's turn, so a recipient waiting out
	// its 6 s never holds up the rest of the number.
	if err := acquire(ctx, r.turn); err != nil {
		return err
	}
	defer release(r.turn)
	if err := s.await(ctx, key, n, func() time.Time { return r.tat.Add(-s.pairSlack) }); err != nil {
		return err
	}
	if err := acquire(ctx, n.turn); err != nil {
		return err
	}
	defer release(n.turn)
	if err := s.await(ctx, key, n, func() time.Time { return n.tat.Add(-s.numberSlack) }); err != nil {
		return err
	}
	if s.budget != nil {
		if err := s.awaitBudget(ctx, key, n); err != nil {
			return err
		}
	}

	// Grant: both turns are held, so nobody else moved n.tat or r.tat.
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	now = time.Now()
	if err := s.pausedLocked(key, n, now); err != nil {
		return err
	}
	n.tat = later(n.tat, now).Add(s.interval)
	r.tat = later(r.tat, now).Add(s.pairInterval)
	if s.onGrant != nil {
		s.onGrant(now)
	}
	return nil
}

// await sleeps until at() (read under s.mu) is not after now, re-checking
// pauses after every sleep.
func (s *Shaper) await(ctx context.Context, key recipientKey, n *numberState, at func() time.Time) error {
	for {
		s.mu.Lock()
		now := time.Now()
		if err := s.pausedLocked(key, n, now); err != nil {
			s.mu.Unlock()
			return err
		}
		d := at().Sub(now)
		wake := s.wake
		s.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d, wake); err != nil {
			return err
		}
	}
}

// awaitBudget asks the shared budget until it grants one send. Only the
// holder of the number's turn calls it, so each node polls at most once
// per number at a time.
func (s *Shaper) awaitBudget(ctx context.Context, key recipientKey, n *numberState) error {
	for {
		ok, retryAfter, err := s.budget.Allow(ctx, n.budgetKey, s.perMinute)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			return fmt.Errorf("shape send from %s: %w: %w", key.phoneNumberID, ErrBudgetUnavailable, err)
		}
		if ok {
			return nil
		}
		s.mu.Lock()
		err = s.pausedLocked(key, n, time.Now())
		wake := s.wake
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if retryAfter <= 0 {
			retryAfter = max(s.interval, time.Millisecond)
		}
		if err := sleep(ctx, retryAfter, wake); err != nil {
			return err
		}
	}
}

// PauseNumber makes every Wait for phoneNumberID return a *PausedError
// until until, including Waits already blocked. It only ever extends a
// pause: an until before the current one changes nothing (ResumeNumber
// lifts a pause early).
func (s *Shaper) PauseNumber(phoneNumberID string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.numberLocked(phoneNumberID)
	if until.After(n.pausedUntil) {
		n.pausedUntil = until
		s.wakeLocked()
	}
}

// ResumeNumber lifts a pause of phoneNumberID at once.
func (s *Shaper) ResumeNumber(phoneNumberID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numberLocked(phoneNumberID).pausedUntil = time.Time{}
}

// PauseRecipient makes every Wait from phoneNumberID to to return a
// *PausedError until until; other recipients and other numbers are not
// affected. Like PauseNumber it only extends a pause.
func (s *Shaper) PauseRecipient(phoneNumberID, to string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := recipientKey{phoneNumberID: phoneNumberID, to: to}
	if until.After(s.recipientPauses[key]) && until.After(time.Now()) {
		s.recipientPauses[key] = until
		s.wakeLocked()
	}
}

// ResumeRecipient lifts a pause of the recipient to on phoneNumberID.
func (s *Shaper) ResumeRecipient(phoneNumberID, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recipientPauses, recipientKey{phoneNumberID: phoneNumberID, to: to})
}

func (s *Shaper) numberLocked(phoneNumberID string) *numberState {
	n := s.numbers[phoneNumberID]
	if n == nil {
		n = &numberState{turn: make(chan struct{}, 1), budgetKey: "mps:" + phoneNumberID}
		s.numbers[phoneNumberID] = n
	}
	return n
}

// pausedLocked returns a *PausedError when the number or the recipient is
// paused at now; the number's pause wins when both are.
func (s *Shaper) pausedLocked(key recipientKey, n *numberState, now time.Time) error {
	if n.pausedUntil.After(now) {
		return &PausedError{PhoneNumberID: key.phoneNumberID, Until: n.pausedUntil, Remaining: n.pausedUntil.Sub(now)}
	}
	if until, ok := s.recipientPauses[key]; ok && until.After(now) {
		return &PausedError{PhoneNumberID: key.phoneNumberID, Recipient: true, Until: until, Remaining: until.Sub(now)}
	}
	return nil
}

func (s *Shaper) wakeLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *Shaper) unref(r *recipientState) {
	s.mu.Lock()
	r.refs--
	s.mu.Unlock()
}

// sweepLocked drops, at most once per sweepEvery, the recipients nobody is
// waiting for whose burst is whole again (a fresh entry would behave the
// same), and the recipient pauses that are over.
func (s *Shaper) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < s.sweepEvery {
		return
	}
	s.lastSweep = now
	for k, r := range s.recipients {
		if r.refs == 0 && !r.tat.After(now) {
			delete(s.recipients, k)
		}
	}
	for k, until := range s.recipientPauses {
		if !until.After(now) {
			delete(s.recipientPauses, k)
		}
	}
}

func acquire(ctx context.Context, turn chan struct{}) error {
	select {
	case turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func release(turn chan struct{}) { <-turn }

// sleep waits d, or until wake is closed; it returns ctx.Err() if ctx ends
// first.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
