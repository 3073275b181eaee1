package agentsession_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/agentsession/sessiontest"
)

// frameSink records the Frames pushed to it, as they are.
type frameSink struct {
	mu     sync.Mutex
	frames []*agentsession.Frame
}

func (s *frameSink) Push(f *agentsession.Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, f)
	return true
}

func (s *frameSink) Close(int, string) {}

func (s *frameSink) Frames() []*agentsession.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*agentsession.Frame(nil), s.frames...)
}

func TestAnEventIsOneSharedFrameEncodedAsEachSocketWouldEncodeIt(t *testing.T) {
	h := newHub(t, nil, nil)
	sinks := []*frameSink{{}, {}, {}}
	for i, u := range []actors.User{user("a1", actors.RoleAgent), user("sup", actors.RoleSupervisor), user("adm", actors.RoleAdmin)} {
		s := h.Open(u, time.Time{}, agentsession.Source{}, sinks[i])
		t.Cleanup(s.Closed)
		require.Eventually(t, func() bool { return len(sinks[i].Frames()) == 1 }, waitFor, tick, "hello of %s", u.ID)
	}
	view := actors.MessageView{ID: "m1", ConversationID: "c1", Direction: "inbound", Type: "text", Text: `hé "quoted" <b>&`,
		Content: json.RawMessage(`{"body":"hé"}`), Status: "received", CreatedAt: start, UpdatedAt: start}
	h.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1", Data: view})

	var shared *agentsession.Frame
	for i, sink := range sinks {
		require.Eventually(t, func() bool { return len(sink.Frames()) == 2 }, waitFor, tick)
		f := sink.Frames()[1]
		if i == 0 {
			shared = f
		}
		assert.Same(t, shared, f, "every session pushes the same Frame")
	}
	// What a socket encoding the event for itself would write.
	own, err := json.Marshal(struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}{actors.EventMessageCreated, view})
	require.NoError(t, err)
	// Marshalled once: concurrent writers get the same bytes.
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = shared.Bytes() }()
	}
	wg.Wait()
	for _, b := range got {
		assert.Equal(t, string(own), string(b))
		assert.Same(t, &got[0][0], &b[0], "one encoding, shared")
	}
}

func TestAFrameThatCannotBeMarshalledIsSkipped(t *testing.T) {
	h := newHub(t, nil, nil)
	sink := &sessiontest.Sink{}
	open(t, h, user("sup", actors.RoleSupervisor), sink)
	h.Publish(actors.Event{Type: actors.EventConversationUpdated, Data: make(chan int)})
	barrier(t, h, "sup", sink, "after")
	assert.Equal(t, []string{agentsession.FrameHello, actors.EventNotification}, sink.Types(t))
}

// gatedPresence blocks AgentOnline until released: a session's greet waits
// in it, so the session stays New while events are published.
type gatedPresence struct {
	sessiontest.Presence
	entered chan struct{}
	release chan struct{}
}

func (p *gatedPresence) AgentOnline(id string) {
	p.entered <- struct{}{}
	<-p.release
	p.Presence.AgentOnline(id)
}

func TestEventsPublishedBeforeTheHelloFollowIt(t *testing.T) {
	p := &gatedPresence{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := newHub(t, p, nil)
	sink := &sessiontest.Sink{}
	s := h.Open(user("a1", actors.RoleAgent), time.Time{}, agentsession.Source{}, sink)
	t.Cleanup(s.Closed)
	<-p.entered // greet is under way: the session is not Active yet
	for i := range 5 {
		h.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1", Data: i})
	}
	assert.Zero(t, sink.Count(), "nothing before the hello")
	close(p.release)
	require.Eventually(t, func() bool { return sink.Count() == 6 }, waitFor, tick)
	fs := sink.Frames(t)
	assert.Equal(t, agentsession.FrameHello, fs[0].Type)
	for i, f := range fs[1:] {
		assert.Equal(t, fmt.Sprint(i), string(f.Data), "publish order")
	}
}

func TestTooManyEventsBeforeTheHelloCloseWith1013(t *testing.T) {
	p := &gatedPresence{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := newHub(t, p, nil)
	sink := &sessiontest.Sink{}
	s := h.Open(user("a1", actors.RoleAgent), time.Time{}, agentsession.Source{}, sink)
	<-p.entered
	for i := range 300 {
		h.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1", Data: i})
	}
	code, reason := sink.WaitClosed(t)
	assert.Equal(t, agentsession.CloseTryAgainLater, code)
	assert.Equal(t, agentsession.ReasonTooSlow, reason)
	close(p.release)
	s.Closed()
	assert.Zero(t, sink.Count(), "no hello to a closed session")
	assert.False(t, h.Online("a1"))
}
