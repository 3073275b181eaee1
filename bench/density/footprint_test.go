package density

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// TestFootprintOfSmallPopulations runs each memory measurement on 100
// actors. It checks only that the helpers work and report a growth; the
// figures themselves are what the benchmarks are for.
func TestFootprintOfSmallPopulations(t *testing.T) {
	const n = 100
	tests := []struct {
		name string
		// footprint measures a population of n actors.
		footprint func(t *testing.T) (footprint, error)
	}{
		{name: "bare actors that do nothing", footprint: func(*testing.T) (footprint, error) { return bareFootprint(n, barePlain, 0) }},
		{name: "named bare actors with a timer", footprint: func(*testing.T) (footprint, error) { return bareFootprint(n, bareTimer, 0) }},
		{name: "active conversations", footprint: func(t *testing.T) (footprint, error) {
			return conversationFootprint(t.Context(), t.TempDir(), n, ByInbound, 0, 0, zap.NewNop())
		}},
		{name: "active conversations activated by load", footprint: func(t *testing.T) (footprint, error) {
			return conversationFootprint(t.Context(), t.TempDir(), n, ByLoad, 0, 0, zap.NewNop())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fp, err := tc.footprint(t)
			require.NoError(t, err)
			assert.Equal(t, n, fp.N)
			assert.Positive(t, fp.HeapBytes)
			assert.Positive(t, fp.BytesPerActor())
			assert.Positive(t, fp.ObjectsPerActor())
			assert.Positive(t, fp.Populate)
		})
	}
}

func TestMeasureRejectsAnEmptyPopulation(t *testing.T) {
	_, err := measure(t.Context(), "empty", 0, 0, 0, func() error { return nil })
	require.Error(t, err)
}

// TestDriveCallsEachIndexOnceWithinTheWindow checks the load driver: every
// index is sent exactly once, never more than inflight at a time, and every
// latency is recorded.
func TestDriveCallsEachIndexOnceWithinTheWindow(t *testing.T) {
	tests := []struct {
		name        string
		n, inflight int
	}{
		{name: "one at a time", n: 50, inflight: 1},
		{name: "window larger than the work", n: 10, inflight: 256},
		{name: "many windows", n: 2000, inflight: 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var running, peak atomic.Int64
			var mu sync.Mutex
			seen := make(map[int]int, tc.n)
			lat := make([]time.Duration, tc.n)
			for i := range lat {
				lat[i] = -1 // not recorded
			}
			err := drive(t.Context(), tc.n, tc.inflight, lat, func(i int) error {
				now := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
				}
				mu.Lock()
				seen[i]++
				mu.Unlock()
				return nil
			})
			require.NoError(t, err)
			require.Len(t, seen, tc.n)
			for i, times := range seen {
				require.Equal(t, 1, times, "index %d", i)
			}
			assert.LessOrEqual(t, peak.Load(), int64(tc.inflight))
			for i, d := range lat {
				assert.GreaterOrEqual(t, d, time.Duration(0), "latency %d not recorded", i)
			}
		})
	}
}

func TestDriveStopsAtTheFirstError(t *testing.T) {
	var calls atomic.Int64
	err := drive(t.Context(), 1000, 1, nil, func(i int) error {
		calls.Add(1)
		if i == 3 {
			return errDuplicate
		}
		return nil
	})
	require.ErrorIs(t, err, errDuplicate)
	assert.EqualValues(t, 4, calls.Load())
}

func TestPercentiles(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(100-i) * time.Millisecond
	}
	p50, p99 := percentiles(lat)
	assert.Equal(t, 51*time.Millisecond, p50)
	assert.Equal(t, 100*time.Millisecond, p99)
	p50, p99 = percentiles(nil)
	assert.Zero(t, p50)
	assert.Zero(t, p99)
}

// TestSeededConversationsAreActivatedByOneMessage checks what the memory
// benchmark relies on: a seeded conversation is loaded by its actor, not
// created again with a customer, and after one inbound message it holds
// that message and a pending window timer.
func TestSeededConversationsAreActivatedByOneMessage(t *testing.T) {
	const n = 5
	f, err := openFleet(t.Context(), t.TempDir(), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.Close()) })

	require.NoError(t, f.seed(t.Context(), 0, n, ByInbound))
	require.NoError(t, f.activate(t.Context(), 0, n))
	require.Equal(t, n, f.host.Live())
	for i := range n {
		key := customerKey(i)
		c, err := f.store.OpenConversation(t.Context(), key.PhoneNumberID, key.WaID)
		require.NoError(t, err)
		assert.EqualValues(t, 1, c.Seq, "conversation %d", i)
		assert.EqualValues(t, 2, c.Version, "conversation %d: seeded, then saved once", i)
		assert.Equal(t, c.LastInboundAt.Add(fleetConfig.Window-fleetConfig.Warning), c.NextTimerAt, "conversation %d", i)
		_, err = f.store.CustomerByPhone(t.Context(), "+"+key.WaID)
		assert.ErrorIs(t, err, actors.ErrNotFound, "conversation %d: no customer created", i)
	}
	// A second message for an active conversation is applied, not reopened.
	key := customerKey(0)
	require.NoError(t, f.deliver(key, inbound(key, 1)))
	require.ErrorIs(t, f.deliver(key, inbound(key, 1)), errDuplicate)
}

// TestWatchIdleReadsTheWindow checks the idle watcher's bookkeeping: the
// window it reports covers what it was asked to watch, and the forced
// collection after it is counted.
func TestWatchIdleReadsTheWindow(t *testing.T) {
	const d = 20 * time.Millisecond
	c, err := watchIdle(t.Context(), d)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, c.Window, d)
	assert.GreaterOrEqual(t, c.GCCPU, time.Duration(0))
	assert.GreaterOrEqual(t, c.ProcessCPU, time.Duration(0))
	assert.Positive(t, c.FullGCCPU, "a forced collection costs some GC CPU")
	assert.GreaterOrEqual(t, c.FullGCProcessCPU, time.Duration(0))
	assert.InDelta(t, c.GCCPU.Seconds()/c.Window.Seconds(), c.GCShare(), 1e-9)
	assert.InDelta(t, c.ProcessCPU.Seconds()/c.Window.Seconds(), c.ProcessShare(), 1e-9)
	assert.InDelta(t, c.FullGCProcessCPU.Seconds()/ForcedGCPeriod.Seconds(), c.ForcedGCShare(), 1e-9)
}

// TestLoadActivationHoldsWhatAnInboundLeaves checks what ByLoad relies on:
// a conversation seeded for it and activated by a Tick holds the same state
// as one seeded as new and activated by one inbound message (one message
// applied and unread, the window open, the warning timer pending), and no
// write happened on the way.
func TestLoadActivationHoldsWhatAnInboundLeaves(t *testing.T) {
	const n = 5
	held := func(t *testing.T, how Activation) []actors.Conversation {
		t.Helper()
		f, err := openFleet(t.Context(), t.TempDir(), zap.NewNop())
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, f.Close()) })
		require.NoError(t, f.seed(t.Context(), 0, n, how))
		if how == ByLoad {
			require.NoError(t, f.activateLoaded(t.Context(), 0, n))
		} else {
			require.NoError(t, f.activate(t.Context(), 0, n))
		}
		require.Equal(t, n, f.host.Live())
		out := make([]actors.Conversation, n)
		for i := range n {
			// A Tick with nothing due answers the state the actor holds.
			res, err := f.request(customerKey(i), conversation.Tick{})
			require.NoError(t, err)
			stored, err := f.store.OpenConversation(t.Context(), businessNumber, customerWaID(i))
			require.NoError(t, err)
			assert.Equal(t, stored, res.Conversation, "conversation %d: the actor holds what is stored", i)
			out[i] = res.Conversation
		}
		return out
	}
	byInbound, byLoad := held(t, ByInbound), held(t, ByLoad)
	for i := range n {
		in, ld := byInbound[i], byLoad[i]
		assert.EqualValues(t, 2, in.Version, "conversation %d: seeded, then saved once", i)
		assert.EqualValues(t, 1, ld.Version, "conversation %d: seeded, never saved", i)
		for _, c := range []actors.Conversation{in, ld} {
			assert.Equal(t, actors.StateNew, c.State)
			assert.EqualValues(t, 1, c.Seq)
			assert.Equal(t, 1, c.Unread)
			assert.Equal(t, c.LastInboundAt.Add(fleetConfig.Window), c.ExpiresAt)
			assert.Equal(t, c.ExpiresAt.Add(-fleetConfig.Warning), c.NextTimerAt)
			assert.Empty(t, c.AssigneeID)
			assert.True(t, c.WarnedAt.IsZero())
		}
	}
}
