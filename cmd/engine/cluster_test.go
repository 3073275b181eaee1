package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/cluster"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/persistence/servicetest"
)

// TestClusteredEngineServesThroughTheCluster: with CLUSTER_PROVIDER set the
// engine joins the cluster before it listens, reaches its conversations
// through the cluster Directory (a one-node cluster owns every key), and
// leaves it when it stops.
func TestClusteredEngineServesThroughTheCluster(t *testing.T) {
	cfg := testConfig(t)
	// A cluster shares its store and Redis (configs refuses one without).
	cfg.MongoURI = servicetest.FerretDB(t, servicetest.FerretSQLite)
	cfg.MongoDatabase = "cluster_" + strings.ToLower(actors.NewID()[:12])
	cfg.RedisURL = "redis://" + servicetest.RedisAddr(t) + "/0"
	cfg.RedisPrefix = "cluster-" + strings.ToLower(actors.NewID()[:12]) + ":"
	bind, am := freeLoopbackPort(t), freeLoopbackPort(t)
	cfg.ClusterProvider = configs.ClusterAutoManaged
	cfg.ClusterBind = fmt.Sprintf("127.0.0.1:%d", bind)
	cfg.ClusterAutoManagedPort = am
	cfg.ClusterSeeds = []string{fmt.Sprintf("127.0.0.1:%d", am)}
	l := startLive(t, cfg)
	require.NotNil(t, l.e.conv.node, "joined the cluster")
	require.Equal(t, []string{cfg.ClusterBind}, l.e.conv.node.Members())
	_, routed := l.e.conv.dir.(*cluster.Directory)
	require.True(t, routed, "conversations are reached through the cluster Directory")
	require.Nil(t, l.e.conv.rehydration, "no rehydration in a cluster")

	now := time.Now()
	require.Equal(t, 200, l.webhook(textBody("100000000000001", "919812345678", "wamid.cluster.1", "hello", now), ""))
	c := l.conversationOf("100000000000001", "919812345678")
	require.Equal(t, 1, c.Unread)

	l.stop()
	_, err := net.DialTimeout("tcp", cfg.ClusterBind, time.Second)
	require.Error(t, err, "the cluster address is released at stop")
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
