package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wacc/engine/actors/conversation"
)

// TestFrozenNodeDownsAndRejoins: a node whose membership check finds it was
// blocked longer than the lease TTL (as after SIGSTOP; the freeze is
// simulated by handing check a later time) stops its conversation actors
// and rejoins as a new member. What only the multi-process test can show:
// a real SIGSTOP, and that the others gave its keys away meanwhile.
func TestFrozenNodeDownsAndRejoins(t *testing.T) {
	nodes := autoManagedCluster(t, 1)
	n := nodes[0]
	key := conversation.Key{PhoneNumberID: "100000000000001", WaID: "919800000001"}
	_, err := conversation.Ask(n.Directory(), key, inboundFor(key, "wamid.freeze.1", "hi"), 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, 1, n.local.Live())
	require.True(t, n.Serving(), "a fresh, listed node serves")
	before := n.MemberID()

	n.check(n.lastChecked().Add(n.cfg.LeaseTTL / 4)) // an ordinary tick
	require.Zero(t, n.Downs())
	n.check(n.lastChecked().Add(n.cfg.LeaseTTL + time.Second)) // woke up after a freeze
	require.EqualValues(t, 1, n.Downs())
	require.EqualValues(t, 1, n.local.stopAlls.Load(), "conversation actors stopped")
	require.False(t, n.Serving(), "a node that woke up from a freeze does not serve until it rejoined")
	require.Equal(t, 1.0, testutil.ToFloat64(n.metrics.downs.WithLabelValues(downFrozen)), "engine_cluster_downs_total{reason=frozen}")
	require.Eventually(t, func() bool { return n.local.Live() == 0 }, 5*time.Second, 10*time.Millisecond)

	require.Eventually(t, func() bool {
		id := n.MemberID()
		return id != "" && id != before && len(n.Members()) == 1
	}, 10*time.Second, 20*time.Millisecond, "rejoined as a new member")
	require.Eventually(t, n.Serving, 10*time.Second, 20*time.Millisecond, "serves again once rejoined")
	res, err := conversation.Ask(n.Directory(), key, inboundFor(key, "wamid.freeze.2", "again"), 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, 2, res.Conversation.Unread, "the fresh actor reloaded the conversation")
}

// TestMinorityNodeStopsServing: a node that sees fewer than a majority of
// its seeds (the others unreachable, as on the small side of a partition)
// downs itself after a lease TTL and serves no conversation until it sees
// a majority again.
func TestMinorityNodeStopsServing(t *testing.T) {
	requireRaceSafeBuild(t)
	dead := []string{fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	bind, am := freePort(t), freePort(t)
	local := newTestLocal(t)
	n, err := NewNode(Config{Provider: ProviderAutoManaged, Seeds: append([]string{fmt.Sprintf("127.0.0.1:%d", am)}, dead...),
		Bind: fmt.Sprintf("127.0.0.1:%d", bind), AutoManagedPort: am, Name: "minority", AttemptTimeout: 200 * time.Millisecond,
		LeaseTTL: time.Second}, local, testLogger(t), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, n.Start(ctx))
	t.Cleanup(func() { n.Stop(context.Background()) })

	require.Empty(t, n.Members(), "one of three seeds: no quorum, nothing routed")
	require.False(t, n.Serving(), "a minority node does not serve")
	key := conversation.Key{PhoneNumberID: "100000000000001", WaID: "919800000002"}
	_, err = conversation.Ask(n.Directory(), key, inboundFor(key, "wamid.minority.1", "hi"), 700*time.Millisecond)
	require.ErrorIs(t, err, conversation.ErrNoAnswer)
	require.ErrorIs(t, err, errNoOwner)
	require.Zero(t, local.requests.Load(), "the minority applied nothing")
	require.Eventually(t, func() bool { return n.Downs() >= 1 }, 10*time.Second, 20*time.Millisecond, "downed after a lease TTL in the minority")
}

// TestEtcdMembership: nodes on a real etcd see each other; a node whose
// lease is gone (its key deleted, as when etcd expired it) downs itself
// and rejoins as a new member, and a node that leaves is dropped at once.
func TestEtcdMembership(t *testing.T) {
	requireRaceSafeBuild(t)
	endpoint := startEtcd(t)
	cfg := func() Config {
		return Config{Provider: ProviderEtcd, EtcdEndpoints: []string{endpoint}, Bind: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			Name: "etcd-test", AttemptTimeout: time.Second, LeaseTTL: 2 * time.Second}
	}
	a, b := startNode(t, cfg()), startNode(t, cfg())
	waitMembers(t, []*testNode{a, b}, 2)
	key := keyOwnedBy(t, a.Members(), b.Address(), 0)
	_, err := conversation.Ask(a.Directory(), key, inboundFor(key, "wamid.etcd.1", "hi"), 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, 1, b.local.Live())

	client, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second})
	require.NoError(t, err)
	defer client.Close()
	before := b.MemberID()
	_, err = client.Delete(t.Context(), "/wacc/etcd-test/"+before)
	require.NoError(t, err)

	require.Eventually(t, func() bool { return b.Downs() == 1 && b.local.stopAlls.Load() == 1 }, 10*time.Second, 20*time.Millisecond,
		"B downed itself and stopped its conversation actors")
	require.Eventually(t, func() bool {
		id := b.MemberID()
		return id != "" && id != before
	}, 10*time.Second, 20*time.Millisecond, "B rejoined as a new member")
	waitMembers(t, []*testNode{a, b}, 2)
	res, err := conversation.Ask(a.Directory(), key, inboundFor(key, "wamid.etcd.2", "again"), 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, 2, res.Conversation.Unread)

	// A graceful leave revokes the lease: A sees one member without waiting
	// for the TTL.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Stop(ctx)
	waitMembers(t, []*testNode{a}, 1)
	require.Zero(t, a.Downs())
}

// TestUnconfirmedNodeServesNothing: a node whose membership check is late
// (as when it wakes from a freeze, before the check downs it) routes
// nothing and its router refuses envelopes, so the caller retries on
// another owner.
func TestUnconfirmedNodeServesNothing(t *testing.T) {
	nodes := autoManagedCluster(t, 2)
	a, b := nodes[0], nodes[1]
	key := keyOwnedBy(t, a.Members(), b.Address(), 0)
	env := &Envelope{MessageId: "stale-1", PhoneNumberId: key.PhoneNumberID, WaId: key.WaID, WantAnswer: true}
	require.NoError(t, setCommand(env, inboundFor(key, "wamid.stale.1", "hi")))

	// B's last check "ran" a lease TTL ago, and its next one waits for
	// the test (it takes checkMu first).
	b.checkMu.Lock()
	defer b.checkMu.Unlock()
	b.beat.Store(int64(time.Since(b.born) - b.cfg.LeaseTTL))
	v, err := a.current().request(routerPID(b), env, 5*time.Second).Result()
	require.NoError(t, err)
	require.NotEmpty(t, v.(*Answer).GetUndelivered(), "refused while unconfirmed")
	require.Zero(t, b.local.requests.Load())
	_, err = conversation.Ask(b.Directory(), key, inboundFor(key, "wamid.stale.2", "hi"), 300*time.Millisecond)
	require.ErrorIs(t, err, errNoOwner, "routes nothing while unconfirmed")
	require.Zero(t, b.local.requests.Load())
}
