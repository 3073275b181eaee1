package cluster

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors/conversation"
)

// realisticKeys are n conversation names of a few business numbers and
// Indian mobile customers, as the engine names its actors.
func realisticKeys(n int) []string {
	r := rand.New(rand.NewPCG(15, 15))
	pnids := []string{"100000000000001", "100000000000002", "106540352242922", "113982457001245"}
	keys := make([]string, n)
	for i := range keys {
		k := conversation.Key{PhoneNumberID: pnids[r.IntN(len(pnids))], WaID: fmt.Sprintf("91%d", 6000000000+r.Int64N(4000000000))}
		keys[i] = k.Name()
	}
	return keys
}

// adjacentMembers are n loopback addresses on ports first, first+1, ...
func adjacentMembers(host string, first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s:%d", host, first+i)
	}
	return out
}

// requireBalanced places keys on members and checks every member gets an
// even share within ±10%.
func requireBalanced(t *testing.T, members, keys []string) {
	t.Helper()
	p := NewPlacement(members...)
	counts := map[string]int{}
	for _, k := range keys {
		counts[p.Owner(k)]++
	}
	even := float64(len(keys)) / float64(len(members))
	for _, m := range members {
		share := float64(counts[m])
		require.InDelta(t, even, share, even*0.10, "member %s got %d of %d keys (even share %.0f); all: %v", m, counts[m], len(keys), even, counts)
	}
	t.Logf("%d members: %v", len(members), counts)
}

func TestBalanceThreeNodes(t *testing.T) {
	keys := realisticKeys(10000)
	cases := []struct {
		name    string
		members []string
	}{
		{name: "loopback ports 6330-6332", members: adjacentMembers("127.0.0.1", 6330, 3)},
		{name: "loopback ports 8090-8092", members: adjacentMembers("127.0.0.1", 8090, 3)},
		{name: "localhost ports 40000-40002", members: adjacentMembers("localhost", 40000, 3)},
		{name: "adjacent hosts one port", members: []string{"10.0.0.1:6330", "10.0.0.2:6330", "10.0.0.3:6330"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { requireBalanced(t, tc.members, keys) })
	}
}

func TestBalanceFiveNodes(t *testing.T) {
	keys := realisticKeys(10000)
	cases := []struct {
		name    string
		members []string
	}{
		{name: "loopback ports 6330-6334", members: adjacentMembers("127.0.0.1", 6330, 5)},
		{name: "loopback ports 50051-50055", members: adjacentMembers("127.0.0.1", 50051, 5)},
		{name: "adjacent hosts one port", members: []string{"10.0.0.1:6330", "10.0.0.2:6330", "10.0.0.3:6330", "10.0.0.4:6330", "10.0.0.5:6330"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { requireBalanced(t, tc.members, keys) })
	}
}

// TestBalanceAnyAdjacentPorts sweeps many port ranges: no 3- or 5-member
// set of adjacent ports is out of balance.
func TestBalanceAnyAdjacentPorts(t *testing.T) {
	keys := realisticKeys(10000)
	for first := 6000; first < 6000+40*37; first += 37 {
		for _, n := range []int{3, 5} {
			requireBalancedQuiet(t, adjacentMembers("127.0.0.1", first, n), keys)
		}
	}
}

func requireBalancedQuiet(t *testing.T, members, keys []string) {
	t.Helper()
	p := NewPlacement(members...)
	counts := map[string]int{}
	for _, k := range keys {
		counts[p.Owner(k)]++
	}
	even := float64(len(keys)) / float64(len(members))
	for _, m := range members {
		require.InDelta(t, even, float64(counts[m]), even*0.10, "members %v: %v", members, counts)
	}
}

// TestPlacementMovesOnlyTheLostMembersKeys: when a member leaves, only the
// keys it owned change owner.
func TestPlacementMovesOnlyTheLostMembersKeys(t *testing.T) {
	keys := realisticKeys(5000)
	members := adjacentMembers("127.0.0.1", 6330, 3)
	before := NewPlacement(members...)
	after := NewPlacement(members[0], members[2])
	moved := 0
	for _, k := range keys {
		was, is := before.Owner(k), after.Owner(k)
		if was != members[1] {
			require.Equal(t, was, is, "key %s moved though its owner stayed", k)
		} else {
			moved++
		}
	}
	require.NotZero(t, moved)
	require.Empty(t, NewPlacement().Owner(keys[0]), "no members, no owner")
}
