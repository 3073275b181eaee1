package whatsapp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type budgetCall struct {
	key       string
	perMinute int
}

// fakeBudget records Allow calls; it refuses the first refuse calls with
// retryAfter, then allows, or fails every call with err when set.
type fakeBudget struct {
	mu         sync.Mutex
	calls      []budgetCall
	refuse     int
	retryAfter time.Duration
	err        error
}

func (f *fakeBudget) Allow(ctx context.Context, key string, perMinute int) (bool, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, budgetCall{key: key, perMinute: perMinute})
	if f.err != nil {
		return false, 0, f.err
	}
	if f.refuse > 0 {
		f.refuse--
		return false, f.retryAfter, nil
	}
	return true, 0, nil
}

func (f *fakeBudget) recorded() []budgetCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]budgetCall(nil), f.calls...)
}

func (f *fakeBudget) set(refuse int, retryAfter time.Duration, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse, f.retryAfter, f.err = refuse, retryAfter, err
}

func TestShaperSharedBudgetKeysAndCounts(t *testing.T) {
	budget := &fakeBudget{}
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: time.Millisecond, Limiter: budget})

	for _, to := range []string{"r1", "r2", "r3"} {
		require.NoError(t, s.Wait(t.Context(), numberA, to))
	}
	require.NoError(t, s.Wait(t.Context(), numberB, "r1"))

	assert.Equal(t, []budgetCall{
		{key: "mps:" + numberA, perMinute: 60000},
		{key: "mps:" + numberA, perMinute: 60000},
		{key: "mps:" + numberA, perMinute: 60000},
		{key: "mps:" + numberB, perMinute: 60000},
	}, budget.recorded(), "one Allow per grant, keyed by number, perMinute = MPS*60")
}

func TestShaperSharedBudgetRefusalWaits(t *testing.T) {
	budget := &fakeBudget{}
	budget.set(3, 100*time.Millisecond, nil)
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: time.Millisecond, Limiter: budget})

	took, err := timedWait(t.Context(), s, numberA, "r")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, took, 300*time.Millisecond, "three refusals, 100 ms each")
	assert.Len(t, budget.recorded(), 4, "asked again after each retryAfter")
}

func TestShaperSharedBudgetError(t *testing.T) {
	down := errors.New("dial tcp 127.0.0.1:6379: connection refused")
	budget := &fakeBudget{}
	budget.set(0, 0, down)
	s := NewShaper(ShaperOptions{MPS: 1000, PairInterval: 10 * time.Second, Limiter: budget})

	err := s.Wait(t.Context(), numberA, "r")
	require.ErrorIs(t, err, ErrBudgetUnavailable)
	require.ErrorIs(t, err, down)
	assert.Contains(t, err.Error(), numberA)
	assert.Equal(t, Retry, Classify(err).Action)

	budget.set(0, 0, nil)
	took, err := timedWait(t.Context(), s, numberA, "r")
	require.NoError(t, err)
	assert.Less(t, took, time.Second, "the failed Wait did not use the pair's 10 s interval")
}

func TestShaperSharedBudgetCancelAndPause(t *testing.T) {
	t.Run("cancel while refused", func(t *testing.T) {
		budget := &fakeBudget{}
		budget.set(1000, 10*time.Second, nil)
		s := NewShaper(ShaperOptions{MPS: 1000, Limiter: budget})
		ctx, cancel := context.WithCancel(t.Context())
		res := goWait(t, ctx, s, numberA, "r")
		require.Eventually(t, func() bool { return len(budget.recorded()) == 1 }, 5*time.Second, time.Millisecond)
		cancel()
		assert.Equal(t, context.Canceled, receive(t, res, 3*time.Second).err)
	})
	t.Run("pause while refused", func(t *testing.T) {
		budget := &fakeBudget{}
		budget.set(1000, 10*time.Second, nil)
		s := NewShaper(ShaperOptions{MPS: 1000, Limiter: budget})
		res := goWait(t, t.Context(), s, numberA, "r")
		require.Eventually(t, func() bool { return len(budget.recorded()) == 1 }, 5*time.Second, time.Millisecond)
		s.PauseNumber(numberA, time.Now().Add(time.Minute))
		assert.ErrorIs(t, receive(t, res, 3*time.Second).err, ErrPaused)
	})
	t.Run("paused number does not ask", func(t *testing.T) {
		budget := &fakeBudget{}
		s := NewShaper(ShaperOptions{MPS: 1000, Limiter: budget})
		s.PauseNumber(numberA, time.Now().Add(time.Minute))
		require.ErrorIs(t, s.Wait(t.Context(), numberA, "r"), ErrPaused)
		assert.Empty(t, budget.recorded())
	})
}
