package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// Race runs n calls of f at once (released together) and waits for them.
func Race(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

// OneWinner requires exactly one nil error in errs, every other one
// matching loser, and returns the winner's index.
func OneWinner(t *testing.T, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "calls %d and %d both won", winner, i)
			winner = i
			continue
		}
		require.ErrorIs(t, err, loser, "losing call %d", i)
	}
	require.NotEqual(t, -1, winner, "no call won")
	return winner
}

// Races on a failing backend.
//
// A store on a server may fail any single call with actors.ErrUnavailable
// when the server fails to carry it out (FerretDB v1 on PostgreSQL does so
// under load; see package mongostore), and a write that failed so may or may
// not have landed, like one whose connection broke. The checks below accept
// that outcome, and only that one, in place of the expected one, and log
// each such call. When no call failed they check exactly what OneWinner and
// NoError check; a race in which every call failed fails.

// Failed returns the indexes of the calls whose error is
// actors.ErrUnavailable, logging each, and requires that some call did not
// fail.
func Failed(t *testing.T, errs []error) []int {
	t.Helper()
	var failed []int
	for i, err := range errs {
		if errors.Is(err, actors.ErrUnavailable) {
			t.Logf("call %d failed on the backend: %v", i, err)
			failed = append(failed, i)
		}
	}
	require.Less(t, len(failed), len(errs), "every call failed on the backend")
	return failed
}

// NilOrUnavailable requires every error in errs to be nil or
// actors.ErrUnavailable and returns the indexes of the failed calls.
func NilOrUnavailable(t *testing.T, errs []error) []int {
	t.Helper()
	failed := Failed(t, errs)
	for i, err := range errs {
		if !slices.Contains(failed, i) {
			require.NoError(t, err, "call %d", i)
		}
	}
	return failed
}

// AtMostOneWinner checks a race of conditional writes of which one must win
// on a healthy backend: at most one error is nil, every other one matches
// loser or is actors.ErrUnavailable, and when none is ErrUnavailable exactly
// one is nil. It returns the winner's index (-1 when no call won, which only
// a failed call can cause: it held the right to write) and the indexes of
// the failed calls.
func AtMostOneWinner(t *testing.T, errs []error, loser error) (winner int, failed []int) {
	t.Helper()
	failed = Failed(t, errs)
	winner = -1
	for i, err := range errs {
		switch {
		case err == nil:
			require.Equal(t, -1, winner, "calls %d and %d both won", winner, i)
			winner = i
		case !slices.Contains(failed, i):
			require.ErrorIs(t, err, loser, "losing call %d", i)
		}
	}
	if len(failed) == 0 {
		require.NotEqual(t, -1, winner, "no call won")
	}
	return winner, failed
}

// Landed checks whose write of a race the stored state shows: landed is the
// index of that call, -1 when the state is the one before the race. It must
// be the winner's; when no call won the state is unchanged or shows one of
// the failed calls' writes.
func Landed(t *testing.T, winner int, failed []int, landed int) {
	t.Helper()
	if winner >= 0 {
		require.Equal(t, winner, landed, "the stored state must show the winner's write")
		return
	}
	if landed >= 0 {
		require.Contains(t, failed, landed, "no call won: only a failed call's write may have landed")
	}
}
