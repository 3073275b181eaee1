package redisbus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/agentsession/sessiontest"
	"github.com/wacc/engine/actors/assignment"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/persistence/redisbus"
	"github.com/wacc/engine/persistence/servicetest"
)

const waitFor = 10 * time.Second

// engineNode is one engine's worth of the parts agents see: a local bus
// the conversations publish to, the relay, cluster presence, the assigner
// (with a directory that records its Assigns) and the socket hub, all on
// a shared Redis.
type engineNode struct {
	name     string
	bus      *actors.Bus
	relay    *redisbus.Relay
	presence *redisbus.Presence
	hub      *agentsession.Hub
	dir      *recordingDirectory
	stop     func()
}

type nodeOptions struct {
	// ttl and heartbeat of presence; short so a dead node expires quickly.
	ttl, heartbeat time.Duration
}

func startEngineNode(t *testing.T, rdb redis.UniversalClient, prefix, name string, o nodeOptions) *engineNode {
	t.Helper()
	log := zaptest.NewLogger(t).Named(name)
	system := actor.NewActorSystem()
	n := &engineNode{name: name, bus: actors.NewBus(), dir: &recordingDirectory{}}
	n.relay = redisbus.New(rdb, n.bus, redisbus.Options{Node: name, Prefix: prefix, Log: log})
	assigner := assignment.Start(system, assignment.Options{Store: agentStore{}, Directory: n.dir, Events: n.relay, MaxOpen: 5, Log: log})
	n.presence = redisbus.NewPresence(rdb, assigner, redisbus.PresenceOptions{Node: name, Prefix: prefix, TTL: o.ttl, Heartbeat: o.heartbeat, Log: log})
	n.hub = agentsession.NewHub(system, agentsession.Options{Log: log, Events: n.relay.Delivered(), Presence: n.presence, Replay: n.relay})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { assert.NoError(t, n.relay.Run(ctx)) })
	wg.Go(func() { assert.NoError(t, n.presence.Run(ctx, n.hub)) })
	select {
	case <-n.relay.Ready():
	case <-time.After(waitFor):
		t.Fatalf("relay of %s never found the stream's end", name)
	}
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			assigner.Stop()
			system.Shutdown()
		})
	}
	t.Cleanup(n.stop)
	return n
}

// connect opens a socket of userID on the node (after cursor when set) and
// waits for its hello.
func (n *engineNode) connect(t *testing.T, userID, cursor string) (*agentsession.Session, *sessiontest.Sink) {
	t.Helper()
	sink := &sessiontest.Sink{}
	s := n.hub.OpenAfter(actors.User{ID: userID, Role: actors.RoleAgent}, time.Time{}, agentsession.Source{}, sink, cursor)
	t.Cleanup(s.Closed)
	require.Equal(t, agentsession.FrameHello, sink.WaitFrame(t, 0).Type)
	return s, sink
}

// messageFor is the n-th message event of a conversation assigned to
// assignee, as a conversation actor publishes it.
func messageFor(n int, assignee string) actors.Event {
	return actors.Event{Type: actors.EventMessageCreated, ConversationID: "conv-1", State: actors.StateActive, AssigneeID: assignee,
		PhoneNumberID: "pn-1", WaID: "4477", At: time.Now().UTC(),
		Data: actors.MessageView{ID: fmt.Sprintf("m-%d", n), ConversationID: "conv-1", Direction: "inbound", Type: "text", Text: fmt.Sprint(n)}}
}

// messageIDs are the ids of the message frames a sink got, with their
// cursors, in order.
func messageIDs(t *testing.T, sink *sessiontest.Sink) (ids, cursors []string) {
	t.Helper()
	for _, f := range sink.Frames(t) {
		if f.Type != actors.EventMessageCreated {
			continue
		}
		var m struct{ ID string }
		require.NoError(t, json.Unmarshal(f.Data, &m))
		ids = append(ids, m.ID)
		cursors = append(cursors, f.Cursor)
	}
	return ids, cursors
}

func TestFrameFromConversationOnNodeAReachesAgentSocketOnNodeB(t *testing.T) {
	rdb, prefix := servicetest.Redis(t)
	a := startEngineNode(t, rdb, prefix, "A", nodeOptions{})
	b := startEngineNode(t, rdb, prefix, "B", nodeOptions{})
	_, onB := b.connect(t, "agent-1", "")
	_, otherOnB := b.connect(t, "agent-2", "")

	want := messageFor(1, "agent-1")
	a.bus.Publish(want)
	require.Eventually(t, func() bool { return onB.Count() == 2 }, waitFor, 5*time.Millisecond)
	f := onB.Frames(t)[1]
	assert.Equal(t, actors.EventMessageCreated, f.Type)
	assert.NotEmpty(t, f.Cursor)
	wantData, err := json.Marshal(want.Data)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantData), string(f.Data), "the frame on B is the one A's conversation published")
	// A later event for agent-1 arriving proves agent-2 had its chance.
	a.bus.Publish(messageFor(2, "agent-1"))
	require.Eventually(t, func() bool { return onB.Count() == 3 }, waitFor, 5*time.Millisecond)
	assert.Equal(t, 1, otherOnB.Count(), "agent-2 got only its hello")
}

func TestAgentOnlineOnNodeBIsAssignedByNodeAsAssigner(t *testing.T) {
	rdb, prefix := servicetest.Redis(t)
	a := startEngineNode(t, rdb, prefix, "A", nodeOptions{})
	b := startEngineNode(t, rdb, prefix, "B", nodeOptions{})
	s, _ := b.connect(t, "agent-1", "")
	require.Eventually(t, func() bool { return a.presence.Online("agent-1") }, waitFor, 5*time.Millisecond, "A sees agent-1 online on B")

	// A conversation on A asks for an agent: A's assigner gives it to the
	// agent connected to B, through the conversation (its Directory).
	a.bus.Publish(actors.Event{Type: actors.EventAgentRequested, ConversationID: "conv-9", PhoneNumberID: "pn-1", WaID: "4499"})
	require.Eventually(t, func() bool { return len(a.dir.assigns()) == 1 }, waitFor, 5*time.Millisecond)
	got := a.dir.assigns()[0]
	assert.Equal(t, conversation.Assign{ConversationID: "conv-9", AgentID: "agent-1", Auto: true}, got)
	assert.Empty(t, b.dir.assigns(), "only the node whose conversation asked assigns it")

	s.Closed()
	require.Eventually(t, func() bool { return !a.presence.Online("agent-1") }, waitFor, 5*time.Millisecond,
		"A sees agent-1 go offline when its socket on B closes")
}

func TestAgentsOfADeadNodeGoOfflineAfterThePresenceTTL(t *testing.T) {
	rdb, prefix := servicetest.Redis(t)
	fast := nodeOptions{ttl: time.Second, heartbeat: 100 * time.Millisecond}
	a := startEngineNode(t, rdb, prefix, "A", fast)
	// B's own client, closed to kill B: it cannot say goodbye.
	bClient := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
	b := startEngineNode(t, bClient, prefix, "B", fast)
	b.connect(t, "agent-1", "")
	require.Eventually(t, func() bool { return a.presence.Online("agent-1") }, waitFor, 5*time.Millisecond)
	assert.Equal(t, map[string]int{"agent-1": 1}, a.presence.Counts())

	require.NoError(t, bClient.Close())
	require.Eventually(t, func() bool { return !a.presence.Online("agent-1") }, waitFor, 20*time.Millisecond,
		"agent-1 goes offline once B's entry outlived its TTL")
}

func TestAgentReconnectingWithItsCursorAfterItsNodeDiedGetsMissedFramesOnce(t *testing.T) {
	rdb, prefix := servicetest.Redis(t)
	a := startEngineNode(t, rdb, prefix, "A", nodeOptions{})
	b := startEngineNode(t, rdb, prefix, "B", nodeOptions{})
	c := startEngineNode(t, rdb, prefix, "C", nodeOptions{})
	s, onB := b.connect(t, "agent-1", "")
	for i := 1; i <= 3; i++ {
		a.bus.Publish(messageFor(i, "agent-1"))
	}
	require.Eventually(t, func() bool { return onB.Count() == 4 }, waitFor, 5*time.Millisecond)
	_, cursors := messageIDs(t, onB)
	last := cursors[len(cursors)-1]

	// B dies with the socket; A's conversation goes on meanwhile: an event
	// for someone else, and three for agent-1.
	s.Closed()
	b.stop()
	a.bus.Publish(messageFor(100, "agent-2"))
	for i := 4; i <= 6; i++ {
		a.bus.Publish(messageFor(i, "agent-1"))
	}
	// The agent reconnects to C with its last cursor, while A keeps
	// publishing.
	_, onC := c.connect(t, "agent-1", last)
	a.bus.Publish(messageFor(7, "agent-1"))
	require.Eventually(t, func() bool { ids, _ := messageIDs(t, onC); return len(ids) >= 4 }, waitFor, 5*time.Millisecond)
	a.bus.Publish(messageFor(8, "agent-1"))
	require.Eventually(t, func() bool { ids, _ := messageIDs(t, onC); return len(ids) >= 5 }, waitFor, 5*time.Millisecond)
	ids, _ := messageIDs(t, onC)
	assert.Equal(t, []string{"m-4", "m-5", "m-6", "m-7", "m-8"}, ids, "missed frames once, in order, then live ones")
	for _, f := range onC.Frames(t) {
		assert.NotEqual(t, agentsession.FrameSessionResync, f.Type)
	}
}

// agentStore is the assigner's store: no open conversations, everyone an
// agent.
type agentStore struct{}

func (agentStore) ListConversations(context.Context, actors.ConversationFilter) ([]actors.Conversation, int, error) {
	return nil, 0, nil
}

func (agentStore) UserByID(_ context.Context, id string) (actors.User, error) {
	return actors.User{ID: id, Role: actors.RoleAgent}, nil
}

// recordingDirectory records the Assigns it is asked and answers that the
// conversation is now the agent's.
type recordingDirectory struct {
	mu  sync.Mutex
	got []conversation.Assign
}

func (d *recordingDirectory) Send(conversation.Key, conversation.Command) {}

func (d *recordingDirectory) Request(_ conversation.Key, cmd conversation.Command, _ time.Duration) conversation.Reply {
	a, ok := cmd.(conversation.Assign)
	if !ok {
		return answer{err: fmt.Errorf("unexpected %T", cmd)}
	}
	d.mu.Lock()
	d.got = append(d.got, a)
	d.mu.Unlock()
	return answer{v: conversation.Result{Conversation: actors.Conversation{ID: a.ConversationID, State: actors.StateActive, AssigneeID: a.AgentID}}}
}

func (d *recordingDirectory) assigns() []conversation.Assign {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]conversation.Assign(nil), d.got...)
}

type answer struct {
	v   any
	err error
}

func (a answer) Result() (any, error) { return a.v, a.err }

func TestAgentOnTwoNodesStaysOnlineUntilItsLastSocketCloses(t *testing.T) {
	rdb, prefix := servicetest.Redis(t)
	a := startEngineNode(t, rdb, prefix, "A", nodeOptions{})
	b := startEngineNode(t, rdb, prefix, "B", nodeOptions{})
	c := startEngineNode(t, rdb, prefix, "C", nodeOptions{})
	onA, _ := a.connect(t, "agent-1", "")
	onB1, _ := b.connect(t, "agent-1", "")
	b.connect(t, "agent-1", "")
	require.Eventually(t, func() bool { return c.presence.Counts()["agent-1"] == 3 }, waitFor, 5*time.Millisecond,
		"C counts agent-1's sockets on A and B")
	assert.True(t, c.presence.Online("agent-1"))

	onA.Closed()
	onB1.Closed()
	require.Eventually(t, func() bool { return c.presence.Counts()["agent-1"] == 1 }, waitFor, 5*time.Millisecond)
	assert.True(t, c.presence.Online("agent-1"), "one socket left on B")
	assert.True(t, a.presence.Online("agent-1"), "A too sees it online on B")
}
