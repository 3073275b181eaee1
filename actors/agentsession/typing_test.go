package agentsession_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/agentsession/sessiontest"
)

// typingFrames returns the relayed typing frames a sink got, as
// "conversation by user".
func typingFrames(t *testing.T, sink *sessiontest.Sink) []string {
	t.Helper()
	var out []string
	for _, f := range sink.Frames(t) {
		if f.Type != agentsession.FrameTyping {
			continue
		}
		var d struct{ ConversationID, UserID string }
		require.NoError(t, json.Unmarshal(f.Data, &d))
		out = append(out, d.ConversationID+" by "+d.UserID)
	}
	return out
}

func TestTypingIsRelayedToThoseWhoMaySeeTheConversation(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	c.commands.AddConversation(actors.Conversation{ID: "c1", AssigneeID: "a1"})
	c.commands.AddConversation(actors.Conversation{ID: "c-none"})
	users := []actors.User{user("a1", actors.RoleAgent), user("a1", actors.RoleAgent), user("a2", actors.RoleAgent),
		user("sup", actors.RoleSupervisor), user("sup2", actors.RoleSupervisor), user("adm", actors.RoleAdmin)}
	sessions := make([]*agentsession.Session, len(users))
	sinks := make([]*sessiontest.Sink, len(users))
	for i, u := range users {
		sessions[i], sinks[i] = c.open(t, u, time.Time{})
	}
	a1, a1Other, a2, sup, sup2, adm := 0, 1, 2, 3, 4, 5

	cases := []struct {
		name string
		// from types in conversation.
		from         int
		conversation string
		// wantAck is whether the typer gets an ack (else NOT_FOUND).
		wantAck bool
		// receivers are the sessions that get the relayed frame.
		receivers []int
	}{
		{name: "assignee types: watchers see it", from: a1, conversation: "c1", wantAck: true, receivers: []int{sup, sup2, adm}},
		{name: "supervisor types: assignee and other watchers", from: sup, conversation: "c1", wantAck: true, receivers: []int{a1, a1Other, sup2, adm}},
		{name: "unassigned conversation: watchers only", from: adm, conversation: "c-none", wantAck: true, receivers: []int{sup, sup2}},
		{name: "another agent's conversation is not found", from: a2, conversation: "c1"},
		{name: "unknown conversation is not found", from: a1, conversation: "c-404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := make([]int, len(sinks))
			for i, s := range sinks {
				before[i] = len(typingFrames(t, s))
			}
			got := reply(t, sessions[tc.from], sinks[tc.from], fmt.Sprintf(`{"type":"typing","data":{"conversationId":%q}}`, tc.conversation))
			if !tc.wantAck {
				require.Equal(t, "error", got.Type, "%s", got.Data)
				assert.JSONEq(t, fmt.Sprintf(`{"code":"NOT_FOUND","message":"conversation not found","type":"typing","conversationId":%q}`, tc.conversation), string(got.Data))
			} else {
				require.Equal(t, "ack", got.Type, "%s", got.Data)
				assert.JSONEq(t, fmt.Sprintf(`{"type":"typing","conversationId":%q}`, tc.conversation), string(got.Data))
			}
			// The relay is sent before the ack: a barrier to everyone
			// then tells what each got.
			for i, u := range users {
				barrier(t, c.hub, u.ID, sinks[i], "typing-"+tc.name)
			}
			want := fmt.Sprintf("%s by %s", tc.conversation, users[tc.from].ID)
			for i := range sinks {
				got := typingFrames(t, sinks[i])[before[i]:]
				if containsInt(tc.receivers, i) {
					assert.Equal(t, []string{want}, got, "session %d (%s)", i, users[i].ID)
				} else {
					assert.Empty(t, got, "session %d (%s) must not get it", i, users[i].ID)
				}
			}
		})
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestTypingIsRateLimited(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	c.commands.AddConversation(actors.Conversation{ID: "c1", AssigneeID: "a1"})
	s, sink := c.open(t, user("a1", actors.RoleAgent), time.Time{})
	in := `{"type":"typing","data":{"conversationId":"c1"}}`
	for i := range agentsession.DefaultTypingBurst {
		require.Equal(t, "ack", reply(t, s, sink, in).Type, "typing %d of the burst", i)
	}
	got := reply(t, s, sink, in)
	require.Equal(t, "error", got.Type)
	assert.Equal(t, "RATE_LIMITED", data(t, got)["code"])

	c.clock.Advance(agentsession.DefaultTypingInterval)
	assert.Equal(t, "ack", reply(t, s, sink, in).Type, "one more per interval")
	assert.Equal(t, "error", reply(t, s, sink, in).Type)
}

func TestTypingIsNotRelayedToExpiredSessions(t *testing.T) {
	c := newClocked(t, 24*time.Hour)
	c.commands.AddConversation(actors.Conversation{ID: "c1", AssigneeID: "a1"})
	typer, typerSink := c.open(t, user("a1", actors.RoleAgent), time.Time{})
	expiring, expiringSink := c.open(t, user("sup", actors.RoleSupervisor), start.Add(time.Minute))
	_, activeSink := c.open(t, user("adm", actors.RoleAdmin), time.Time{})
	c.clock.Advance(time.Minute)
	waitState(t, expiring, agentsession.StateExpired)

	require.Equal(t, "ack", reply(t, typer, typerSink, `{"type":"typing","data":{"conversationId":"c1"}}`).Type)
	barrier(t, c.hub, "adm", activeSink, "after-typing")
	assert.Equal(t, []string{"c1 by a1"}, typingFrames(t, activeSink))
	assert.Equal(t, "pong", reply(t, expiring, expiringSink, `{"type":"ping"}`).Type)
	assert.Empty(t, typingFrames(t, expiringSink))
}
