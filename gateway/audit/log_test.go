package audit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// gatedAppender stores records by id, failing while down is set.
type gatedAppender struct {
	down  atomic.Bool
	mu    sync.Mutex
	byID  map[string]int
	calls atomic.Int64
}

func (g *gatedAppender) AppendAudit(_ context.Context, recs []actors.AuditRecord) error {
	g.calls.Add(1)
	if g.down.Load() {
		return errors.New("store down")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range recs {
		g.byID[r.ID]++
	}
	return nil
}

func (g *gatedAppender) stored() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.byID)
}

func TestBuffersRetriesAndCountsDrops(t *testing.T) {
	store := &gatedAppender{byID: map[string]int{}}
	store.down.Store(true)
	reg := prometheus.NewRegistry()
	l := New(store, zap.NewNop(), reg, Options{Capacity: 10, BatchSize: 4, MaxBackoff: 20 * time.Millisecond, FlushTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()

	for i := 0; i < 12; i++ {
		l.Record(actors.AuditRecord{ID: actors.NewID(), Action: "x"})
	}
	require.Equal(t, 10, l.Pending(), "buffer bounded at capacity")
	require.Equal(t, 2.0, testutil.ToFloat64(l.dropped), "the overflow is counted, not silent")
	require.Eventually(t, func() bool { return testutil.ToFloat64(l.retries) >= 2 }, 5*time.Second, 5*time.Millisecond)

	store.down.Store(false)
	require.Eventually(t, func() bool { return l.Pending() == 0 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 10, store.stored())
	store.mu.Lock()
	for id, n := range store.byID {
		require.Equal(t, 1, n, "record %s stored once", id)
	}
	store.mu.Unlock()

	// What is recorded before shutdown is flushed by Run's exit.
	l.Record(actors.AuditRecord{ID: actors.NewID(), Action: "late"})
	cancel()
	<-done
	require.Equal(t, 11, store.stored())
}
