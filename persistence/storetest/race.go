package storetest

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
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
