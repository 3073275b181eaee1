package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func TestMediaVisible(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, f.store.CreateConversation(ctx, actors.Conversation{ID: "c-a1", PhoneNumberID: "pn1", WaID: "9190000001",
		State: actors.StateActive, AssigneeID: "a1", Version: 1, CreatedAt: at, UpdatedAt: at}))
	for _, m := range []actors.Media{
		{ID: "m-up-a2", UploaderID: "a2"},
		{ID: "m-inbound-c-a1", ConversationID: "c-a1", MessageID: "msg1"},
		{ID: "m-sent-by-a2-in-c-a1", UploaderID: "a2", ConversationID: "c-a1", MessageID: "msg2"},
		{ID: "m-inbound-gone", ConversationID: "c-404", MessageID: "msg3"},
	} {
		m.Filename, m.MimeType, m.Size, m.SHA256, m.Status = "x.png", "image/png", 1, "ab", actors.MediaStored
		m.CreatedAt, m.UpdatedAt = at, at
		require.NoError(t, f.store.CreateMedia(ctx, m))
	}
	a1 := actors.User{ID: "a1", Role: actors.RoleAgent}
	a2 := actors.User{ID: "a2", Role: actors.RoleAgent}
	sup := actors.User{ID: "s1", Role: actors.RoleSupervisor}
	adm := actors.User{ID: "ad", Role: actors.RoleAdmin}

	cases := []struct {
		name    string
		user    actors.User
		mediaID string
		// visible is whether the user may see it (else ErrNotFound).
		visible bool
	}{
		{name: "uploader sees its upload", user: a2, mediaID: "m-up-a2", visible: true},
		{name: "another agent does not see an unlinked upload", user: a1, mediaID: "m-up-a2"},
		{name: "assignee sees its conversation's inbound medium", user: a1, mediaID: "m-inbound-c-a1", visible: true},
		{name: "another agent does not see it", user: a2, mediaID: "m-inbound-c-a1"},
		{name: "assignee sees what another agent sent in its conversation", user: a1, mediaID: "m-sent-by-a2-in-c-a1", visible: true},
		{name: "the sender still sees it after a reassignment", user: a2, mediaID: "m-sent-by-a2-in-c-a1", visible: true},
		{name: "a medium of a vanished conversation is not visible to agents", user: a1, mediaID: "m-inbound-gone"},
		{name: "supervisor sees all", user: sup, mediaID: "m-up-a2", visible: true},
		{name: "admin sees all", user: adm, mediaID: "m-inbound-gone", visible: true},
		{name: "unknown id", user: adm, mediaID: "m-404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := f.app.MediaVisible(ctx, tc.user, tc.mediaID)
			if !tc.visible {
				require.ErrorIs(t, err, actors.ErrNotFound)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.mediaID, m.ID)
		})
	}
}
