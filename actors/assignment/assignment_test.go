package assignment_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/assignment"
	"github.com/wacc/engine/actors/conversation"
)

// fakeStore is the assigner's Store in memory.
type fakeStore struct {
	mu    sync.Mutex
	convs map[string]actors.Conversation
	users map[string]actors.User
	// failing makes ListConversations fail, as a store that is down.
	failing bool
	// panicUser makes UserByID panic once for that id, as a bug would.
	panicUser string
	panicked  atomic.Bool
	lists     atomic.Int32
}

var _ assignment.Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{convs: map[string]actors.Conversation{}, users: map[string]actors.User{}}
}

func (s *fakeStore) ListConversations(_ context.Context, f actors.ConversationFilter) ([]actors.Conversation, int, error) {
	s.lists.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return nil, 0, fmt.Errorf("list conversations: connection refused: %w", actors.ErrUnavailable)
	}
	var all []actors.Conversation
	for _, c := range s.convs {
		for _, st := range f.States {
			if c.State == st {
				all = append(all, c)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].UpdatedAt.Equal(all[j].UpdatedAt) {
			return all[i].UpdatedAt.After(all[j].UpdatedAt)
		}
		return all[i].ID > all[j].ID
	})
	from := min((f.Page-1)*f.Limit, len(all))
	to := min(from+f.Limit, len(all))
	return all[from:to], len(all), nil
}

func (s *fakeStore) UserByID(_ context.Context, id string) (actors.User, error) {
	if id == s.panicUser && !s.panicked.Swap(true) {
		panic("bug while reading a user")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		return u, nil
	}
	return actors.User{}, fmt.Errorf("user %s: %w", id, actors.ErrNotFound)
}

func (s *fakeStore) put(c actors.Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.convs[c.ID] = c
}

func (s *fakeStore) get(id string) actors.Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.convs[id]
}

func (s *fakeStore) setFailing(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

func (s *fakeStore) addUser(id string, role actors.Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[id] = actors.User{ID: id, Role: role}
}

// reply is a Reply answered at once.
type reply struct {
	v   any
	err error
}

func (r reply) Result() (any, error) { return r.v, r.err }

// fakeDirectory plays the conversation actors for Assign: it records every
// Assign, and accepts it as a conversation would (saves the assignee,
// publishes conversation.assigned) unless told to refuse it or not answer.
type fakeDirectory struct {
	store *fakeStore
	bus   *actors.Bus

	mu    sync.Mutex
	asked []conversation.Assign
	// refuse answers that conversation's Assigns with a failure.
	refuse map[string]error
	// drop leaves that many of a conversation's Assigns unanswered.
	drop map[string]int
}

func (d *fakeDirectory) Send(conversation.Key, conversation.Command) {}

func (d *fakeDirectory) Request(key conversation.Key, cmd conversation.Command, _ time.Duration) conversation.Reply {
	a := cmd.(conversation.Assign)
	d.mu.Lock()
	d.asked = append(d.asked, a)
	refuse, drop := d.refuse[a.ConversationID], d.drop[a.ConversationID]
	if drop > 0 {
		d.drop[a.ConversationID]--
	}
	d.mu.Unlock()
	switch {
	case drop > 0:
		return reply{err: actor.ErrTimeout}
	case refuse != nil:
		return reply{v: conversation.Failed(refuse)}
	}
	c := d.store.get(a.ConversationID)
	c.AssigneeID = a.AgentID
	d.store.put(c)
	d.bus.Publish(actors.Event{Type: actors.EventConversationAssigned, ConversationID: c.ID, State: c.State, AssigneeID: c.AssigneeID,
		PhoneNumberID: key.PhoneNumberID, WaID: key.WaID})
	return reply{v: conversation.Result{Conversation: c}}
}

// assignees returns who each conversation was asked to go to, in order.
func (d *fakeDirectory) assignees(id string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, a := range d.asked {
		if a.ConversationID == id {
			out = append(out, a.AgentID)
		}
	}
	return out
}

func (d *fakeDirectory) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.asked)
}

// world is one test's assigner with its fakes and a fresh actor system.
type world struct {
	t     *testing.T
	store *fakeStore
	dir   *fakeDirectory
	bus   *actors.Bus
	a     *assignment.Assigner
	n     int
}

func newWorld(t *testing.T, maxOpen int, seed func(s *fakeStore)) *world {
	t.Helper()
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(system.Shutdown)
	w := &world{t: t, store: newFakeStore(), bus: actors.NewBus()}
	w.dir = &fakeDirectory{store: w.store, bus: w.bus, refuse: map[string]error{}, drop: map[string]int{}}
	if seed != nil {
		seed(w.store)
	}
	w.a = assignment.Start(system, assignment.Options{Store: w.store, Directory: w.dir, Events: w.bus, MaxOpen: maxOpen,
		RetryDelay: 5 * time.Millisecond, Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))})
	t.Cleanup(w.a.Stop)
	if !w.store.failing {
		// Let the assigner read the store before the test changes it, so
		// what a test stores later reaches it only by its events.
		w.loads()
	}
	return w
}

// open stores a new open conversation and has it ask for an agent, as a
// conversation actor does on its first message.
func (w *world) open(id string) {
	w.t.Helper()
	w.n++
	c := actors.Conversation{ID: id, PhoneNumberID: "pn", WaID: fmt.Sprintf("4915%06d", w.n), State: actors.StateNew,
		UpdatedAt: time.Unix(int64(w.n), 0)}
	w.store.put(c)
	w.bus.Publish(actors.Event{Type: actors.EventAgentRequested, ConversationID: id, State: c.State, PhoneNumberID: c.PhoneNumberID, WaID: c.WaID})
}

// close closes a conversation, as its actor publishes it.
func (w *world) close(id string) {
	c := w.store.get(id)
	c.State = actors.StateClosed
	w.store.put(c)
	w.bus.Publish(actors.Event{Type: actors.EventConversationUpdated, ConversationID: id, State: c.State, AssigneeID: c.AssigneeID,
		PhoneNumberID: c.PhoneNumberID, WaID: c.WaID})
}

// online brings agents online (their first socket opened).
func (w *world) online(ids ...string) {
	for _, id := range ids {
		w.store.addUser(id, actors.RoleAgent)
		w.a.AgentOnline(id)
	}
}

// loads reads the assigner's counts. It answers after every message sent
// to the assigner before it, so it also waits for their decisions.
func (w *world) loads() map[string]int {
	w.t.Helper()
	var m map[string]int
	require.Eventually(w.t, func() bool {
		var err error
		m, err = w.a.Loads(time.Second)
		return err == nil
	}, 5*time.Second, 5*time.Millisecond, "the assigner answers")
	return m
}

// assigned waits until conversation id was asked to go to an agent n times,
// and returns the last agent.
func (w *world) assigned(id string, n int) string {
	w.t.Helper()
	require.Eventually(w.t, func() bool { return len(w.dir.assignees(id)) >= n }, 5*time.Second, 2*time.Millisecond,
		"conversation %s assigned %d times", id, n)
	got := w.dir.assignees(id)
	return got[len(got)-1]
}

func TestLeastLoadedAgentGetsTheConversation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 10, func(s *fakeStore) {
		s.put(actors.Conversation{ID: "held", PhoneNumberID: "pn", WaID: "4915000000", State: actors.StateActive, AssigneeID: "a1"})
	})
	w.online("a1", "a2", "a3")
	w.open("c1")
	first := w.assigned("c1", 1)
	w.open("c2")
	second := w.assigned("c2", 1)
	assert.ElementsMatch(t, []string{"a2", "a3"}, []string{first, second}, "a1 holds one already: the other two first")
	assert.Equal(t, map[string]int{"a1": 1, "a2": 1, "a3": 1}, w.loads(), "then everyone has one")
	w.open("c3")
	w.open("c4")
	w.open("c5")
	for _, id := range []string{"c3", "c4", "c5"} {
		w.assigned(id, 1)
	}
	assert.Equal(t, map[string]int{"a1": 2, "a2": 2, "a3": 2}, w.loads(), "a tie goes to one of them, the next to another")
}

func TestTiesGoRoundRobin(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 10, nil)
	w.online("a1", "a2")
	var picks []string
	for i := range 4 {
		id := fmt.Sprintf("c%d", i)
		w.open(id)
		picks = append(picks, w.assigned(id, 1))
		w.close(id)
		require.Empty(t, w.loads(), "nobody holds anything: the next pick is a tie")
	}
	for i := 1; i < len(picks); i++ {
		assert.NotEqual(t, picks[i-1], picks[i], "a tie does not go to the same agent twice in a row: %v", picks)
	}
}

func TestAgentMaxOpenCapsAutoAssignment(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, nil)
	w.online("a1")
	for _, id := range []string{"c1", "c2", "c3"} {
		w.open(id)
	}
	w.assigned("c1", 1)
	w.assigned("c2", 1)
	assert.Equal(t, map[string]int{"a1": 2}, w.loads(), "at the cap")
	assert.Empty(t, w.dir.assignees("c3"), "c3 waits")
	assert.Empty(t, w.store.get("c3").AssigneeID)
}

func TestWaitingConversationsAreAssignedWhenAnAgentCanTakeThem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// free makes room for the waiting conversation.
		free func(w *world)
	}{
		{name: "an agent comes online", free: func(w *world) { w.online("a2") }},
		{name: "an agent frees up", free: func(w *world) { w.close("c1") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 1, nil)
			w.online("a1")
			w.open("c1")
			w.assigned("c1", 1)
			w.open("c2")
			assert.Equal(t, map[string]int{"a1": 1}, w.loads())
			assert.Empty(t, w.dir.assignees("c2"), "waiting")

			tt.free(w)
			w.assigned("c2", 1)
			assert.Equal(t, 1, w.loads()[w.store.get("c2").AssigneeID])
		})
	}

	t.Run("nobody online: every waiting one goes to the first agent", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, 5, func(s *fakeStore) {
			s.put(actors.Conversation{ID: "old", PhoneNumberID: "pn", WaID: "4915000000", State: actors.StateNew})
		})
		w.open("c1")
		w.open("c2")
		assert.Empty(t, w.loads())
		w.store.addUser("sup-1", actors.RoleSupervisor)
		w.a.AgentOnline("sup-1")
		assert.Empty(t, w.loads(), "supervisors take no auto-assignments")
		w.online("a1")
		for _, id := range []string{"old", "c1", "c2"} {
			assert.Equal(t, "a1", w.assigned(id, 1), id)
		}
		assert.Equal(t, map[string]int{"a1": 3}, w.loads())
	})
}

func TestRefusedAssignment(t *testing.T) {
	t.Parallel()
	t.Run("refused: the count is taken back and it is not asked again", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, 5, nil)
		w.dir.refuse["c1"] = fmt.Errorf("assign c1: %w", conversation.ErrClosed)
		w.online("a1")
		w.open("c1")
		w.assigned("c1", 1)
		require.Eventually(t, func() bool { return len(w.loads()) == 0 }, 5*time.Second, 5*time.Millisecond, "count taken back")
		w.open("c2")
		assert.Equal(t, "a1", w.assigned("c2", 1))
		assert.Len(t, w.dir.assignees("c1"), 1, "a refusal is final")
	})
	t.Run("unanswered: asked again on the next decision", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, 5, nil)
		w.dir.drop["c1"] = 1
		w.online("a1")
		w.open("c1")
		w.assigned("c1", 1)
		require.Eventually(t, func() bool { return len(w.loads()) == 0 }, 5*time.Second, 5*time.Millisecond, "count taken back")
		w.open("c2")
		w.assigned("c1", 2)
		w.assigned("c2", 1)
		assert.Equal(t, "a1", w.store.get("c1").AssigneeID)
		assert.Equal(t, map[string]int{"a1": 2}, w.loads())
	})
}

func TestLoadFailureIsRetriedAndKeepsWhatArrives(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 5, func(s *fakeStore) {
		s.failing = true
		s.put(actors.Conversation{ID: "old", PhoneNumberID: "pn", WaID: "4915000000", State: actors.StateActive})
	})
	_, err := w.a.Loads(time.Second)
	require.ErrorIs(t, err, actors.ErrUnavailable, "not loaded yet")
	// What arrives meanwhile waits.
	w.online("a1")
	w.open("c1")
	require.Eventually(t, func() bool { return w.store.lists.Load() >= 3 }, 5*time.Second, 2*time.Millisecond, "retried")
	assert.Zero(t, w.dir.count(), "nothing decided before the store was read")

	w.store.setFailing(false)
	assert.Equal(t, "a1", w.assigned("old", 1), "the stored waiting one")
	assert.Equal(t, "a1", w.assigned("c1", 1), "the request that waited")
	assert.Equal(t, map[string]int{"a1": 2}, w.loads())
}

func TestPanicRestartsTheAssignerFromTheStore(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 5, func(s *fakeStore) {
		s.put(actors.Conversation{ID: "c1", PhoneNumberID: "pn", WaID: "4915000001", State: actors.StateActive, AssigneeID: "a1"})
		s.panicUser = "bug"
	})
	w.online("a1", "a2")
	require.Equal(t, map[string]int{"a1": 1}, w.loads())
	w.open("c2")
	assert.Equal(t, "a2", w.assigned("c2", 1), "a1 holds c1 already")
	require.Equal(t, map[string]int{"a1": 1, "a2": 1}, w.loads())
	require.EqualValues(t, 1, w.store.lists.Load())

	// The store moves on without the assigner hearing of it: a1 got c3,
	// and a2 is no longer an agent.
	w.store.put(actors.Conversation{ID: "c3", PhoneNumberID: "pn", WaID: "4915000003", State: actors.StateActive, AssigneeID: "a1"})
	w.store.addUser("a2", actors.RoleSupervisor)

	// A bug panics inside the assigner (reading the role of a supervisor
	// whose socket opened).
	w.store.addUser("bug", actors.RoleSupervisor)
	w.a.AgentOnline("bug")
	require.Eventually(t, func() bool { return w.store.lists.Load() == 2 }, 5*time.Second, 2*time.Millisecond, "restarted and read the store again")
	assert.Equal(t, map[string]int{"a1": 2, "a2": 1}, w.loads(), "the stored state, not the failed actor's")

	// Everything was read anew, roles too: a2, now a supervisor, takes no
	// more conversations, though a1 holds more. Presence survived the
	// restart: a1 is still online.
	w.open("c4")
	assert.Equal(t, "a1", w.assigned("c4", 1))
}
