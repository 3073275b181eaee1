package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/cluster/clustertest"
	"github.com/wacc/engine/persistence/sqlitestore"
	"github.com/wacc/engine/supervisors"
)

// testLocal is a node's own conversation host on its own SQLite store,
// counting the commands and StopAll calls that reach it.
type testLocal struct {
	*supervisors.Host
	store    *sqlitestore.Store
	requests atomic.Int64
	sends    atomic.Int64
	// slow delays every answer by this many nanoseconds.
	slow     atomic.Int64
	stopAlls atomic.Int64
}

func (l *testLocal) Request(key conversation.Key, cmd conversation.Command, timeout time.Duration) conversation.Reply {
	l.requests.Add(1)
	r := l.Host.Request(key, cmd, timeout)
	if d := time.Duration(l.slow.Load()); d > 0 {
		return slowReply{r: r, d: d}
	}
	return r
}

// slowReply answers d later than r, as a conversation busy with a slow
// store would.
type slowReply struct {
	r conversation.Reply
	d time.Duration
}

func (s slowReply) Result() (any, error) {
	time.Sleep(s.d)
	return s.r.Result()
}

func (l *testLocal) Send(key conversation.Key, cmd conversation.Command) {
	l.sends.Add(1)
	l.Host.Send(key, cmd)
}

func (l *testLocal) StopAll(ctx context.Context) (int, error) {
	l.stopAlls.Add(1)
	return l.Host.StopAll(ctx)
}

func newTestLocal(t testing.TB) *testLocal {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	deps := &conversation.Deps{Store: store, Config: conversation.Config{Window: time.Hour, IdleTimeout: time.Minute}, Log: log}
	return &testLocal{Host: supervisors.NewHost(system, deps, 2, log), store: store}
}

// testNode is a started node with its local host.
type testNode struct {
	*Node
	local *testLocal
}

func startNode(t testing.TB, cfg Config) *testNode {
	t.Helper()
	requireRaceSafeBuild(t)
	local := newTestLocal(t)
	n, err := NewNode(cfg, local, testLogger(t).Named(cfg.Bind), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, n.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Stop(ctx)
	})
	return &testNode{Node: n, local: local}
}

// autoManagedCluster starts size nodes that list each other by automanaged
// seeds, and waits until every one sees all.
func autoManagedCluster(t testing.TB, size int) []*testNode {
	t.Helper()
	requireRaceSafeBuild(t)
	type ports struct{ bind, am int }
	ps := make([]ports, size)
	var seeds []string
	for i := range ps {
		ps[i] = ports{bind: freePort(t), am: freePort(t)}
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", ps[i].am))
	}
	nodes := make([]*testNode, size)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i] = startNode(t, Config{Provider: ProviderAutoManaged, Seeds: seeds, Bind: fmt.Sprintf("127.0.0.1:%d", ps[i].bind),
				AutoManagedPort: ps[i].am, Name: "test-" + t.Name(), AttemptTimeout: time.Second, LeaseTTL: 1500 * time.Millisecond})
		}()
	}
	wg.Wait()
	waitMembers(t, nodes, size)
	return nodes
}

// waitMembers waits until every node sees want members.
func waitMembers(t testing.TB, nodes []*testNode, want int) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if len(n.Members()) != want {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "every node sees %d members", want)
}

// keyOwnedBy is a conversation key whose owner is addr among members.
func keyOwnedBy(t testing.TB, members []string, addr string, skip int) conversation.Key {
	t.Helper()
	p := NewPlacement(members...)
	for i := 0; i < 10000; i++ {
		k := conversation.Key{PhoneNumberID: "100000000000001", WaID: fmt.Sprintf("9198%08d", i)}
		if p.Owner(k.Name()) == addr {
			if skip == 0 {
				return k
			}
			skip--
		}
	}
	t.Fatalf("no key owned by %s", addr)
	return conversation.Key{}
}

func inboundFor(key conversation.Key, wamid, text string) conversation.Inbound {
	return conversation.Inbound{Msg: actors.InboundMessage{PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, WaMessageID: wamid,
		Type: "text", Text: text, Content: []byte(`{"body":"` + text + `"}`), Timestamp: time.Now().UTC()}}
}

// openConversation is key's open conversation in store, if any.
func openConversation(t testing.TB, store *sqlitestore.Store, key conversation.Key) (actors.Conversation, bool) {
	t.Helper()
	c, err := store.OpenConversation(context.Background(), key.PhoneNumberID, key.WaID)
	if err != nil {
		return actors.Conversation{}, false
	}
	return c, true
}

// routerPID is n's router.
func routerPID(n *testNode) *actor.PID { return actor.NewPID(n.Address(), routerName) }

// testLogger logs errors only: protoactor's remote logs every lost
// connection of a test's stopped nodes as an error.
func testLogger(t testing.TB) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
}

// lastChecked is when the node's membership check last ran.
func (n *Node) lastChecked() time.Time {
	n.checkMu.Lock()
	defer n.checkMu.Unlock()
	return n.lastCheck
}

// freePort is a loopback port nothing listens on (it was free a moment
// ago).
func freePort(t testing.TB) int { return clustertest.FreePort(t) }

// startEtcd starts an etcd server for the test (see clustertest.StartEtcd)
// and returns its client endpoint as host:port.
func startEtcd(t testing.TB) string { return clustertest.StartEtcd(t).Addr() }

// requireRaceSafeBuild: see clustertest.RequireRaceSafeBuild.
func requireRaceSafeBuild(t testing.TB) { clustertest.RequireRaceSafeBuild(t, "./cluster/") }
