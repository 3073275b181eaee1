package rabbitqueue

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkPublish measures confirmed, persistent publishes from parallel
// callers (the HTTP handlers' path).
func BenchmarkPublish(b *testing.B) {
	q, _ := openQueue(b, "", Options{})
	var seq atomic.Int64
	ctx := context.Background()
	b.SetParallelism(8) // many handlers publish at once
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := q.Publish(ctx, testJob(fmt.Sprint(seq.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
