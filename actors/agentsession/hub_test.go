package agentsession_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/agentsession/sessiontest"
	"github.com/wacc/engine/actors/conversation"
)

const (
	waitFor = sessiontest.WaitFor
	tick    = sessiontest.Tick
)

// frame is a decoded server frame.
type frame = sessiontest.Frame

func newHub(t *testing.T, p agentsession.Presence, c agentsession.Commands) *agentsession.Hub {
	t.Helper()
	return newHubWith(t, agentsession.Options{Presence: p, Commands: c})
}

// newHubWith is a hub with opts (Log filled in) in a fresh actor system.
func newHubWith(t *testing.T, opts agentsession.Options) *agentsession.Hub {
	t.Helper()
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	opts.Log = zaptest.NewLogger(t)
	return agentsession.NewHub(system, opts)
}

func user(id string, role actors.Role) actors.User { return actors.User{ID: id, Role: role} }

func open(t *testing.T, h *agentsession.Hub, u actors.User, sink *sessiontest.Sink) *agentsession.Session {
	t.Helper()
	s := h.Open(u, time.Time{}, agentsession.Source{}, sink)
	t.Cleanup(s.Closed)
	hello := sink.WaitFrame(t, 0)
	require.Equal(t, agentsession.FrameHello, hello.Type)
	return s
}

func TestHelloFrame(t *testing.T) {
	h := newHub(t, nil, nil)
	sink := &sessiontest.Sink{}
	before := time.Now().UTC().Add(-time.Second)
	open(t, h, user("sup-1", actors.RoleSupervisor), sink)
	var hello struct {
		UserID     string    `json:"userId"`
		Role       string    `json:"role"`
		ServerTime time.Time `json:"serverTime"`
	}
	require.NoError(t, json.Unmarshal(sink.Frames(t)[0].Data, &hello))
	assert.Equal(t, "sup-1", hello.UserID)
	assert.Equal(t, "supervisor", hello.Role)
	assert.True(t, hello.ServerTime.After(before), "serverTime %v", hello.ServerTime)
}

func TestPublishRouting(t *testing.T) {
	users := []actors.User{
		user("a1", actors.RoleAgent), user("a2", actors.RoleAgent), user("a3", actors.RoleAgent),
		user("sup", actors.RoleSupervisor), user("adm", actors.RoleAdmin),
	}
	cases := []struct {
		name string
		ev   actors.Event
		// want are the users whose sessions get the event exactly once.
		want []string
	}{
		{name: "assignee and watchers", ev: actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1"},
			want: []string{"a1", "sup", "adm"}},
		{name: "reassignment tells the previous assignee", ev: actors.Event{Type: actors.EventConversationAssigned, ConversationID: "c2", AssigneeID: "a2", PreviousAssigneeID: "a1"},
			want: []string{"a1", "a2", "sup", "adm"}},
		{name: "unassigned goes to watchers only", ev: actors.Event{Type: actors.EventConversationUpdated, ConversationID: "c3"},
			want: []string{"sup", "adm"}},
		{name: "notification only to its user", ev: actors.Event{Type: actors.EventNotification, ConversationID: "c1", AssigneeID: "a1", UserID: "a2"},
			want: []string{"a2"}},
		{name: "supervisor's own notification", ev: actors.Event{Type: actors.EventNotification, UserID: "sup"},
			want: []string{"sup"}},
		{name: "watcher as assignee gets it once", ev: actors.Event{Type: actors.EventMessageStatus, ConversationID: "c4", AssigneeID: "sup", PreviousAssigneeID: "adm"},
			want: []string{"sup", "adm"}},
		{name: "same previous and current assignee once", ev: actors.Event{Type: actors.EventConversationUpdated, ConversationID: "c5", AssigneeID: "a3", PreviousAssigneeID: "a3"},
			want: []string{"a3", "sup", "adm"}},
		{name: "notification to an offline user", ev: actors.Event{Type: actors.EventNotification, UserID: "nobody"},
			want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t, nil, nil)
			sinks := map[string]*sessiontest.Sink{}
			for _, u := range users {
				sinks[u.ID] = &sessiontest.Sink{}
				open(t, h, u, sinks[u.ID])
			}
			tc.ev.Data = map[string]string{"case": tc.name}
			h.Publish(tc.ev)
			// A barrier per user: events of one publisher arrive in order.
			for _, u := range users {
				h.Publish(actors.Event{Type: actors.EventNotification, UserID: u.ID, Data: "barrier"})
			}
			for _, u := range users {
				sink := sinks[u.ID]
				require.Eventually(t, func() bool {
					fs := sink.Frames(t)
					return len(fs) > 0 && string(fs[len(fs)-1].Data) == `"barrier"`
				}, waitFor, tick, "barrier for %s", u.ID)
				fs := sink.Frames(t)
				got := fs[1 : len(fs)-1] // between hello and barrier
				if !contains(tc.want, u.ID) {
					assert.Empty(t, got, "%s must not see the event", u.ID)
					continue
				}
				require.Len(t, got, 1, "%s sees the event once", u.ID)
				assert.Equal(t, tc.ev.Type, got[0].Type)
				assert.JSONEq(t, fmt.Sprintf(`{"case":%q}`, tc.name), string(got[0].Data))
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestSlowSinkIsClosedAndOthersUnaffected(t *testing.T) {
	h := newHub(t, nil, nil)
	slow := &sessiontest.Sink{Limit: 3} // hello + 2 events
	fast := &sessiontest.Sink{}
	open(t, h, user("sup-slow", actors.RoleSupervisor), slow)
	open(t, h, user("sup-fast", actors.RoleSupervisor), fast)

	for i := range 50 {
		h.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", Data: i})
	}
	require.Eventually(t, func() bool { return fast.Count() == 51 }, waitFor, tick)
	closed, code, reason := slow.CloseCode()
	require.True(t, closed)
	assert.Equal(t, agentsession.CloseTryAgainLater, code)
	assert.Equal(t, "client too slow", reason)
	assert.Equal(t, 3, slow.Count())
	for i, f := range fast.Frames(t)[1:] {
		assert.Equal(t, fmt.Sprint(i), string(f.Data), "fast sink order")
	}
	closedFast, _, _ := fast.CloseCode()
	assert.False(t, closedFast)
}

func TestPresenceWithSeveralSessions(t *testing.T) {
	p := &sessiontest.Presence{}
	h := newHub(t, p, nil)
	s1 := open(t, h, user("a1", actors.RoleAgent), &sessiontest.Sink{})
	s2 := open(t, h, user("a1", actors.RoleAgent), &sessiontest.Sink{})
	s3 := open(t, h, user("a2", actors.RoleAgent), &sessiontest.Sink{})
	assert.Equal(t, []string{"online a1", "online a2"}, p.Calls())
	assert.Equal(t, []string{"a1", "a2"}, h.OnlineUsers())

	s1.Closed()
	s1.Closed() // twice is fine
	assert.Equal(t, []string{"online a1", "online a2"}, p.Calls(), "a1 still has a socket")
	assert.True(t, h.Online("a1"))

	s2.Closed()
	assert.Equal(t, []string{"online a1", "online a2", "offline a1"}, p.Calls())
	assert.False(t, h.Online("a1"))
	assert.Equal(t, []string{"a2"}, h.OnlineUsers())

	s3.Closed()
	assert.Empty(t, h.OnlineUsers())
}

func TestDisconnectUser(t *testing.T) {
	h := newHub(t, nil, nil)
	a1a, a1b, a2 := &sessiontest.Sink{}, &sessiontest.Sink{}, &sessiontest.Sink{}
	open(t, h, user("a1", actors.RoleAgent), a1a)
	open(t, h, user("a1", actors.RoleAgent), a1b)
	open(t, h, user("a2", actors.RoleAgent), a2)

	h.DisconnectUser("a1", agentsession.ClosePolicyViolation, "session revoked")
	for _, s := range []*sessiontest.Sink{a1a, a1b} {
		closed, code, reason := s.CloseCode()
		require.True(t, closed)
		assert.Equal(t, agentsession.ClosePolicyViolation, code)
		assert.Equal(t, "session revoked", reason)
	}
	closed, _, _ := a2.CloseCode()
	assert.False(t, closed)

	h.Publish(actors.Event{Type: actors.EventNotification, UserID: "a1", Data: "late"})
	h.Publish(actors.Event{Type: actors.EventNotification, UserID: "a2", Data: "fine"})
	a2.WaitFrame(t, 1)
	assert.Equal(t, 1, a1a.Count(), "a disconnected socket gets no more events")
}

// reply delivers a client frame and returns the next frame pushed.
func reply(t *testing.T, s *agentsession.Session, sink *sessiontest.Sink, in string) frame {
	t.Helper()
	n := sink.Count()
	s.Deliver([]byte(in))
	return sink.WaitFrame(t, n)
}

func TestClientFrames(t *testing.T) {
	cmds := &sessiontest.Commands{}
	for id, err := range map[string]error{
		"c-missing":   fmt.Errorf("mark read c-missing: %w", actors.ErrNotFound),
		"c-forbidden": fmt.Errorf("mark read c-forbidden: %w", agentsession.ErrForbidden),
		"c-closed":    fmt.Errorf("mark read c-closed: %w", conversation.ErrClosed),
		"c-down":      fmt.Errorf("mark read c-down: %w", actors.ErrUnavailable),
		"c-bug":       errors.New("driver said: secret table xyz"),
	} {
		cmds.SetReadErr(id, err)
	}
	cmds.AddConversation(actors.Conversation{ID: "c1", AssigneeID: "a1"})
	cmds.AddConversation(actors.Conversation{ID: "c-other", AssigneeID: "a2"})
	h := newHub(t, nil, cmds)
	sink := &sessiontest.Sink{}
	s := open(t, h, user("a1", actors.RoleAgent), sink)

	cases := []struct {
		name string
		in   string
		// wantType is the reply's type; wantData its data (JSON) when set;
		// wantCode the error code when it is an error.
		wantType string
		wantData string
		wantCode string
	}{
		{name: "ping", in: `{"type":"ping"}`, wantType: "pong"},
		{name: "ping with data", in: `{"type":"ping","data":{}}`, wantType: "pong"},
		{name: "typing", in: `{"type":"typing","data":{"conversationId":"c1"}}`, wantType: "ack", wantData: `{"type":"typing","conversationId":"c1"}`},
		{name: "typing in another agent's conversation", in: `{"type":"typing","data":{"conversationId":"c-other"}}`, wantType: "error",
			wantData: `{"code":"NOT_FOUND","message":"conversation not found","type":"typing","conversationId":"c-other"}`, wantCode: "NOT_FOUND"},
		{name: "typing in an unknown conversation", in: `{"type":"typing","data":{"conversationId":"c-404"}}`, wantType: "error", wantCode: "NOT_FOUND"},
		{name: "read", in: `{"type":"read","data":{"conversationId":"c-ok"}}`, wantType: "ack", wantData: `{"type":"read","conversationId":"c-ok"}`},
		{name: "read not found", in: `{"type":"read","data":{"conversationId":"c-missing"}}`, wantType: "error", wantCode: "NOT_FOUND"},
		{name: "read forbidden", in: `{"type":"read","data":{"conversationId":"c-forbidden"}}`, wantType: "error", wantCode: "FORBIDDEN"},
		{name: "read closed", in: `{"type":"read","data":{"conversationId":"c-closed"}}`, wantType: "error", wantCode: "CONVERSATION_CLOSED"},
		{name: "read dependency down", in: `{"type":"read","data":{"conversationId":"c-down"}}`, wantType: "error", wantCode: "DEPENDENCY_UNAVAILABLE"},
		{name: "read internal error hides text", in: `{"type":"read","data":{"conversationId":"c-bug"}}`, wantType: "error",
			wantData: `{"code":"INTERNAL_ERROR","message":"internal error","type":"read","conversationId":"c-bug"}`, wantCode: "INTERNAL_ERROR"},
		{name: "read without data", in: `{"type":"read"}`, wantType: "error", wantCode: "VALIDATION_ERROR"},
		{name: "read empty id", in: `{"type":"read","data":{"conversationId":""}}`, wantType: "error", wantCode: "VALIDATION_ERROR"},
		{name: "read id not a string", in: `{"type":"read","data":{"conversationId":7}}`, wantType: "error", wantCode: "VALIDATION_ERROR"},
		{name: "read unknown field", in: `{"type":"read","data":{"conversationId":"c1","role":"admin"}}`, wantType: "error", wantCode: "VALIDATION_ERROR"},
		{name: "unknown type", in: `{"type":"dance"}`, wantType: "error", wantCode: "VALIDATION_ERROR"},
		{name: "missing type", in: `{"data":{}}`, wantType: "error", wantCode: "VALIDATION_ERROR"},
		{name: "not an object", in: `[1,2]`, wantType: "error", wantCode: "VALIDATION_ERROR"},
		{name: "malformed", in: `{"type":"ping"`, wantType: "error", wantCode: "INVALID_JSON"},
		{name: "garbage", in: "\x00\x01", wantType: "error", wantCode: "INVALID_JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := reply(t, s, sink, tc.in)
			require.Equal(t, tc.wantType, got.Type, "reply %s", got.Data)
			if tc.wantData != "" {
				assert.JSONEq(t, tc.wantData, string(got.Data))
			}
			if tc.wantCode != "" {
				var e struct{ Code, Message string }
				require.NoError(t, json.Unmarshal(got.Data, &e))
				assert.Equal(t, tc.wantCode, e.Code)
				assert.NotEmpty(t, e.Message)
			}
		})
	}
	assert.Equal(t, []string{"a1/c-ok", "a1/c-missing", "a1/c-forbidden", "a1/c-closed", "a1/c-down", "a1/c-bug"}, cmds.Reads())
	closed, _, _ := sink.CloseCode()
	assert.False(t, closed, "bad frames never close the socket")
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	h := newHub(t, nil, nil)
	sink := &sessiontest.Sink{}
	s := open(t, h, user("a1", actors.RoleAgent), sink)
	s.Deliver([]byte(`{"type":"ping","data":{"pad":"` + strings.Repeat("x", agentsession.MaxFrameSize) + `"}}`))
	closed, code, _ := sink.CloseCode()
	require.True(t, closed)
	assert.Equal(t, agentsession.CloseTooBig, code)
}

func TestReadsInFlightAreBoundedAndWaitedFor(t *testing.T) {
	cmds := &sessiontest.Commands{}
	cmds.BlockReads()
	h := newHub(t, nil, cmds)
	sink := &sessiontest.Sink{}
	s := open(t, h, user("a1", actors.RoleAgent), sink)
	for i := range agentsession.MaxReadsInFlight {
		s.Deliver(fmt.Appendf(nil, `{"type":"read","data":{"conversationId":"c%d"}}`, i))
	}
	got := reply(t, s, sink, `{"type":"read","data":{"conversationId":"one-too-many"}}`)
	require.Equal(t, "error", got.Type)
	assert.JSONEq(t, `{"code":"RATE_LIMITED","message":"too many reads in flight","type":"read","conversationId":"one-too-many"}`, string(got.Data))
	require.Eventually(t, func() bool { return len(cmds.Reads()) == agentsession.MaxReadsInFlight }, waitFor, tick)

	// Closed cancels the blocked commands and waits for them.
	s.Closed()
	ctxErrs := cmds.ReadCtxErrs()
	require.Len(t, ctxErrs, agentsession.MaxReadsInFlight)
	for _, err := range ctxErrs {
		assert.ErrorIs(t, err, context.Canceled)
	}
}

func TestPanicClosesTheSocketWith1011(t *testing.T) {
	h := newHub(t, nil, nil)
	sink := &sessiontest.Sink{PanicOn: "boom"}
	open(t, h, user("sup", actors.RoleSupervisor), sink)
	h.Publish(actors.Event{Type: actors.EventConversationUpdated, Data: "boom"})
	require.Eventually(t, func() bool { closed, _, _ := sink.CloseCode(); return closed }, waitFor, tick)
	_, code, _ := sink.CloseCode()
	assert.Equal(t, agentsession.CloseInternalError, code)
	assert.Equal(t, 1, sink.Count(), "only the hello; no second hello after the restart")
}
