package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	numberA = "106540352242922"
	numberB = "106540352242933"
)

// timedWait runs Wait and returns its error and how long it took.
func timedWait(ctx context.Context, s *Shaper, phoneNumberID, to string) (time.Duration, error) {
	start := time.Now()
	err := s.Wait(ctx, phoneNumberID, to)
	return time.Since(start), err
}

// waitResult is the outcome of a Wait run in the background.
type waitResult struct {
	err     error
	elapsed time.Duration
}

// goWait runs Wait in a goroutine the test waits for (t.Cleanup) and
// delivers its result on the returned channel.
func goWait(t *testing.T, ctx context.Context, s *Shaper, phoneNumberID, to string) <-chan waitResult {
	t.Helper()
	out := make(chan waitResult, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		elapsed, err := timedWait(ctx, s, phoneNumberID, to)
		out <- waitResult{err: err, elapsed: elapsed}
	})
	t.Cleanup(wg.Wait)
	return out
}

// receive returns the result of a background Wait, failing t if it takes
// longer than within.
func receive(t *testing.T, ch <-chan waitResult, within time.Duration) waitResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("Wait did not return within %s", within)
		return waitResult{}
	}
}

// blockedOnTurn reports whether the recipient entry of (phoneNumberID, to)
// is used by at least n Waits, i.e. n Waits have entered and not returned.
func blockedOnTurn(s *Shaper, phoneNumberID, to string, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recipients[recipientKey{phoneNumberID: phoneNumberID, to: to}]
	return r != nil && r.refs >= n
}

// grantsFor runs 8 goroutines asking s for sends from numberA, each to a
// new recipient (so only the number's budget applies), for d, and returns
// the grant instants in order and the most grants in any half-open
// one-second window. The instants are the shaper's own (read under its
// lock when the budget is charged): a clock read after Wait returns lags
// by however long the goroutine waited to run, which can squeeze 2,001
// grants into a measured second that the shaper spread over more.
func grantsFor(t *testing.T, s *Shaper, d time.Duration) (returns []time.Time, busiest int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var mu sync.Mutex
	s.onGrant = func(now time.Time) {
		mu.Lock()
		returns = append(returns, now)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				if err := s.Wait(ctx, numberA, fmt.Sprintf("to-%d-%d", g, i)); err != nil {
					assert.ErrorIs(t, err, context.DeadlineExceeded)
					return
				}
			}
		})
	}
	wg.Wait()
	slices.SortFunc(returns, func(a, b time.Time) int { return a.Compare(b) })
	// Slide a window [returns[i], returns[i]+1s) over the sorted times.
	end := 0
	for i, start := range returns {
		for end < len(returns) && returns[end].Sub(start) < time.Second {
			end++
		}
		busiest = max(busiest, end-i)
	}
	return returns, busiest
}

func TestShaperDefaults(t *testing.T) {
	s := NewShaper(ShaperOptions{})
	assert.Equal(t, time.Second/80, s.interval)
	assert.Equal(t, 6*time.Second, s.pairInterval)
	assert.Zero(t, s.pairSlack, "PairBurst 1: no back-to-back sends")
	assert.Equal(t, 80*60, s.perMinute)
	assert.Nil(t, s.budget)
}

func TestShaperNumberRateNeverExceedsMPS(t *testing.T) {
	// MPS 50, 8 goroutines, 2 s, every send to a different recipient so
	// only the number's budget applies. The guarantee: at most MPS grants
	// in any half-open one-second window (no burst).
	const mps = 50
	returns, busiest := grantsFor(t, NewShaper(ShaperOptions{MPS: mps}), 2*time.Second)
	t.Logf("%d grants in 2 s, busiest 1-s window %d", len(returns), busiest)
	assert.LessOrEqual(t, busiest, mps, "grants in the busiest 1-s window")
	assert.LessOrEqual(t, len(returns), 2*mps+1, "grants in 2 s")
	assert.GreaterOrEqual(t, len(returns), 70, "the budget is used, not just respected")
}

// At high rates the number's budget is spent in small bursts (a sleep
// shorter than a millisecond is not to be had), and still no one-second
// window holds more than MPS sends.
func TestShaperHighRateBurstsStayWithinMPS(t *testing.T) {
	s := NewShaper(ShaperOptions{MPS: 10000})
	assert.Equal(t, (time.Second+9900)/9901, s.interval, "1s/9901, rounded up")
	assert.Equal(t, 99*s.interval, s.numberSlack, "a burst of MPS/100")

	const mps = 2000
	returns, busiest := grantsFor(t, NewShaper(ShaperOptions{MPS: mps}), 1500*time.Millisecond)
	t.Logf("%d grants in 1.5 s, busiest 1-s window %d", len(returns), busiest)
	assert.LessOrEqual(t, busiest, mps, "grants in the busiest 1-s window")
}

func TestShaperNumbersAreIndependent(t *testing.T) {
	s := NewShaper(ShaperOptions{MPS: 2}) // one send per 500 ms per number

	took, err := timedWait(t.Context(), s, numberA, "1")
	require.NoError(t, err)
	assert.Less(t, took, 200*time.Millisecond, "first send of A is immediate")

	took, err = timedWait(t.Context(), s, numberB, "2")
	require.NoError(t, err)
	assert.Less(t, took, 250*time.Millisecond, "B does not wait for A's budget")

	took, err = timedWait(t.Context(), s, numberA, "3")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, took, 350*time.Millisecond, "A's second send waits for A's budget")
}

func TestShaperPairIntervalSerializesOneRecipient(t *testing.T) {
	const interval = 200 * time.Millisecond
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: interval})

	var mu sync.Mutex
	var returns []time.Time
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for range 2 {
				if !assert.NoError(t, s.Wait(t.Context(), numberA, "15551234567")) {
					return
				}
				now := time.Now()
				mu.Lock()
				returns = append(returns, now)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	require.Len(t, returns, 6)
	slices.SortFunc(returns, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(returns); i++ {
		// Grants are ≥ interval apart; 10 ms absorbs the time between a
		// grant and the goroutine reading the clock.
		assert.GreaterOrEqual(t, returns[i].Sub(returns[i-1]), interval-10*time.Millisecond, "gap before send %d", i)
	}
}

func TestShaperPairWaitDoesNotHoldOtherRecipients(t *testing.T) {
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: 10 * time.Second})
	require.NoError(t, s.Wait(t.Context(), numberA, "busy"))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	blocked := goWait(t, ctx, s, numberA, "busy") // waits out 10 s
	require.Eventually(t, func() bool { return blockedOnTurn(s, numberA, "busy", 1) }, 5*time.Second, time.Millisecond)

	took, err := timedWait(t.Context(), s, numberA, "other")
	require.NoError(t, err)
	assert.Less(t, took, 500*time.Millisecond, "another recipient of the same number goes ahead")

	cancel()
	assert.ErrorIs(t, receive(t, blocked, 5*time.Second).err, context.Canceled)
}

func TestShaperPairBurst(t *testing.T) {
	const interval = 300 * time.Millisecond
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: interval, PairBurst: 3})

	start := time.Now()
	for i := range 3 {
		require.NoError(t, s.Wait(t.Context(), numberA, "r"), "send %d", i)
	}
	assert.Less(t, time.Since(start), interval/2, "the burst goes back to back")

	took, err := timedWait(t.Context(), s, numberA, "r")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, took, interval-50*time.Millisecond, "the fourth send waits for the interval")
}

func TestShaperPauseNumber(t *testing.T) {
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: time.Millisecond})
	s.PauseNumber(numberA, time.Now().Add(time.Hour))

	took, err := timedWait(t.Context(), s, numberA, "r1")
	require.ErrorIs(t, err, ErrPaused)
	assert.Less(t, took, 100*time.Millisecond, "a paused number answers at once")
	pe, ok := errors.AsType[*PausedError](err)
	require.True(t, ok)
	assert.Equal(t, numberA, pe.PhoneNumberID)
	assert.False(t, pe.Recipient)
	assert.InDelta(t, float64(time.Hour), float64(pe.Remaining), float64(time.Minute))
	assert.NotContains(t, err.Error(), "r1")

	require.NoError(t, s.Wait(t.Context(), numberB, "r1"), "other numbers keep sending")

	s.PauseNumber(numberA, time.Now().Add(time.Second))
	err = s.Wait(t.Context(), numberA, "r1")
	pe, ok = errors.AsType[*PausedError](err)
	require.True(t, ok)
	assert.Greater(t, pe.Remaining, 59*time.Minute, "a shorter pause does not shorten the running one")

	s.ResumeNumber(numberA)
	require.NoError(t, s.Wait(t.Context(), numberA, "r1"))
}

func TestShaperPauseRecipient(t *testing.T) {
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: time.Millisecond})
	s.PauseRecipient(numberA, "r1", time.Now().Add(4*time.Hour))

	err := s.Wait(t.Context(), numberA, "r1")
	require.ErrorIs(t, err, ErrPaused)
	pe, ok := errors.AsType[*PausedError](err)
	require.True(t, ok)
	assert.True(t, pe.Recipient)
	assert.Equal(t, numberA, pe.PhoneNumberID)
	assert.InDelta(t, float64(4*time.Hour), float64(pe.Remaining), float64(time.Minute))

	require.NoError(t, s.Wait(t.Context(), numberA, "r2"), "other recipients of the number keep going")
	require.NoError(t, s.Wait(t.Context(), numberB, "r1"), "the same recipient on another number keeps going")

	s.ResumeRecipient(numberA, "r1")
	require.NoError(t, s.Wait(t.Context(), numberA, "r1"))
}

func TestShaperPauseExpires(t *testing.T) {
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: time.Millisecond})
	s.PauseRecipient(numberA, "r1", time.Now().Add(100*time.Millisecond))
	s.PauseNumber(numberB, time.Now().Add(100*time.Millisecond))
	require.ErrorIs(t, s.Wait(t.Context(), numberA, "r1"), ErrPaused)
	require.ErrorIs(t, s.Wait(t.Context(), numberB, "r1"), ErrPaused)

	require.Eventually(t, func() bool {
		return s.Wait(t.Context(), numberA, "r1") == nil && s.Wait(t.Context(), numberB, "r1") == nil
	}, 5*time.Second, 10*time.Millisecond)
}

func TestShaperPauseWakesBlockedWaits(t *testing.T) {
	cases := []struct {
		name          string
		pause         func(s *Shaper)
		wantRecipient bool
	}{
		{name: "recipient", pause: func(s *Shaper) { s.PauseRecipient(numberA, "r", time.Now().Add(time.Hour)) }, wantRecipient: true},
		{name: "number", pause: func(s *Shaper) { s.PauseNumber(numberA, time.Now().Add(time.Hour)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A 10 s pair interval: without the wake-up both Waits would
			// sit there far longer than receive allows.
			s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: 10 * time.Second})
			require.NoError(t, s.Wait(t.Context(), numberA, "r"))
			first := goWait(t, t.Context(), s, numberA, "r")  // sleeps on the interval
			second := goWait(t, t.Context(), s, numberA, "r") // queues behind it
			require.Eventually(t, func() bool { return blockedOnTurn(s, numberA, "r", 2) }, 5*time.Second, time.Millisecond)

			tc.pause(s)
			for _, ch := range []<-chan waitResult{first, second} {
				res := receive(t, ch, 3*time.Second)
				pe, ok := errors.AsType[*PausedError](res.err)
				require.True(t, ok, "want *PausedError, got %v", res.err)
				assert.Equal(t, tc.wantRecipient, pe.Recipient)
			}
		})
	}
}

func TestShaperContextCancel(t *testing.T) {
	t.Run("already canceled", func(t *testing.T) {
		s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: 10 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.ErrorIs(t, s.Wait(ctx, numberA, "r"), context.Canceled)
		took, err := timedWait(t.Context(), s, numberA, "r")
		require.NoError(t, err)
		assert.Less(t, took, time.Second, "the canceled Wait granted nothing")
	})

	t.Run("blocked on the interval and on the turn", func(t *testing.T) {
		s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: 10 * time.Second})
		require.NoError(t, s.Wait(t.Context(), numberA, "r"))
		ctx, cancel := context.WithCancel(t.Context())
		first := goWait(t, ctx, s, numberA, "r")
		second := goWait(t, ctx, s, numberA, "r")
		require.Eventually(t, func() bool { return blockedOnTurn(s, numberA, "r", 2) }, 5*time.Second, time.Millisecond)

		cancel()
		for _, ch := range []<-chan waitResult{first, second} {
			res := receive(t, ch, 3*time.Second)
			assert.Equal(t, context.Canceled, res.err, "Wait returns ctx.Err() itself")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		assert.Zero(t, s.recipients[recipientKey{numberA, "r"}].refs, "canceled Waits let go of the entry")
		assert.Empty(t, s.recipients[recipientKey{numberA, "r"}].turn, "and of the turn")
	})

	t.Run("deadline on the number budget", func(t *testing.T) {
		s := NewShaper(ShaperOptions{MPS: 1, PairInterval: time.Millisecond})
		require.NoError(t, s.Wait(t.Context(), numberA, "r1"))
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		took, err := timedWait(ctx, s, numberA, "r2")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, took, 900*time.Millisecond)
	})
}

func TestShaperEvictsIdleRecipients(t *testing.T) {
	const interval = 50 * time.Millisecond
	s := NewShaper(ShaperOptions{MPS: 1_000_000, PairInterval: interval})
	for i := range 200 {
		require.NoError(t, s.Wait(t.Context(), numberA, fmt.Sprintf("old-%d", i)))
	}
	s.PauseRecipient(numberA, "paused", time.Now().Add(interval))
	s.mu.Lock()
	require.Len(t, s.recipients, 200)
	s.mu.Unlock()

	probe := 0
	require.Eventually(t, func() bool {
		probe++
		if err := s.Wait(t.Context(), numberA, fmt.Sprintf("probe-%d", probe)); err != nil {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for k := range s.recipients {
			if k.to[:3] == "old" {
				return false
			}
		}
		return len(s.recipientPauses) == 0
	}, 5*time.Second, 10*time.Millisecond, "idle recipients and expired pauses are dropped")
}

func TestShaperKeepsRecipientsInUse(t *testing.T) {
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: 10 * time.Second})
	require.NoError(t, s.Wait(t.Context(), numberA, "r"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	blocked := goWait(t, ctx, s, numberA, "r")
	require.Eventually(t, func() bool { return blockedOnTurn(s, numberA, "r", 1) }, 5*time.Second, time.Millisecond)

	s.mu.Lock()
	s.lastSweep = time.Time{}
	s.sweepLocked(time.Now().Add(time.Hour)) // as if everything were long idle
	_, kept := s.recipients[recipientKey{numberA, "r"}]
	s.mu.Unlock()
	assert.True(t, kept, "an entry a Wait holds is never dropped")

	cancel()
	assert.ErrorIs(t, receive(t, blocked, 3*time.Second).err, context.Canceled)
}
