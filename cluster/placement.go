package cluster

import (
	"slices"
	"sync/atomic"
)

// Placement maps conversation keys to members by rendezvous (highest random
// weight) hashing: each member scores a key by a well-mixed 64-bit hash of
// the key and the member's address, and the highest score owns it. Adding
// or removing a member moves only the keys it wins or held, and addresses
// that differ in one byte still get even shares (protoactor's disthash,
// FNV-1a over key‖address, does not mix the last bytes and placed 50/25/25
// on three adjacent ports). A Placement is safe for concurrent use; Set
// replaces the member list atomically.
type Placement struct {
	members atomic.Pointer[[]placed]
}

// placed is a member with its address's hash, computed once.
type placed struct {
	addr string
	hash uint64
}

// NewPlacement is a Placement over members (addresses, host:port).
func NewPlacement(members ...string) *Placement {
	p := &Placement{}
	p.Set(members)
	return p
}

// Set replaces the members.
func (p *Placement) Set(members []string) {
	ms := make([]placed, 0, len(members))
	for _, m := range members {
		ms = append(ms, placed{addr: m, hash: mix64(fnv64(m))})
	}
	slices.SortFunc(ms, func(a, b placed) int {
		switch {
		case a.addr < b.addr:
			return -1
		case a.addr > b.addr:
			return 1
		}
		return 0
	})
	ms = slices.CompactFunc(ms, func(a, b placed) bool { return a.addr == b.addr })
	p.members.Store(&ms)
}

// Members returns the member addresses, sorted.
func (p *Placement) Members() []string {
	ms := *p.members.Load()
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.addr
	}
	return out
}

// Owner is the member that owns key; "" when there are no members.
func (p *Placement) Owner(key string) string { return p.OwnerExcept(key, nil) }

// OwnerExcept is the member that owns key among those skip does not refuse
// (nil: all): the owner key would have if the refused members left.
func (p *Placement) OwnerExcept(key string, skip func(addr string) bool) string {
	ms := *p.members.Load()
	hk := fnv64(key)
	best, bestScore := "", uint64(0)
	for _, m := range ms {
		if skip != nil && skip(m.addr) {
			continue
		}
		if s := mix64(hk ^ m.hash); best == "" || s > bestScore {
			best, bestScore = m.addr, s
		}
	}
	return best
}

// fnv64 is FNV-1a 64 of s.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is the finalizer of SplitMix64 (a bijection whose every output bit
// depends on every input bit): it spreads FNV's weakly mixed low bytes.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
