package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/wacc/engine/actors"
)

// MediaVisible returns the medium if user may see it: supervisors and
// admins see every medium; an agent sees the media it uploaded and the
// media linked to a conversation it may see (Visible: assigned to it).
// Anything else is actors.ErrNotFound, exactly like a medium that does not
// exist, so that nothing leaks. The upload, download, delete and send
// paths all decide with it.
func (a *App) MediaVisible(ctx context.Context, user actors.User, mediaID string) (actors.Media, error) {
	if a.d.Media == nil {
		return actors.Media{}, fmt.Errorf("media %s: no media store: %w", mediaID, actors.ErrUnavailable)
	}
	m, err := a.d.Media.Media(ctx, mediaID)
	if err != nil {
		return actors.Media{}, err
	}
	if user.Role != actors.RoleAgent || (m.UploaderID != "" && m.UploaderID == user.ID) {
		return m, nil
	}
	if m.ConversationID != "" {
		_, err := a.Visible(ctx, user, m.ConversationID)
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, actors.ErrNotFound) {
			return actors.Media{}, fmt.Errorf("media %s: %w", mediaID, err)
		}
	}
	return actors.Media{}, fmt.Errorf("media %s: not visible to %s: %w", mediaID, user.ID, actors.ErrNotFound)
}
