package mongostore

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/supervisors"
)

// discardOutbox takes every job and keeps none.
type discardOutbox struct{}

func (discardOutbox) Publish(context.Context, actors.OutboundJob) error { return nil }

// fenceNode is one engine of a cluster: its own actor system, conversation
// host and MongoDB client, fencing every activation and counting refusals.
type fenceNode struct {
	host   *supervisors.Host
	store  *Store
	fenced atomic.Int64
}

func newFenceNode(t *testing.T, uri, database string) *fenceNode {
	t.Helper()
	s, err := Open(t.Context(), uri, database, 8, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	n := &fenceNode{store: s}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	deps := &conversation.Deps{Store: s, Outbox: discardOutbox{}, Log: log, Epochs: s, FencedWrite: func() { n.fenced.Add(1) },
		Config: conversation.Config{Window: 24 * time.Hour, IdleTimeout: time.Hour, IOTimeout: 5 * time.Second}}
	n.host = supervisors.NewHost(system, deps, 2, log)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.host.Stop(ctx)
		system.Shutdown()
	})
	return n
}

var fenceKey = conversation.Key{PhoneNumberID: "106540352242922", WaID: "4915112345678"}

func (n *fenceNode) inbound(wamid string) (conversation.Result, error) {
	in := conversation.Inbound{Msg: actors.InboundMessage{PhoneNumberID: fenceKey.PhoneNumberID, WaID: fenceKey.WaID, WaMessageID: wamid,
		Type: "text", Text: "hi", Content: []byte(`{"body":"hi"}`), Timestamp: time.Now(), ProfileName: "Asha"}}
	// Delivered once (Ask would deliver a fenced message again, to the
	// key's next activation): the answer of the activation it reaches.
	return conversation.Await(fenceKey, n.host.Request(fenceKey, in, 10*time.Second))
}

// TestFenceTwoNodesOnFerretDB runs two engines, each with its own MongoDB
// client and conversation host, over one FerretDB database, as two nodes of
// a cluster that both hold one conversation (the first froze and resumed):
// once the second activated it, without writing, the first one's write is
// refused, changes nothing, is counted and stops its actor; the second
// writes; the first node's next message activates afresh and fences the
// second in turn.
func TestFenceTwoNodesOnFerretDB(t *testing.T) {
	t.Parallel()
	uri, database := freshDatabase(t, handlerSQLite)
	a, b := newFenceNode(t, uri, database), newFenceNode(t, uri, database)
	ctx := t.Context()

	res, err := a.inbound("wamid.1")
	require.NoError(t, err)
	c := res.Conversation
	_, err = conversation.Ask(b.host, fenceKey, conversation.Tick{}, 10*time.Second)
	require.NoError(t, err, "the second node activates the conversation and writes nothing")

	_, err = a.inbound("wamid.2")
	require.ErrorIs(t, err, actors.ErrFenced)
	assert.Equal(t, int64(1), a.fenced.Load(), "the refusal is counted")
	require.Eventually(t, func() bool { return a.host.Live() == 0 }, 5*time.Second, 5*time.Millisecond, "the stale actor stopped")
	stored, err := a.store.Conversation(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, c.Version, stored.Version, "the refused write changed nothing")
	_, err = a.store.MessageByWaID(ctx, "wamid.2")
	require.ErrorIs(t, err, actors.ErrNotFound, "the refused message was not stored")

	res, err = b.inbound("wamid.2")
	require.NoError(t, err, "the newer activation writes")
	assert.Equal(t, c.Version+1, res.Conversation.Version)

	res, err = a.inbound("wamid.3")
	require.NoError(t, err, "the first node activates afresh")
	assert.Equal(t, c.Version+2, res.Conversation.Version, "on top of the second node's write")
	_, err = b.inbound("wamid.4")
	require.ErrorIs(t, err, actors.ErrFenced, "the second node is now the stale one")
	assert.Equal(t, int64(1), b.fenced.Load())
	assert.Equal(t, int64(1), a.fenced.Load(), "the first node was refused once")
}
