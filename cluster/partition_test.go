//go:build multinode

package cluster_test

import (
	"testing"
	"time"

	"github.com/wacc/engine/cluster/clustertest"
)

// TestPartitionMinorityNodeStopsServingConversationsAndLosesNothing cuts
// one node's cluster link (network namespaces and veth pairs: it keeps its
// store and its clients, and loses etcd and its peers) under load. The
// minority node stops serving conversations (a send through it is refused
// with 503 instead of being applied by an island that thinks it owns
// everything), the two others go on as a cluster of two, and when the
// partition heals the node rejoins and every webhook answered 200 by any
// node is stored once.
func TestPartitionMinorityNodeStopsServingConversationsAndLosesNothing(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Nodes: 3, Partitionable: true})
	c.WaitMembers(t, 3, 30*time.Second)
	load := clustertest.StartLoad(c, 30, 3, 30*time.Millisecond)
	time.Sleep(3 * time.Second)
	minority, majority := c.Nodes[2], c.Nodes[:2]
	token := c.Nodes[0].Admin()
	downsBefore := minority.Metric("engine_cluster_downs_total")
	c.Net.Cut(minority.Name)
	cutAt := time.Now()
	t.Logf("cut %s's cluster link", minority.Name)
	// The minority node downs itself (stops its conversation actors) once
	// its etcd lease is lost; its operations listener is on the data link.
	for minority.Metric("engine_cluster_downs_total") == downsBefore {
		if time.Since(cutAt) > 60*time.Second {
			t.Fatalf("the minority node did not down itself within 60 s of the cut")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the minority node downed itself %s after the cut (CLUSTER_LEASE_TTL 3s)", time.Since(cutAt).Round(time.Millisecond))

	c.WaitMembersOf(t, majority, 2, 60*time.Second)
	t.Logf("the majority is two members %s after the cut", time.Since(cutAt).Round(time.Millisecond))
	to := "+" + load.WaIDs()[0]
	var refusedAfter time.Duration
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, body, err := minority.Do("POST", "/api/whatsapp/messages", token,
			map[string]any{"to": to, "type": "text", "text": map[string]string{"body": "through the minority"}})
		if err == nil && st == 503 {
			refusedAfter = time.Since(cutAt)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the minority node still serves conversations 60 s after the cut: %d %s %v", st, body, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("the minority refuses conversation commands %s after the cut", refusedAfter.Round(time.Millisecond))
	// The majority still serves them.
	st, body := c.Nodes[0].API("POST", "/api/whatsapp/messages", token,
		map[string]any{"to": to, "type": "text", "text": map[string]string{"body": "through the majority"}})
	if st != 202 {
		t.Fatalf("send through the majority during the partition: %d %v", st, body)
	}

	time.Sleep(2 * time.Second)
	c.Net.Heal(minority.Name)
	c.WaitMembers(t, 3, 60*time.Second)
	t.Logf("healed; three members again")
	time.Sleep(2 * time.Second)
	sent := load.Stop()
	accepted := clustertest.Accepted(sent)
	c.CheckAccepted(t, accepted, 90*time.Second)
	if clashes := c.SeqClashes(t, c.Mongo(t)); len(clashes) > 0 {
		t.Fatalf("conversations with two inbound messages at one Seq: %v", clashes)
	}
	t.Logf("%d webhooks posted, %d accepted", len(sent), len(accepted))
}
