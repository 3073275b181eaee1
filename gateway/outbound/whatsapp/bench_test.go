package whatsapp

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkClassify(b *testing.B) {
	cases := []struct {
		name string
		err  error
	}{
		{name: "known code", err: fmt.Errorf("send message from 1: %w", &APIError{HTTPStatus: 400, Code: 131047})},
		{name: "unknown code", err: fmt.Errorf("send message from 1: %w", &APIError{HTTPStatus: 400, Code: 999001})},
		{name: "transport", err: fmt.Errorf("send message from 1: %w: %w", ErrTransport, fmt.Errorf("connection reset"))},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if Classify(tc.err).Action == 0 {
					b.Fatal("no decision")
				}
			}
		})
	}
}

// BenchmarkShaperWait measures an uncontended grant: budgets so large that
// Wait never sleeps, rotating over recipients the way a sender does.
func BenchmarkShaperWait(b *testing.B) {
	for _, recipients := range []int{1, 1024} {
		b.Run(fmt.Sprintf("recipients=%d", recipients), func(b *testing.B) {
			s := NewShaper(ShaperOptions{MPS: 1_000_000_000, PairInterval: time.Nanosecond})
			to := make([]string, recipients)
			for i := range to {
				to[i] = fmt.Sprintf("1555%07d", i)
			}
			ctx := b.Context()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Wait(ctx, numberA, to[i%recipients]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
