package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// BenchmarkAppendInbox measures the webhook ingest hot path: one committed
// transaction per call holding batch bodies of 1.5 KB. Group commit hands
// the store batches of up to a few hundred; bodies/s is the figure to watch.
func BenchmarkAppendInbox(b *testing.B) {
	body := bytes.Repeat([]byte(`{"entry":[{"changes":[{"value":{"messages":[{"id":"wamid.x"}]}}]}]}`), 1536/68+1)[:1536]
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openTemp(b)
			ctx := b.Context()
			at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			entries := make([]actors.InboxEntry, batch)
			b.SetBytes(int64(batch * len(body)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for j := range entries {
					n++
					entries[j] = actors.InboxEntry{ID: fmt.Sprintf("i%015d", n), Body: body, ReceivedAt: at}
				}
				require.NoError(b, s.AppendInbox(ctx, entries))
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "bodies/s")
		})
	}
}

// BenchmarkAppendMessage measures persisting one inbound text message with
// its content and raw object, committed.
func BenchmarkAppendMessage(b *testing.B) {
	s := openTemp(b)
	ctx := b.Context()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	content := json.RawMessage(`{"body":"Hello, I would like to know where my order is. Thanks!"}`)
	raw := json.RawMessage(`{"from":"4915112345678","id":"wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjBDMEE2","timestamp":"1735689600","type":"text","text":{"body":"Hello, I would like to know where my order is. Thanks!"}}`)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		require.NoError(b, s.AppendMessage(ctx, actors.Message{
			ID: fmt.Sprintf("m%015d", n), ConversationID: fmt.Sprintf("c%06d", n%1000), Direction: actors.DirectionInbound,
			Type: "text", Text: "Hello, I would like to know where my order is. Thanks!", Content: content, Status: "received",
			WaMessageID: fmt.Sprintf("wamid.%015d", n), Seq: int64(n), Raw: raw,
			CreatedAt: at.Add(time.Duration(n) * time.Millisecond), UpdatedAt: at,
		}))
	}
}

// BenchmarkSaveConversation measures the conditional save every applied
// message ends with, over 1000 conversations (every index touched by the
// changed updated_at, unread and timer).
func BenchmarkSaveConversation(b *testing.B) {
	s := openTemp(b)
	ctx := b.Context()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const convs = 1000
	cs := seedActiveConversations(b, s, convs, at)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c := &cs[n%convs]
		n++
		c.Version++
		c.Unread++
		c.Seq++
		c.UpdatedAt = at.Add(time.Duration(n) * time.Millisecond)
		c.LastInboundAt = c.UpdatedAt
		c.NextTimerAt = c.UpdatedAt.Add(23 * time.Hour)
		require.NoError(b, s.SaveConversation(ctx, *c))
	}
}

// BenchmarkSaveConversationInBatch measures the CPU of the save itself, as
// the group committer runs it under load: 100 saves of the message columns
// (an inbound message each) per transaction, so the commit's fsync is not
// the figure; cpu-ns/save is the process's CPU per save. "whole-row" runs the UPDATE of every column, as every save
// did before the message columns got their own (conversation.go), in the
// same binary for an A/B.
func BenchmarkSaveConversationInBatch(b *testing.B) {
	for _, variant := range []string{"whole-row", "message-columns"} {
		b.Run(variant, func(b *testing.B) {
			s := openTemp(b)
			ctx := b.Context()
			at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			const convs, perTx = 1000, 100
			cs := seedActiveConversations(b, s, convs, at)
			b.ReportAllocs()
			n := 0
			cpu0 := processCPU(b)
			for b.Loop() {
				err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
					for range perTx {
						c := &cs[n%convs]
						n++
						c.Version++
						c.Unread++
						c.Seq++
						c.UpdatedAt = at.Add(time.Duration(n) * time.Millisecond)
						c.LastInboundAt = c.UpdatedAt
						c.ExpiresAt = c.UpdatedAt.Add(24 * time.Hour)
						c.NextTimerAt = c.UpdatedAt.Add(23 * time.Hour)
						if variant == "message-columns" {
							if err := s.saveConversationTx(ctx, tx, *c); err != nil {
								return err
							}
							continue
						}
						if err := s.saveWholeConversationTx(ctx, tx, *c); err != nil {
							return err
						}
					}
					return nil
				})
				require.NoError(b, err)
			}
			b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(n), "cpu-ns/save")
		})
	}
}

// BenchmarkMessageByWaID measures the look-up every delivery status starts
// with, over 10k stored messages, from 8 goroutines as the actors would.
func BenchmarkMessageByWaID(b *testing.B) {
	s := openTemp(b)
	ctx := b.Context()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	raw := json.RawMessage(`{"from":"4915112345678","id":"wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjBDMEE2","timestamp":"1735689600","type":"text","text":{"body":"Hello, I would like to know where my order is. Thanks!"}}`)
	const stored = 10_000
	for n := range stored {
		require.NoError(b, s.AppendMessage(ctx, actors.Message{
			ID: fmt.Sprintf("m%015d", n), ConversationID: fmt.Sprintf("c%06d", n%1000), Direction: actors.DirectionOutbound,
			Type: "text", Text: "Your order ships today", Status: "sent", WaMessageID: fmt.Sprintf("wamid.%015d", n), Seq: int64(n), Raw: raw,
			CreatedAt: at.Add(time.Duration(n) * time.Millisecond), UpdatedAt: at,
		}))
	}
	b.ReportAllocs()
	b.SetParallelism(4)
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1) % stored
			if _, err := s.MessageByWaID(ctx, fmt.Sprintf("wamid.%015d", n)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// seedActiveConversations creates n active, assigned conversations of
// one business number, last written at at, and returns them.
func seedActiveConversations(t testing.TB, s *Store, n int, at time.Time) []actors.Conversation {
	t.Helper()
	cs := make([]actors.Conversation, n)
	for i := range cs {
		cs[i] = actors.Conversation{
			ID: fmt.Sprintf("c%06d", i), CustomerID: fmt.Sprintf("cu%06d", i), PhoneNumberID: "pn1",
			WaID: fmt.Sprintf("4915%08d", i), State: actors.StateActive, AssigneeID: fmt.Sprintf("agent%02d", i%20),
			LastInboundAt: at, ExpiresAt: at.Add(24 * time.Hour), NextTimerAt: at.Add(23 * time.Hour),
			Version: 1, CreatedAt: at, UpdatedAt: at,
		}
		require.NoError(t, s.CreateConversation(t.Context(), cs[i]))
	}
	return cs
}
