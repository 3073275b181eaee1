package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/wacc/engine/actors/conversation"
)

// TestRemoteCommandReachesOwnerAndAnswers: on three nodes over real
// loopback remote, a command sent on A for a key C owns is applied by C's
// host (its store has the conversation, A's and B's do not) and C's answer
// comes back to A; a key A owns stays on A without crossing the wire.
func TestRemoteCommandReachesOwnerAndAnswers(t *testing.T) {
	nodes := autoManagedCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	key := keyOwnedBy(t, a.Members(), c.Address(), 0)

	res, err := conversation.Ask(a.Directory(), key, inboundFor(key, "wamid.remote.1", "hello"), 5*time.Second)
	require.NoError(t, err)
	require.NotEmpty(t, res.Conversation.ID)
	require.Equal(t, key.WaID, res.Conversation.WaID)
	stored, ok := openConversation(t, c.local.store, key)
	require.True(t, ok, "C's store has the conversation")
	require.Equal(t, res.Conversation.ID, stored.ID)
	_, onA := openConversation(t, a.local.store, key)
	_, onB := openConversation(t, b.local.store, key)
	require.False(t, onA || onB, "only the owner applied it")
	require.Zero(t, a.local.requests.Load(), "A's host never saw it")

	// A failure answered by C's actor keeps its sentinel across the wire.
	_, err = conversation.Ask(a.Directory(), key, conversation.Close{ConversationID: "not-the-open-one"}, 5*time.Second)
	require.ErrorIs(t, err, conversation.ErrClosed)
	require.NotErrorIs(t, err, conversation.ErrNoAnswer)

	// A key A owns is handed to A's host directly.
	own := keyOwnedBy(t, a.Members(), a.Address(), 0)
	_, err = conversation.Ask(a.Directory(), own, inboundFor(own, "wamid.local.1", "hi"), 5*time.Second)
	require.NoError(t, err)
	require.EqualValues(t, 1, a.local.requests.Load())

	// Fire-and-forget commands to a remote owner arrive, in order.
	for i := 0; i < 20; i++ {
		a.Directory().Send(key, inboundFor(key, fmt.Sprintf("wamid.send.%02d", i), "queued"))
	}
	require.Eventually(t, func() bool {
		got, ok := openConversation(t, c.local.store, key)
		return ok && got.Unread == 21
	}, 10*time.Second, 20*time.Millisecond, "all 20 sends applied on C")
	msgs, _, err := c.local.store.ListMessages(t.Context(), res.Conversation.ID, "", 100)
	require.NoError(t, err)
	var order []string
	for _, m := range msgs {
		order = append(order, m.WaMessageID)
	}
	t.Logf("messages on C: %v", order)
}

// TestDeadNodeCostsOneAttempt: a node stopped abruptly (remote and
// membership endpoint gone, no goodbye) costs the next request for one of
// its keys at most one failed attempt; the new owner (the next by
// rendezvous) answers it.
func TestDeadNodeCostsOneAttempt(t *testing.T) {
	nodes := autoManagedCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	// A key C owns whose next owner is B.
	key := keyOfCMovingToB(t, a, b, c)
	_, err := conversation.Ask(a.Directory(), key, inboundFor(key, "wamid.dead.1", "before"), 5*time.Second)
	require.NoError(t, err)

	dieAbruptly(c)

	began := time.Now()
	r := a.Directory().Request(key, inboundFor(key, "wamid.dead.2", "after"), 10*time.Second)
	res, err := conversation.Await(key, r)
	took := time.Since(began)
	require.NoError(t, err)
	attempts := r.(*remoteReply).attempts
	t.Logf("request after the owner died: %d attempts, answered in %s", attempts, took)
	require.LessOrEqual(t, attempts, 2, "at most one failed attempt on the dead node")
	require.LessOrEqual(t, testutil.ToFloat64(a.metrics.attempts.WithLabelValues(outcomeTimeout)), 1.0, "engine_cluster_remote_requests_total{outcome=timeout}")
	stored, ok := openConversation(t, b.local.store, key)
	require.True(t, ok, "B, the next owner, applied it")
	require.Equal(t, res.Conversation.ID, stored.ID)

	// Once membership drops C, requests for its keys need one attempt.
	waitMembers(t, []*testNode{a, b}, 2)
	began = time.Now()
	r = a.Directory().Request(key, inboundFor(key, "wamid.dead.3", "later"), 10*time.Second)
	_, err = conversation.Await(key, r)
	require.NoError(t, err)
	t.Logf("request once C left the members: %d attempts, %s", r.(*remoteReply).attempts, time.Since(began))
	require.Equal(t, 1, r.(*remoteReply).attempts)
}

// TestRetryWithSameMessageIDAppliesOnce: the same envelope delivered twice
// (a retry after a lost answer) reaches the owner's host once, and both
// deliveries get the same answer; a concurrent duplicate joins the first.
func TestRetryWithSameMessageIDAppliesOnce(t *testing.T) {
	nodes := autoManagedCluster(t, 2)
	a, b := nodes[0], nodes[1]
	key := keyOwnedBy(t, a.Members(), b.Address(), 0)
	env := &Envelope{MessageId: "retry-test-1", PhoneNumberId: key.PhoneNumberID, WaId: key.WaID, WantAnswer: true}
	require.NoError(t, setCommand(env, inboundFor(key, "wamid.dedupe.1", "once")))

	inc := a.current()
	first := inc.request(routerPID(b), env, 5*time.Second)
	second := inc.request(routerPID(b), env, 5*time.Second)
	v1, err := first.Result()
	require.NoError(t, err)
	v2, err := second.Result()
	require.NoError(t, err)
	third, err := inc.request(routerPID(b), env, 5*time.Second).Result()
	require.NoError(t, err)

	for _, v := range []any{v1, v2, third} {
		ans := v.(*Answer)
		require.Empty(t, ans.GetUndelivered())
		require.True(t, proto.Equal(v1.(*Answer).GetResult(), ans.GetResult()), "the same answer each time")
	}
	require.EqualValues(t, 1, b.local.requests.Load(), "applied once on B")
	require.NotNil(t, v1.(*Answer).GetResult())
	res := resultOf(v1.(*Answer).GetResult())
	require.Equal(t, 1, res.Conversation.Unread)
}

// TestRouterRefusesAnEnvelopeWithoutACommand: an envelope whose command
// this node cannot read (a node of another version sent it) is answered
// with an ErrUnknownCommand failure, not applied and not left unanswered.
func TestRouterRefusesAnEnvelopeWithoutACommand(t *testing.T) {
	nodes := autoManagedCluster(t, 2)
	a, b := nodes[0], nodes[1]
	key := keyOwnedBy(t, a.Members(), b.Address(), 0)
	env := &Envelope{MessageId: "old-node-1", PhoneNumberId: key.PhoneNumberID, WaId: key.WaID, WantAnswer: true}
	v, err := a.current().request(routerPID(b), env, 5*time.Second).Result()
	require.NoError(t, err)
	ans := v.(*Answer)
	require.Empty(t, ans.GetUndelivered())
	require.NotNil(t, ans.GetResult())
	res := resultOf(ans.GetResult())
	require.NotNil(t, res.Failure)
	require.Equal(t, conversation.CodeInternal, res.Failure.Code)
	require.Contains(t, res.Failure.Message, ErrUnknownCommand.Error())
	require.Zero(t, b.local.requests.Load(), "nothing applied")
}

// TestSendsToADeadOwnerAreNotLost: fire-and-forget commands for a key whose
// owner dies are retried with their message ids until the next owner takes
// them, in the order they were sent.
func TestSendsToADeadOwnerAreNotLost(t *testing.T) {
	nodes := autoManagedCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	var key conversation.Key
	for skip := 0; ; skip++ {
		key = keyOwnedBy(t, a.Members(), c.Address(), skip)
		if NewPlacement(a.Address(), b.Address()).Owner(key.Name()) == b.Address() {
			break
		}
	}
	dieAbruptly(c)

	const sends = 10
	for i := 0; i < sends; i++ {
		a.Directory().Send(key, inboundFor(key, fmt.Sprintf("wamid.orphan.%02d", i), "queued"))
	}
	require.Eventually(t, func() bool {
		got, ok := openConversation(t, b.local.store, key)
		return ok && got.Unread == sends
	}, 15*time.Second, 20*time.Millisecond, "every send reached B, the next owner")
	conv, _ := openConversation(t, b.local.store, key)
	msgs, _, err := b.local.store.ListMessages(t.Context(), conv.ID, "", 100)
	require.NoError(t, err)
	require.Len(t, msgs, sends)
	for i, m := range msgs { // newest first
		require.Equal(t, fmt.Sprintf("wamid.orphan.%02d", sends-1-i), m.WaMessageID, "in the order sent")
	}
}

// TestSlowConversationIsNotADeadNode: an answer slower than the attempt
// timeout, on a quiet cluster, is retried on the same owner (its ping
// shows it alive), joins the command in flight there, and is applied once;
// no other node activates the conversation.
func TestSlowConversationIsNotADeadNode(t *testing.T) {
	nodes := autoManagedCluster(t, 3)
	a, b := nodes[0], nodes[1]
	key := keyOwnedBy(t, a.Members(), b.Address(), 0)
	b.local.slow.Store(int64(1500 * time.Millisecond))

	r := a.Directory().Request(key, inboundFor(key, "wamid.slow.1", "hi"), 10*time.Second)
	res, err := conversation.Await(key, r)
	require.NoError(t, err)
	t.Logf("slow answer after %d attempts", r.(*remoteReply).attempts)
	require.GreaterOrEqual(t, r.(*remoteReply).attempts, 2, "the first attempt timed out")
	require.EqualValues(t, 1, b.local.requests.Load(), "applied once: the retry joined it")
	require.Equal(t, 1, res.Conversation.Unread)
	for _, n := range []*testNode{a, nodes[2]} {
		require.Zero(t, n.local.requests.Load(), "no other node activated it")
	}
	require.False(t, a.suspected(b.Address()))
}

// TestKeyThatMovesToTheAskingNodeIsAskedOnce: the owner of a key dies and
// the key moves to the very node that is asking: after the failed attempt
// the node asks its own conversation directly, once (an envelope to its
// own router as well applied the command a second time).
func TestKeyThatMovesToTheAskingNodeIsAskedOnce(t *testing.T) {
	nodes := autoManagedCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	key := keyOfCMovingToB(t, a, b, c)
	_, err := conversation.Ask(b.Directory(), key, inboundFor(key, "wamid.moves.1", "before"), 5*time.Second)
	require.NoError(t, err)

	dieAbruptly(c)

	before := b.local.requests.Load()
	res, err := conversation.Ask(b.Directory(), key, inboundFor(key, "wamid.moves.2", "after"), 10*time.Second)
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	require.Equal(t, int64(1), b.local.requests.Load()-before, "B asked its own conversation once")
}

// keyOfCMovingToB is a key c owns whose next owner, once c is gone, is b.
func keyOfCMovingToB(t *testing.T, a, b, c *testNode) conversation.Key {
	t.Helper()
	members := a.Members()
	for skip := 0; ; skip++ {
		key := keyOwnedBy(t, members, c.Address(), skip)
		if NewPlacement(a.Address(), b.Address()).Owner(key.Name()) == b.Address() {
			return key
		}
	}
}

// dieAbruptly stops n's remote and membership endpoint without a goodbye.
func dieAbruptly(n *testNode) {
	inc := n.current()
	n.mu.Lock()
	n.inc = nil
	n.mu.Unlock()
	n.leave(inc, false)
}
