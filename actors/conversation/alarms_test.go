package conversation

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAlarmsKeepTheEarliestFirst sets, moves and cancels the alarms of many
// actors in a random order and checks that the heap stays ordered, that
// every actor's slot names its own entry, and that the alarms come off in
// deadline order. The deadlines are an hour away: nothing fires.
func TestAlarmsKeepTheEarliestFirst(t *testing.T) {
	t.Parallel()
	s := newAlarms(nil, SystemClock)
	base := s.mono() + int64(time.Hour)
	actors := make([]*Actor, 1000)
	want := map[*Actor]int64{}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range actors {
		actors[i] = &Actor{}
	}
	for range 20_000 {
		a := actors[rnd.IntN(len(actors))]
		if rnd.IntN(4) == 0 {
			s.cancel(a)
			delete(want, a)
			continue
		}
		at := base + rnd.Int64N(int64(time.Hour))
		s.set(a, at)
		want[a] = at
	}
	require.Len(t, s.heap, len(want))
	for i, e := range s.heap {
		require.Equal(t, int32(i+1), e.a.slot, "slot of entry %d", i)
		require.Equal(t, want[e.a], e.at)
		if i > 0 {
			require.LessOrEqual(t, s.heap[(i-1)/2].at, e.at, "entry %d is not after its parent", i)
		}
	}
	require.True(t, s.armed)
	require.Equal(t, s.heap[0].at, s.timerAt, "the clock timer is armed for the earliest alarm")
	var got []int64
	for len(s.heap) > 0 {
		got = append(got, s.heap[0].at)
		s.cancel(s.heap[0].a)
	}
	require.True(t, slices.IsSorted(got), "alarms come off in deadline order")
	require.False(t, s.armed, "no alarm, no clock timer")
	for _, a := range actors {
		require.Zero(t, a.slot)
	}
}
