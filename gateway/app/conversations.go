package app

import (
	"context"
	"fmt"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// Visible returns the conversation if user may see it: supervisors and
// admins see every conversation, agents only those assigned to them.
// Anything else is actors.ErrNotFound, exactly like a conversation that
// does not exist, so that nothing leaks.
func (a *App) Visible(ctx context.Context, user actors.User, conversationID string) (actors.Conversation, error) {
	if a.d.Conversations == nil {
		return actors.Conversation{}, fmt.Errorf("conversation %s: no conversation engine: %w", conversationID, actors.ErrUnavailable)
	}
	c, err := a.d.Conversations.Conversation(ctx, conversationID)
	if err != nil {
		return actors.Conversation{}, err
	}
	if user.Role == actors.RoleAgent && c.AssigneeID != user.ID {
		return actors.Conversation{}, fmt.Errorf("conversation %s: not visible to %s: %w", conversationID, user.ID, actors.ErrNotFound)
	}
	return c, nil
}

// MarkRead clears a conversation's unread count for a user who may see it
// (Visible), through its conversation actor. Errors: actors.ErrNotFound
// when not visible; conversation.ErrClosed and the actor's other answers;
// actors.ErrUnavailable when the actor did not answer.
func (a *App) MarkRead(ctx context.Context, user actors.User, conversationID string) error {
	c, err := a.Visible(ctx, user, conversationID)
	if err != nil {
		return err
	}
	if a.d.Directory == nil {
		return fmt.Errorf("mark read %s: no conversation engine: %w", conversationID, actors.ErrUnavailable)
	}
	key := conversation.Key{PhoneNumberID: c.PhoneNumberID, WaID: c.WaID}
	_, err = conversation.Ask(a.d.Directory, key, conversation.MarkRead{ConversationID: c.ID, ByUserID: user.ID}, a.d.CommandTimeout)
	return err
}
