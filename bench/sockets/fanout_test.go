package sockets

import (
	"fmt"
	"testing"
	"time"

	"sync/atomic"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestFanoutRun is a run of 2 users, user 0 holding 2 sockets and user
// 1 one, with 2 conversations, measuring from measureFrom.
func newTestFanoutRun(measureFrom time.Time) *fanoutRun {
	r := &fanoutRun{opts: FanoutOptions{Agents: 3, Users: 2, Conversations: 2}, digits: "1234",
		userIndex: map[string]int{"u0": 0, "u1": 1}, convIndex: map[string]int{}, socketsOf: []int{2, 1},
		assignee: make([]atomic.Int32, 2), got: make([]atomic.Int32, 8), posted: make([]atomic.Bool, 8)}
	for c := 0; c < 2; c++ {
		r.convIndex[r.waID(c)] = c
	}
	r.frames, r.agentLat, r.supLat = newRecorder(measureFrom), newRecorder(measureFrom), newRecorder(measureFrom)
	r.measureFrom.Store(measureFrom.UnixNano())
	return r
}

func messageFrame(seq int64, sent time.Time) []byte {
	return []byte(fmt.Sprintf(`{"type":"message.created","data":{"text":%q}}`, formatMarker(seq, sent)))
}

func assignedFrame(waID, assignee string) []byte {
	return []byte(fmt.Sprintf(`{"type":"conversation.assigned","data":{"id":"c","waId":%q,"assigneeId":%q}}`, waID, assignee))
}

func TestFanoutLearnsAssignmentsFromAgentSockets(t *testing.T) {
	r := newTestFanoutRun(time.Now())
	r.onFrame(0, assignedFrame(r.waID(0), "u1")) // the supervisor's copy does not count
	assert.Equal(t, int64(0), r.assigned.Load())
	r.onFrame(1, assignedFrame(r.waID(0), "u1"))
	r.onFrame(3, assignedFrame(r.waID(0), "u1")) // a second socket of the same event
	r.onFrame(2, assignedFrame(r.waID(1), "u0"))
	r.onFrame(2, assignedFrame("919999", "u0"))                                                    // another run's customer
	r.onFrame(2, assignedFrame(r.waID(1), "stranger"))                                             // an unknown user
	r.onFrame(2, []byte(`{"type":"conversation.assigned","data":{"waId":"x","assigneeId":null}}`)) // unassigned
	assert.Equal(t, int64(2), r.assigned.Load())
	assert.Equal(t, int32(2), r.assignee[0].Load(), "user 1")
	assert.Equal(t, int32(1), r.assignee[1].Load(), "user 0")
}

func TestFanoutCountsFramesAndLosses(t *testing.T) {
	start := time.Now().Add(-time.Second)
	r := newTestFanoutRun(start)
	r.assignee[0].Store(1) // conversation 0 → user 0 (2 sockets)
	r.assignee[1].Store(2) // conversation 1 → user 1 (1 socket)

	// seq 0 (conversation 0): both of user 0's sockets and the supervisor.
	r.posted[0].Store(true)
	for _, s := range []int{1, 3, 0} {
		r.onFrame(s, messageFrame(0, start.Add(10*time.Millisecond)))
	}
	// seq 1 (conversation 1): only the supervisor's frame arrives.
	r.posted[1].Store(true)
	r.onFrame(0, messageFrame(1, start.Add(10*time.Millisecond)))
	// seq 2: sent during the warm-up, not measured.
	r.onFrame(0, messageFrame(2, start.Add(-time.Millisecond)))
	// seq 3 (conversation 1) arrives twice on user 1's socket.
	r.posted[3].Store(true)
	for _, s := range []int{2, 2, 0} {
		r.onFrame(s, messageFrame(3, start.Add(20*time.Millisecond)))
	}
	// seq 99 is beyond the run's range.
	r.onFrame(0, messageFrame(99, start.Add(20*time.Millisecond)))

	expected, lost, dup := r.tally()
	assert.Equal(t, int64(3+2+2), expected)
	assert.Equal(t, int64(1), lost, "user 1's frame of seq 1")
	assert.Equal(t, int64(1), dup)
	assert.Equal(t, int64(1), r.stray.Load())
	assert.Equal(t, int64(8), r.frames.count(), "every measured frame is timed")
	assert.Equal(t, int64(4), r.supLat.count())
	assert.Equal(t, int64(4), r.agentLat.count())
	p := r.frames.quantile(50)
	require.Greater(t, p, 900*time.Millisecond, "latency is now minus the send time")
}
