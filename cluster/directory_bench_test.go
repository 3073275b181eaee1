package cluster

import (
	"sort"
	"testing"
	"time"

	"github.com/wacc/engine/actors/conversation"
)

// BenchmarkDirectoryRequest is the cost of one command answered through
// the cluster Directory on two nodes on this machine (loopback gRPC; one
// machine, so it is the cost of the hop and the codec, not of a network):
// to a conversation this node owns (local: no serialization) and to one
// the other node owns (routed). Each op is a MarkRead of a conversation id
// that is not the open one (answered ErrClosed without a store write), so
// the numbers are the delivery path's, not the store's.
func BenchmarkDirectoryRequest(b *testing.B) {
	nodes := autoManagedCluster(b, 2)
	a, other := nodes[0], nodes[1]
	cases := []struct {
		name  string
		owner *testNode
	}{
		{name: "local", owner: a},
		{name: "routed", owner: other},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			key := keyOwnedBy(b, a.Members(), tc.owner.Address(), 0)
			if _, err := conversation.Ask(a.Directory(), key, inboundFor(key, "wamid.bench.0", "hi"), 5*time.Second); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				began := time.Now()
				_, err := conversation.Ask(a.Directory(), key, conversation.MarkRead{ConversationID: "not-the-open-one"}, 5*time.Second)
				lat = append(lat, time.Since(began))
				if err == nil {
					b.Fatal("MarkRead of a conversation that is not the open one succeeded")
				}
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
