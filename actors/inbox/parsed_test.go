package inbox

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/webhook"
)

// messageDirectory answers every request and keeps the inbound messages
// and statuses it was handed, whole.
type messageDirectory struct {
	mu       sync.Mutex
	messages []actors.InboundMessage
	statuses []actors.StatusUpdate
}

func (d *messageDirectory) Send(conversation.Key, conversation.Command) {}

func (d *messageDirectory) Request(_ conversation.Key, msg conversation.Command, _ time.Duration) conversation.Reply {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch m := msg.(type) {
	case conversation.Inbound:
		d.messages = append(d.messages, m.Msg)
	case conversation.StatusChanged:
		d.statuses = append(d.statuses, m.Update)
	}
	return reply{v: conversation.Result{}}
}

// countingParse is webhook.Parse, counted.
type countingParse struct{ calls atomic.Int64 }

func (p *countingParse) parse(body []byte) (actors.WebhookBatch, error) {
	p.calls.Add(1)
	return webhook.Parse(body)
}

// An entry handed over with the batch the gateway parsed is applied from
// that batch, never parsed again. After a crash (a new dispatcher over the
// same store, the entries stored but not applied), the entries are read
// back and parsed from their stored bodies, and what reaches the
// conversations is the same.
func TestAcceptedBatchIsNotParsedAgainAndRecoveryParsesTheStore(t *testing.T) {
	t.Parallel()
	store := openCounting(t)
	ctx := context.Background()
	bodies := [][]byte{body("981", "p1"), statusBody("981:p0:delivered"), body("982", "p2")}
	var entries []actors.InboxEntry
	for _, b := range bodies {
		batch, err := webhook.Parse(b)
		require.NoError(t, err)
		entries = append(entries, actors.InboxEntry{ID: actors.NewID(), Body: b, ReceivedAt: time.Now().UTC(), Batch: &batch})
	}
	require.NoError(t, store.AppendInbox(ctx, entries))

	// Accepted in memory: applied from the handed-over batches.
	var live countingParse
	liveDir := &messageDirectory{}
	d := New(Options{Retry: testRetry, Store: store, Parse: live.parse, Directory: liveDir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	d.poll = false // as after its start-up read found nothing
	d.Accept(entries)
	r, err := d.dispatch(ctx)
	require.NoError(t, err)
	require.Len(t, r.entries, 3)
	require.NoError(t, d.finish(ctx, r))
	require.Zero(t, live.calls.Load(), "handed-over batches are not parsed again")
	require.Len(t, liveDir.messages, 2)
	require.Len(t, liveDir.statuses, 1)
	// It "crashes" here: the completions were never deleted.

	var recovered countingParse
	recDir := &messageDirectory{}
	d2 := New(Options{Retry: testRetry, Store: store, Parse: recovered.parse, Directory: recDir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	n, err := d2.drainOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.EqualValues(t, 3, recovered.calls.Load(), "entries read back are parsed from their stored bodies")
	require.Equal(t, liveDir.messages, recDir.messages)
	require.Equal(t, liveDir.statuses, recDir.statuses)
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}
