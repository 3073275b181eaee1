package sqlitestore

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// BenchmarkSendStoreTrips measures what one send costs the store, the Cloud
// API call left out: "claim-on-message" is the sender's path (ClaimSend,
// then the outcome's UpdateMessageStatus, which ends the claim);
// "idempotency-record" is the path it replaced (read the message, claim
// the idempotency record "whatsapp.send:<id>", write the outcome, release
// the record). Sequential runs show one send's latency through the group
// committer; parallel ones (64 senders, the engine's default SEND_WORKERS
// order) how the committer batches them. cpu-µs/op is the process's user
// and system CPU per send, the figure the engine's CPU budget counts.
func BenchmarkSendStoreTrips(b *testing.B) {
	paths := []struct {
		name string
		send func(b *testing.B, s *Store, id string, now time.Time)
	}{
		{"claim-on-message", func(b *testing.B, s *Store, id string, now time.Time) {
			ctx := b.Context()
			c, err := s.ClaimSend(ctx, id, "sender:bench:"+id, now, now.Add(time.Minute))
			if err != nil || c.State != actors.SendClaimed {
				b.Fatalf("claim %s: %v %v", id, c.State, err)
			}
			if _, err := s.UpdateMessageStatus(ctx, id, actors.StatusSent, "wamid."+id, nil, now); err != nil {
				b.Fatal(err)
			}
		}},
		{"idempotency-record", func(b *testing.B, s *Store, id string, now time.Time) {
			ctx := b.Context()
			m, err := s.Message(ctx, id)
			if err != nil || m.Status != actors.StatusQueued {
				b.Fatalf("read %s: %v %v", id, m.Status, err)
			}
			key, owner := "whatsapp.send:"+id, "sender:bench:"+id
			if _, err := s.ClaimIdempotency(ctx, actors.IdempotencyRecord{Key: key, RequestHash: id, Owner: owner,
				CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour), LeaseUntil: now.Add(time.Minute)}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.UpdateMessageStatus(ctx, id, actors.StatusSent, "wamid."+id, nil, now); err != nil {
				b.Fatal(err)
			}
			if err := s.ReleaseIdempotency(ctx, key, owner); err != nil {
				b.Fatal(err)
			}
		}},
	}
	for _, p := range paths {
		for _, parallel := range []bool{false, true} {
			name := p.name + "/sequential"
			if parallel {
				name = p.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				s := openTemp(b)
				ctx := b.Context()
				now := time.Now().UTC()
				for i := 0; i < b.N; i++ {
					require.NoError(b, s.AppendMessage(ctx, actors.Message{ID: fmt.Sprintf("m%09d", i), ConversationID: "c1",
						Direction: actors.DirectionOutbound, Type: "text", Text: "hello there", Content: []byte(`{"body":"hello there"}`),
						Status: actors.StatusQueued, CreatedAt: now, UpdatedAt: now}))
				}
				b.ReportAllocs()
				cpu0 := processCPU(b)
				b.ResetTimer()
				if parallel {
					var next atomic.Int64
					b.SetParallelism(32) // 64 senders on 2 cores
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							p.send(b, s, fmt.Sprintf("m%09d", next.Add(1)-1), now)
						}
					})
				} else {
					for i := 0; i < b.N; i++ {
						p.send(b, s, fmt.Sprintf("m%09d", i), now)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			})
		}
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
