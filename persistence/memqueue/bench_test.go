package memqueue_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/memqueue"
)

// BenchmarkPublishConsumeAck measures one job through the queue: publish,
// delivery to a consumer, ack. The timer stops only once every job is acked.
func BenchmarkPublishConsumeAck(b *testing.B) {
	for _, prefetch := range []int{1, 64} {
		b.Run(fmt.Sprintf("prefetch=%d", prefetch), func(b *testing.B) {
			q := memqueue.New(memqueue.Options{Prefetch: prefetch, Capacity: b.N + 1})
			defer q.Close()
			ctx, cancel := context.WithCancel(context.Background())
			acked := make(chan struct{})
			n := 0
			done := make(chan error, 1)
			go func() {
				done <- q.Consume(ctx, func(d actors.Delivery) {
					if err := d.Ack(); err != nil {
						panic(err)
					}
					if n++; n == b.N {
						close(acked)
					}
				})
			}()
			job := actors.OutboundJob{MessageID: "m", Priority: actors.PriorityReply, Body: []byte(`{"text":{"body":"hello"}}`)}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := q.Publish(ctx, job); err != nil {
					b.Fatal(err)
				}
			}
			<-acked
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
