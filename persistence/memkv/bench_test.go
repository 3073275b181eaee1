package memkv

import (
	"fmt"
	"testing"
	"time"

	"github.com/wacc/engine/persistence/kvtest"
)

func BenchmarkAllow(b *testing.B) {
	kvtest.BenchmarkAllow(b, func(b *testing.B) kvtest.KV {
		kv := New(Options{})
		b.Cleanup(func() { _ = kv.Close() })
		return kv
	}, 1, 10_000)
}

func BenchmarkAnyRevoked(b *testing.B) {
	for _, revoked := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("revoked=%d", revoked), func(b *testing.B) {
			kv := New(Options{})
			defer kv.Close()
			ctx := b.Context()
			until := time.Now().Add(time.Hour)
			for i := range revoked {
				if err := kv.Revoke(ctx, fmt.Sprintf("jti-%d", i), until); err != nil {
					b.Fatal(err)
				}
			}
			// Asked ids: half revoked, half not (all misses when nothing is revoked).
			ids := make([]string, 2*revoked+1)
			for i := range ids {
				ids[i] = fmt.Sprintf("jti-%d", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := kv.AnyRevoked(ctx, ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}
