package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

func TestVisibleAndMarkRead(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Millisecond)
	for _, c := range []actors.Conversation{
		{ID: "c-a1", PhoneNumberID: "pn1", WaID: "9190000001", State: actors.StateActive, AssigneeID: "a1", Version: 1, CreatedAt: at, UpdatedAt: at},
		{ID: "c-none", PhoneNumberID: "pn1", WaID: "9190000002", State: actors.StateNew, Version: 1, CreatedAt: at, UpdatedAt: at},
	} {
		require.NoError(t, f.store.CreateConversation(ctx, c))
	}
	agent := actors.User{ID: "a1", Role: actors.RoleAgent}
	other := actors.User{ID: "a2", Role: actors.RoleAgent}
	sup := actors.User{ID: "s1", Role: actors.RoleSupervisor}
	adm := actors.User{ID: "ad", Role: actors.RoleAdmin}

	cases := []struct {
		name           string
		user           actors.User
		conversationID string
		// visible is whether the user may see it (else ErrNotFound).
		visible bool
	}{
		{name: "assignee sees its conversation", user: agent, conversationID: "c-a1", visible: true},
		{name: "another agent does not", user: other, conversationID: "c-a1"},
		{name: "an agent does not see an unassigned one", user: agent, conversationID: "c-none"},
		{name: "supervisor sees all", user: sup, conversationID: "c-none", visible: true},
		{name: "admin sees all", user: adm, conversationID: "c-a1", visible: true},
		{name: "unknown id", user: adm, conversationID: "c-404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.dir.sent())
			c, err := f.app.Visible(ctx, tc.user, tc.conversationID)
			rerr := f.app.MarkRead(ctx, tc.user, tc.conversationID)
			if !tc.visible {
				require.ErrorIs(t, err, actors.ErrNotFound)
				require.ErrorIs(t, rerr, actors.ErrNotFound)
				assert.Len(t, f.dir.sent(), before, "nothing reaches the conversation")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.conversationID, c.ID)
			require.NoError(t, rerr)
			sent := f.dir.sent()
			require.Len(t, sent, before+1)
			assert.Equal(t, conversation.MarkRead{ConversationID: tc.conversationID, ByUserID: tc.user.ID}, sent[before])
		})
	}

	f.dir.res = conversation.Failed(conversation.ErrClosed)
	assert.ErrorIs(t, f.app.MarkRead(ctx, agent, "c-a1"), conversation.ErrClosed, "the actor's answer is returned")
}
