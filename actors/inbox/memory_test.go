package inbox

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/webhook"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// countingStore counts the reads and deletes the dispatcher asks of the
// real store.
type countingStore struct {
	*sqlitestore.Store
	mu      sync.Mutex
	reads   int
	deletes [][]string
}

func (s *countingStore) ClaimInbox(ctx context.Context, owner string, now, until time.Time, limit int) ([]actors.InboxEntry, error) {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.Store.ClaimInbox(ctx, owner, now, until, limit)
}

func (s *countingStore) MarkInboxDone(ctx context.Context, ids []string) error {
	s.mu.Lock()
	s.deletes = append(s.deletes, append([]string(nil), ids...))
	s.mu.Unlock()
	return s.Store.MarkInboxDone(ctx, ids)
}

func (s *countingStore) counts() (int, [][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads, append([][]string(nil), s.deletes...)
}

func openCounting(t *testing.T) *countingStore {
	t.Helper()
	store := openSQLite(t)
	return &countingStore{Store: store}
}

// appendAccepted stores entries as the gateway does (through the
// dispatcher, leased to its node), then hands them over.
func appendAccepted(t *testing.T, store *countingStore, d *Dispatcher, bodies ...[]byte) []string {
	t.Helper()
	var entries []actors.InboxEntry
	for _, b := range bodies {
		entries = append(entries, actors.InboxEntry{ID: actors.NewID(), Body: b, ReceivedAt: time.Now().UTC()})
	}
	require.NoError(t, d.AppendInbox(context.Background(), entries))
	d.Accept(entries)
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids
}

// Accepted entries are dispatched from memory, not read back; their
// completions are deleted together, in one statement.
func TestAcceptedEntriesAreNotReadBackAndLeaveTogether(t *testing.T) {
	t.Parallel()
	store := openCounting(t)
	ctx := context.Background()
	dir := &recordingDirectory{}
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})

	// The start reads the store once (what a crash left: nothing).
	n, err := d.drainOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	reads, _ := store.counts()
	require.Equal(t, 1, reads)

	var ids []string
	for i, w := range []string{"m1", "m2", "m3"} {
		ids = append(ids, appendAccepted(t, store, d, body("97"+string(rune('1'+i)), w))...)
		r, err := d.dispatch(ctx)
		require.NoError(t, err)
		require.Len(t, r.entries, 1)
		require.NoError(t, d.finish(ctx, r))
		require.NoError(t, d.flushDone(ctx, false), "not due yet")
	}
	reads, deletes := store.counts()
	require.Equal(t, 1, reads, "accepted entries are not read back")
	require.Empty(t, deletes, "completions wait to be deleted together")
	require.Equal(t, []string{"971:m1", "972:m2", "973:m3"}, dir.got)

	// Completed but not yet deleted: a read of the store skips them.
	d.Notify()
	r, err := d.dispatch(ctx)
	require.NoError(t, err)
	require.Nil(t, r, "completed entries are not taken again")

	require.NoError(t, d.flushDone(ctx, true))
	_, deletes = store.counts()
	require.Equal(t, [][]string{ids}, deletes, "one DELETE for the three")
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}

// More entries than the in-memory queue holds are left to the store and
// read back from it, each applied once, in order.
func TestAcceptOverflowIsReadFromTheStore(t *testing.T) {
	t.Parallel()
	store := openCounting(t)
	ctx := context.Background()
	dir := &recordingDirectory{}
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	_, err := d.drainOnce(ctx)
	require.NoError(t, err)

	bodies := make([][]byte, freshMax+10)
	for i := range bodies {
		bodies[i] = body("981", "o"+string(rune('a'+i/676))+string(rune('a'+i/26%26))+string(rune('a'+i%26)))
	}
	appendAccepted(t, store, d, bodies[:freshMax-5]...)
	appendAccepted(t, store, d, bodies[freshMax-5:]...) // overflows
	total := 0
	for {
		n, err := d.drainOnce(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		total += n
	}
	require.Equal(t, len(bodies), total, "each entry once")
	require.Len(t, dir.got, len(bodies))
	for i, b := range bodies {
		batch, err := webhook.Parse(b)
		require.NoError(t, err)
		require.Equal(t, "981:"+batch.Messages[0].WaMessageID, dir.got[i], "in arrival order")
	}
	reads, _ := store.counts()
	require.Greater(t, reads, 1, "read back from the store")
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}

// Run applies accepted entries and, when it stops, deletes the completed
// ones it had not deleted yet.
func TestRunAppliesAcceptedEntriesAndFlushesOnStop(t *testing.T) {
	t.Parallel()
	store := openCounting(t)
	dir := &recordingDirectory{}
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	// One entry stored before the start, as a crash leaves it.
	require.NoError(t, store.AppendInbox(context.Background(), []actors.InboxEntry{{ID: actors.NewID(), Body: body("991", "r0"), ReceivedAt: time.Now().UTC()}}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	appendAccepted(t, store, d, body("991", "r1"), body("992", "r2"))
	appendAccepted(t, store, d, body("991", "r3"))
	require.Eventually(t, func() bool {
		dir.mu.Lock()
		defer dir.mu.Unlock()
		return len(dir.got) == 4
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, []string{"991:r0", "991:r1", "992:r2", "991:r3"}, dir.got)
	pending, err := store.PendingInbox(context.Background(), 10)
	require.NoError(t, err)
	require.Empty(t, pending, "deleted by the stop at the latest")
}
