package inbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/webhook"
	"github.com/wacc/engine/persistence/mongostore"
	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// ledger is what every node's conversations applied: each inbound message
// is stored in the real store (whose wamid uniqueness refuses a second
// copy) and its application counted, by wamid, with the node and time.
type ledger struct {
	store actors.ConversationsStore
	mu    sync.Mutex
	// applied counts applications by wamid; dup counts the ones the store
	// refused as already stored.
	applied map[string]int
	dup     map[string]int
	by      map[string]string
	at      map[string]time.Time
}

func newLedger(store actors.ConversationsStore) *ledger {
	return &ledger{store: store, applied: map[string]int{}, dup: map[string]int{}, by: map[string]string{}, at: map[string]time.Time{}}
}

func (l *ledger) apply(node string, m actors.InboundMessage) error {
	now := time.Now().UTC()
	err := l.store.AppendMessage(context.Background(), actors.Message{ID: actors.NewID(), ConversationID: "c-" + m.WaID,
		Direction: "inbound", Type: "text", Text: "x", Status: "received", WaMessageID: m.WaMessageID, CreatedAt: now, UpdatedAt: now})
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case errors.Is(err, actors.ErrDuplicate):
		l.dup[m.WaMessageID]++
	case err != nil:
		return err
	}
	l.applied[m.WaMessageID]++
	l.by[m.WaMessageID], l.at[m.WaMessageID] = node, now
	return nil
}

func (l *ledger) snapshot() (applied, dup map[string]int, by map[string]string, at map[string]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return clone(l.applied), clone(l.dup), clone(l.by), clone(l.at)
}

func clone[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// nodeDirectory is one node's conversations: it applies inbound messages
// to the ledger.
type nodeDirectory struct {
	node   string
	ledger *ledger
	// release, when set, holds every request after the first pass ones:
	// they fail once it is closed (the node died with them in flight).
	mu      sync.Mutex
	pass    int
	release chan struct{}
}

func (d *nodeDirectory) Send(conversation.Key, conversation.Command) {}

func (d *nodeDirectory) Request(_ conversation.Key, msg conversation.Command, _ time.Duration) conversation.Reply {
	in, ok := msg.(conversation.Inbound)
	if !ok {
		return reply{v: conversation.Result{}}
	}
	d.mu.Lock()
	held := d.release != nil && d.pass == 0
	if d.release != nil && d.pass > 0 {
		d.pass--
	}
	d.mu.Unlock()
	if held {
		return gatedReply{release: d.release}
	}
	if err := d.ledger.apply(d.node, in.Msg); err != nil {
		return reply{err: err}
	}
	return reply{v: conversation.Result{}}
}

// gatedReply fails once release is closed.
type gatedReply struct{ release chan struct{} }

func (r gatedReply) Result() (any, error) {
	<-r.release
	return nil, errors.New("node stopped")
}

// sharedStores are the stores two nodes share in these tests: a SQLite
// file, and a database of FerretDB (SQLite handler) as a cluster shares
// MongoDB. lease is the nodes' lease there: on FerretDB (over SQLite, on
// this loaded machine) renewals under load took longer than the second a
// 2 s lease leaves them, and a lapsed lease is taken over, as it must be.
var sharedStores = []struct {
	name  string
	lease time.Duration
	open  func(t *testing.T) actors.ConversationsStore
}{
	{"sqlite", time.Second, func(t *testing.T) actors.ConversationsStore {
		store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zap.NewNop())
		require.NoError(t, err)
		t.Cleanup(func() { _ = store.Close() })
		return store
	}},
	{"ferretdb", 5 * time.Second, func(t *testing.T) actors.ConversationsStore {
		uri := servicetest.FerretDB(t, servicetest.FerretSQLite)
		store, err := mongostore.Open(context.Background(), uri, "inbox_"+strings.ToLower(actors.NewID()), 8, zap.NewNop())
		require.NoError(t, err)
		t.Cleanup(func() { _ = store.Close() })
		return store
	}},
}

func newNode(store actors.InboxStore, dir conversation.Directory, node string, lease time.Duration) *Dispatcher {
	return New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, NodeID: node, Lease: lease,
		Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
}

// runNode runs d until the returned stop is called, which waits for Run.
func runNode(t *testing.T, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return stop
}

// accept stores webhooks the way the gateway of node d does and hands them
// over in memory; it returns the wamids.
func accept(t *testing.T, d *Dispatcher, prefix string, n int) []string {
	t.Helper()
	entries := make([]actors.InboxEntry, n)
	wamids := make([]string, n)
	for i := range entries {
		wamids[i] = fmt.Sprintf("%s-%03d", prefix, i)
		entries[i] = actors.InboxEntry{ID: actors.NewID(), Body: body(fmt.Sprintf("9%03d", i%7), wamids[i]), ReceivedAt: time.Now().UTC()}
	}
	require.NoError(t, d.AppendInbox(context.Background(), entries))
	d.Accept(entries)
	return wamids
}

// Two nodes on one store, webhooks accepted by either and some appended
// behind both (unclaimed, read from the store by whichever claims first):
// every message is applied exactly once and stored once.
func TestTwoNodesClaimEachEntryExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, st := range sharedStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			twoNodesClaimEachEntryExactlyOnce(t, st.open(t), 2*st.lease)
		})
	}
}

func twoNodesClaimEachEntryExactlyOnce(t *testing.T, store actors.ConversationsStore, lease time.Duration) {
	l := newLedger(store)
	a := newNode(store, &nodeDirectory{node: "node-a", ledger: l}, "node-a", lease)
	b := newNode(store, &nodeDirectory{node: "node-b", ledger: l}, "node-b", lease)
	runNode(t, a)
	runNode(t, b)

	var want []string
	for round := range 5 {
		want = append(want, accept(t, a, fmt.Sprintf("a%d", round), 20)...)
		want = append(want, accept(t, b, fmt.Sprintf("b%d", round), 20)...)
		// Appended behind both nodes: unclaimed, both are told.
		var loose []actors.InboxEntry
		for i := range 20 {
			w := fmt.Sprintf("s%d-%03d", round, i)
			want = append(want, w)
			loose = append(loose, actors.InboxEntry{ID: actors.NewID(), Body: body("9100", w), ReceivedAt: time.Now().UTC()})
		}
		require.NoError(t, store.AppendInbox(context.Background(), loose))
		a.Notify()
		b.Notify()
	}

	require.Eventually(t, func() bool {
		applied, _, _, _ := l.snapshot()
		pending, err := store.PendingInbox(context.Background(), 10)
		return err == nil && len(applied) == len(want) && len(pending) == 0
	}, 60*time.Second, 10*time.Millisecond, "every entry applied and deleted")
	applied, dup, by, _ := l.snapshot()
	nodes := map[string]int{}
	for _, w := range want {
		assert.Equal(t, 1, applied[w], "wamid %s applied once", w)
		m, err := store.MessageByWaID(context.Background(), w)
		require.NoError(t, err, "wamid %s stored", w)
		assert.Equal(t, w, m.WaMessageID)
		nodes[by[w]]++
	}
	assert.Empty(t, dup, "no message stored twice")
	// What a node accepted it applied itself (its lease from the append).
	for _, w := range want {
		switch w[0] {
		case 'a':
			assert.Equal(t, "node-a", by[w], w)
		case 'b':
			assert.Equal(t, "node-b", by[w], w)
		}
	}
	t.Logf("applied by node: %v", nodes)
}

// A node stops mid-way, its entries in flight and never marked done: the
// other node leaves them alone while the stopped node's leases live (they
// are renewed while it works) and takes them over once they run out; every
// message ends stored exactly once.
func TestTakeoverAfterLeaseWhenANodeStopsMidway(t *testing.T) {
	t.Parallel()
	for _, st := range sharedStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			takeoverAfterLeaseWhenANodeStopsMidway(t, st.open(t), st.lease)
		})
	}
}

func takeoverAfterLeaseWhenANodeStopsMidway(t *testing.T, store actors.ConversationsStore, lease time.Duration) {
	l := newLedger(store)
	const first = 15
	dirA := &nodeDirectory{node: "node-a", ledger: l, pass: first, release: make(chan struct{})}
	a := newNode(store, dirA, "node-a", lease)
	b := newNode(store, &nodeDirectory{node: "node-b", ledger: l}, "node-b", lease)
	stopA := runNode(t, a)
	runNode(t, b)

	want := accept(t, a, "a", 40)
	require.Eventually(t, func() bool {
		applied, _, _, _ := l.snapshot()
		return len(applied) == first
	}, 10*time.Second, 5*time.Millisecond, "node-a applied the first ones")

	// node-a is stuck on the rest for several leases; it renews them, so
	// node-b (reading the store every lease/2) takes none.
	deadline := time.Now().Add(3 * lease)
	for time.Now().Before(deadline) {
		time.Sleep(lease / 4)
		pending, err := store.PendingInbox(context.Background(), 100)
		require.NoError(t, err)
		for _, e := range pending {
			require.Equal(t, "node-a", e.Owner, "entry %s taken from a live node", e.ID)
		}
	}
	applied, _, _, _ := l.snapshot()
	require.Len(t, applied, first, "node-b applied nothing of node-a's live entries")

	// node-a stops: its in-flight requests fail and it ends without marking
	// them done. Its leases, no longer renewed, are what node-b must wait for.
	go func() {
		time.Sleep(10 * time.Millisecond)
		close(dirA.release)
	}()
	stopA()
	pending, err := store.PendingInbox(context.Background(), 100)
	require.NoError(t, err)
	require.Len(t, pending, len(want)-first, "the unapplied entries stay in the inbox")
	leaseEnd := time.Time{}
	for _, e := range pending {
		require.Equal(t, "node-a", e.Owner)
		leaseEnd = later(leaseEnd, e.LeaseUntil)
	}

	require.Eventually(t, func() bool {
		applied, _, _, _ := l.snapshot()
		pending, err := store.PendingInbox(context.Background(), 10)
		return err == nil && len(applied) == len(want) && len(pending) == 0
	}, 60*time.Second, 10*time.Millisecond, "node-b took node-a's entries over")
	applied, dup, by, at := l.snapshot()
	taken := 0
	for _, w := range want {
		assert.Equal(t, 1, applied[w], "wamid %s applied once", w)
		if by[w] == "node-b" {
			taken++
			assert.False(t, at[w].Before(leaseEnd.Add(-time.Millisecond)), "wamid %s taken over only after node-a's lease ran out", w)
		}
		_, err := store.MessageByWaID(context.Background(), w)
		require.NoError(t, err, "wamid %s stored", w)
	}
	assert.Equal(t, len(want)-first, taken)
	assert.Empty(t, dup, "no message stored twice")
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
