package kvtest

import (
	"fmt"
	"testing"
)

// BenchmarkAllow measures Allow from parallel callers spread over each of
// keySets distinct keys (one IP each), with a limit never reached, on the
// KV open returns.
func BenchmarkAllow(b *testing.B, open func(b *testing.B) KV, keySets ...int) {
	for _, keys := range keySets {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			kv := open(b)
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprintf("ip:%d", i)
			}
			ctx := b.Context()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, _, err := kv.Allow(ctx, names[i%keys], 1_000_000); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}
