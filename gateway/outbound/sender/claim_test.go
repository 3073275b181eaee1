package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/outbound/sender"
	"github.com/wacc/engine/persistence/memqueue"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// counting is the SQLite store seen through the sender's Store, counting
// each method the sender calls: its round trips to the store.
type counting struct {
	*sqlitestore.Store
	reads, claims, releases, statuses atomic.Int32
}

var _ sender.Store = (*counting)(nil)

func (c *counting) Message(ctx context.Context, id string) (actors.Message, error) {
	c.reads.Add(1)
	return c.Store.Message(ctx, id)
}

func (c *counting) ClaimSend(ctx context.Context, id, owner string, now, leaseUntil time.Time) (actors.SendClaim, error) {
	c.claims.Add(1)
	return c.Store.ClaimSend(ctx, id, owner, now, leaseUntil)
}

func (c *counting) ReleaseSend(ctx context.Context, id, owner string) error {
	c.releases.Add(1)
	return c.Store.ReleaseSend(ctx, id, owner)
}

func (c *counting) UpdateMessageStatus(ctx context.Context, id, status, waMessageID string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	c.statuses.Add(1)
	return c.Store.UpdateMessageStatus(ctx, id, status, waMessageID, werr, at)
}

// sqliteWorld is a sender draining a real in-process queue into the fake
// Cloud API, its messages in a real SQLite store.
type sqliteWorld struct {
	t     *testing.T
	api   *cloudAPI
	store *counting
	queue *memqueue.Queue
	rec   *recorder
	reg   *prometheus.Registry
	n     int
}

func newSQLiteWorld(t *testing.T) *sqliteWorld {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	w := &sqliteWorld{t: t, api: newCloudAPI(t), store: &counting{Store: st}, reg: prometheus.NewRegistry()}
	w.queue = memqueue.New(memqueue.Options{MaxAttempts: 3})
	t.Cleanup(func() { _ = w.queue.Close() })
	w.rec = &recorder{q: w.queue, settled: map[string][]settlement{}}
	runSender(t, w.api, 2*time.Second, sender.Options{Consumer: w.rec, Store: w.store, Directory: &outcomes{}, Registry: w.reg})
	return w
}

// queued stores a queued outbound message to recipient to, as the
// conversation actor does, and returns its id; publish puts its job on
// the queue.
func (w *sqliteWorld) queued(to string) string {
	w.t.Helper()
	w.n++
	id := fmt.Sprintf("msg-%d", w.n)
	now := time.Now().UTC()
	require.NoError(w.t, w.store.AppendMessage(context.Background(), actors.Message{ID: id, ConversationID: "conv-" + to,
		Direction: actors.DirectionOutbound, Type: "text", Text: "hi", Status: actors.StatusQueued, CreatedAt: now, UpdatedAt: now}))
	return id
}

func (w *sqliteWorld) publish(id, to string) {
	w.t.Helper()
	body := fmt.Sprintf(`{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"text","text":{"body":"hi"}}`, to)
	require.NoError(w.t, w.queue.Publish(context.Background(), actors.OutboundJob{MessageID: id, ConversationID: "conv-" + to,
		PhoneNumberID: number, To: to, Priority: actors.PriorityReply, Body: json.RawMessage(body), Attempt: 1, EnqueuedAt: time.Now().UTC()}))
}

func (w *sqliteWorld) settled(id string, n int) settlement {
	w.t.Helper()
	require.Eventually(w.t, func() bool { return len(w.rec.of(id)) >= n }, 10*time.Second, 2*time.Millisecond, "settlement %d of %s", n, id)
	return w.rec.of(id)[n-1]
}

func (w *sqliteWorld) message(id string) actors.Message {
	w.t.Helper()
	m, err := w.store.Store.Message(context.Background(), id)
	require.NoError(w.t, err)
	return m
}

// A send costs the store two writes: the claim, which also stands for
// reading the message, and the outcome, which ends the claim. No read, no
// release.
func TestSendCostsOneClaimAndOneOutcomeWrite(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		to := fmt.Sprintf("49151000001%02d", i)
		ids[i] = w.queued(to)
		w.publish(ids[i], to)
	}
	for _, id := range ids {
		require.Equal(t, "ack", w.settled(id, 1).op)
		m := w.message(id)
		assert.Equal(t, actors.StatusSent, m.Status)
		assert.NotEmpty(t, m.WaMessageID)
	}
	assert.Equal(t, int32(n), w.store.claims.Load(), "one claim per send")
	assert.Equal(t, int32(n), w.store.statuses.Load(), "one outcome per send")
	assert.Zero(t, w.store.reads.Load(), "no read of the message")
	assert.Zero(t, w.store.releases.Load(), "no release: the outcome ended the claim")

	// A redelivery of a sent message: one claim, which finds it sent.
	w.publish(ids[0], "4915100000100")
	require.Equal(t, "ack", w.settled(ids[0], 2).op)
	assert.Equal(t, int32(n+1), w.store.claims.Load())
	assert.Equal(t, int32(n), w.store.statuses.Load(), "nothing more to write")
	assert.Equal(t, 1, w.api.calls("4915100000100"), "not sent again")
}

// The engine killed during a send's call left its claim on the message;
// the restarted engine settles it (SettleSendClaims, as cmd/engine does
// at start-up) and the redelivered job is not sent again: the message
// fails as "send outcome unknown" and the job is dead-lettered. An
// operator's re-drive (RequeueFailed, then the queue's Redrive) sends it
// once.
func TestDiedMidCallIsNotSentAgainUntilRedriven(t *testing.T) {
	t.Parallel()
	w := newSQLiteWorld(t)
	const to = "4915100000200"
	id := w.queued(to)
	ctx := context.Background()
	now := time.Now().UTC()
	c, err := w.store.Store.ClaimSend(ctx, id, "sender:dead-process:1", now, now.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, actors.SendClaimed, c.State)
	settled, err := w.store.SettleSendClaims(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, settled)

	w.publish(id, to)
	got := w.settled(id, 1)
	assert.Equal(t, "dead-letter", got.op)
	assert.Contains(t, got.reason, "send outcome unknown")
	assert.Zero(t, w.api.calls(to), "not sent again")
	m := w.message(id)
	assert.Equal(t, actors.StatusFailed, m.Status)
	require.NotNil(t, m.Error)
	assert.Equal(t, "send outcome unknown", m.Error.Title)

	ok, err := w.store.RequeueFailed(ctx, id, time.Now().UTC())
	require.NoError(t, err)
	require.True(t, ok)
	n, err := w.queue.Redrive(ctx, []string{id})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	assert.Equal(t, "ack", w.settled(id, 2).op)
	assert.Equal(t, 1, w.api.calls(to), "the re-drive sent it once")
	assert.Equal(t, actors.StatusSent, w.message(id).Status)
}
