//go:build multinode

package cluster_test

import (
	"testing"
	"time"

	"github.com/wacc/engine/cluster/clustertest"
)

// TestRollingRestartOfAllThreeNodesLosesNothing restarts each node in turn
// (SIGTERM, start again on the same ports) under load: every webhook
// answered 200 is stored once and the cluster is three members again after
// each restart.
func TestRollingRestartOfAllThreeNodesLosesNothing(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Nodes: 3})
	c.WaitMembers(t, 3, 30*time.Second)
	load := clustertest.StartLoad(c, 30, 3, 30*time.Millisecond)
	for _, n := range c.Nodes {
		time.Sleep(2 * time.Second)
		load.Skip(n.Name, true)
		n.Stop()
		n.Start()
		load.Skip(n.Name, false)
		c.WaitMembers(t, 3, 60*time.Second)
		t.Logf("restarted %s", n.Name)
	}
	time.Sleep(2 * time.Second)
	sent := load.Stop()
	accepted := clustertest.Accepted(sent)
	c.CheckAccepted(t, accepted, 90*time.Second)
	t.Logf("%d webhooks posted, %d accepted", len(sent), len(accepted))
}
