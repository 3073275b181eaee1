package rediskv

import (
	"fmt"
	"testing"
	"time"

	"github.com/wacc/engine/persistence/kvtest"
	"github.com/wacc/engine/persistence/servicetest"
)

func BenchmarkAllow(b *testing.B) {
	kvtest.BenchmarkAllow(b, func(b *testing.B) kvtest.KV {
		rdb, prefix := servicetest.Redis(b)
		return New(rdb, prefix, time.Second)
	}, 1, 1_000)
}

// BenchmarkAnyRevoked asks about one id, and about two (an authenticated
// request's token and refresh family) in one call.
func BenchmarkAnyRevoked(b *testing.B) {
	rdb, prefix := servicetest.Redis(b)
	kv := New(rdb, prefix, time.Second)
	ctx := b.Context()
	until := time.Now().Add(time.Hour)
	// Asked ids: half revoked, half not.
	ids := make([]string, 2_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("jti-%d", i)
		if i%2 == 0 {
			if err := kv.Revoke(ctx, ids[i], until); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("ids=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ask := make([]string, n)
				i := 0
				for pb.Next() {
					for j := range ask {
						ask[j] = ids[(i+j)%len(ids)]
					}
					if _, err := kv.AnyRevoked(ctx, ask...); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}
