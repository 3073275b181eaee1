package sqlitestore

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// BenchmarkCreateCustomer measures one customer insert with two tags: the
// row, its tag rows and its trigram index entries, committed.
func BenchmarkCreateCustomer(b *testing.B) {
	s := openTemp(b)
	ctx := b.Context()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		c := actors.Customer{
			ID: fmt.Sprintf("c%09d", i), Name: fmt.Sprintf("Customer Number %d", i),
			Phone: fmt.Sprintf("+49151%09d", i), WaID: fmt.Sprintf("49151%09d", i),
			Email: fmt.Sprintf("customer%d@example.com", i), Tags: []string{"vip", "b2b"},
			Attributes: map[string]string{"plan": "gold"}, Version: 1, CreatedAt: at, UpdatedAt: at,
		}
		require.NoError(b, s.CreateCustomer(ctx, c))
	}
}

// BenchmarkAppendAudit measures appending batches of records in one
// transaction (100 is the batch size the audit writer flushes); records/s is
// the throughput that matters.
func BenchmarkAppendAudit(b *testing.B) {
	for _, batch := range []int{10, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openTemp(b)
			ctx := b.Context()
			at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			recs := make([]actors.AuditRecord, batch)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for j := range recs {
					n++
					recs[j] = actors.AuditRecord{
						ID: fmt.Sprintf("a%012d", n), ActorID: "u1", Action: "customer.update", Resource: "customer/c1",
						Outcome: actors.OutcomeSuccess, IP: "203.0.113.7", UserAgent: "bench", RequestID: "r",
						At: at.Add(time.Duration(n) * time.Millisecond),
					}
				}
				require.NoError(b, s.AppendAudit(ctx, recs))
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
