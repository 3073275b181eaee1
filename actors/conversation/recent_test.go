package conversation

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// fill holds n messages "m0".."m<n-1>" (wamids "w0"...) in a new recent.
func fill(n int) *recent {
	r := new(recent)
	for i := range n {
		r.add(sentMessage{id: fmt.Sprintf("m%d", i), wamid: fmt.Sprintf("w%d", i), rank: 1, ours: true})
	}
	return r
}

func TestRecentHoldsTheNewest(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, recentCap - 1, recentCap, recentCap + 1, 3*recentCap + 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			r := fill(n)
			assert.LessOrEqual(t, len(r.msgs), recentCap)
			for i := range n {
				id, wamid := fmt.Sprintf("m%d", i), fmt.Sprintf("w%d", i)
				held := i >= n-recentCap
				if s := r.byID(id); held {
					require.NotNil(t, s, "%s is among the newest", id)
					assert.Equal(t, wamid, s.wamid)
				} else {
					assert.Nil(t, s, "%s is older than the newest %d", id, recentCap)
				}
				if s := r.byWaID(wamid); held {
					require.NotNil(t, s)
					assert.Equal(t, id, s.id)
				} else {
					assert.Nil(t, s)
				}
			}
			assert.Nil(t, r.byID("unknown"))
		})
	}
	var none *recent
	assert.Nil(t, none.byID("m0"), "nil holds nothing")
	assert.Nil(t, none.byWaID("w0"))
}

func TestRecentFindsTheNewestOfEqualWamids(t *testing.T) {
	t.Parallel()
	r := new(recent)
	r.add(sentMessage{id: "a", rank: 1})
	r.add(sentMessage{id: "b", rank: 1})
	assert.Nil(t, r.byWaID(""), "no wamid is not a wamid")
	r.byID("a").wamid = "w"
	r.byID("b").wamid = "w"
	assert.Equal(t, "b", r.byWaID("w").id)
}

func TestSentMessageMovesForwardOnly(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	s := sentOf(&actors.Message{ID: "m", WaMessageID: "w", Status: actors.StatusQueued, UpdatedAt: at}, true)
	werr := &actors.WhatsAppError{Code: 131026}
	steps := []struct {
		status  string
		changed bool
		want    string
	}{
		{actors.StatusSent, true, actors.StatusSent},
		{actors.StatusSent, false, actors.StatusSent},
		{actors.StatusRead, true, actors.StatusRead},
		{actors.StatusDelivered, false, actors.StatusRead},
		{"deleted", false, actors.StatusRead},
		{actors.StatusFailed, true, actors.StatusFailed},
		{actors.StatusRead, false, actors.StatusFailed},
	}
	for i, st := range steps {
		at = at.Add(time.Second)
		assert.Equal(t, st.changed, s.advance(st.status, werr, at), "step %d (%s)", i, st.status)
		assert.Equal(t, st.want, s.status(), "after step %d", i)
	}
	assert.False(t, s.spares(actors.StatusRead), "a held failed status may be behind the store (a re-drive)")
	s.set(actors.StatusSent, nil, at)
	assert.Equal(t, actors.StatusSent, s.status(), "set as the store holds it")
	assert.True(t, s.spares(actors.StatusSent))
	assert.True(t, s.spares(actors.StatusQueued))
	assert.False(t, s.spares(actors.StatusDelivered))
	s.set(actors.StatusFailed, werr, at)
	m := s.message("conv-1")
	assert.Equal(t, actors.Message{ID: "m", ConversationID: "conv-1", Direction: actors.DirectionOutbound, Status: actors.StatusFailed,
		WaMessageID: "w", Error: werr, UpdatedAt: at}, m)
}

func TestRecentKnowsWhereStatusesMayBePending(t *testing.T) {
	t.Parallel()
	r := fill(2)
	ours := r.byID("m0")
	read := r.add(sentMessage{id: "x", rank: 2})
	assert.False(t, r.mayPend(ours, "w0"), "stored by this activation, nothing kept")
	assert.True(t, r.mayPend(read, "wx"), "read from the store: sent before, maybe pending")
	assert.True(t, r.mayPend(nil, "w0"), "not held")
	var none *recent
	assert.True(t, none.mayPend(ours, "w0"), "nothing held")

	r.keptPending("w0")
	r.keptPending("w0")
	assert.True(t, r.mayPend(ours, "w0"))
	assert.False(t, r.mayPend(ours, "w1"))
	r.tookPending("w0")
	assert.False(t, r.mayPend(ours, "w0"), "taken")

	for i := range maxPendingKept {
		r.keptPending(fmt.Sprintf("p%d", i))
	}
	assert.False(t, r.pendingLost)
	assert.False(t, r.mayPend(ours, "w0"))
	r.keptPending("one more")
	assert.True(t, r.pendingLost)
	assert.Empty(t, r.pending)
	assert.True(t, r.mayPend(ours, "w0"), "count lost: every outcome looks")
}

// BenchmarkRecent measures a lookup in a full ring: the newest (a status
// right after its send), the oldest and a miss (every new send's
// duplicate check) scan the most.
func BenchmarkRecent(b *testing.B) {
	// Ids and wamids of real lengths: the engine's ids are 32 hex digits.
	id := func(i int) string { return fmt.Sprintf("%032x", i) }
	wamid := func(i int) string { return fmt.Sprintf("wamid.HBgLNDkxNTExMjM0NTY3OBUCABEYEjQ4%024X", i) }
	r := new(recent)
	for i := range recentCap + recentCap/2 {
		r.add(sentMessage{id: id(i), wamid: wamid(i), rank: 2})
	}
	newest, oldest, miss := wamid(recentCap+recentCap/2-1), wamid(recentCap/2), id(1<<40)
	b.Run("newest by wamid", func(b *testing.B) {
		for b.Loop() {
			if r.byWaID(newest) == nil {
				b.Fatal("not found")
			}
		}
	})
	b.Run("oldest by wamid", func(b *testing.B) {
		for b.Loop() {
			if r.byWaID(oldest) == nil {
				b.Fatal("not found")
			}
		}
	})
	b.Run("miss by id", func(b *testing.B) {
		for b.Loop() {
			if r.byID(miss) != nil {
				b.Fatal("found")
			}
		}
	})
}
