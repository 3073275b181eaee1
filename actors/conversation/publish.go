package conversation

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Events: what the actor publishes, and the flush that makes them leave
// the process before a command is answered (Deps.FlushEvents).

// publish publishes an event about c, with the actor's key. Callers check
// that there is a Publisher before they build data.
func (a *Actor) publish(typ string, c *actors.Conversation, prevAssignee string, data any) {
	if a.env.Publisher == nil {
		return
	}
	key := a.key()
	a.published = true
	a.env.Publisher.Publish(actors.Event{Type: typ, ConversationID: c.ID, State: c.State, AssigneeID: c.AssigneeID,
		PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, PreviousAssigneeID: prevAssignee, Data: data, At: a.now()})
}

// notify stores a notification for a user and pushes it. A failure to
// store is logged: the change it reports is already persisted.
func (a *Actor) notify(ctx context.Context, userID, kind, title, body string, c *actors.Conversation) {
	n := actors.Notification{ID: actors.NewID(), UserID: userID, Kind: kind, Title: title, Body: body, ConversationID: c.ID, CreatedAt: a.now()}
	if err := a.env.Store.AddNotifications(ctx, []actors.Notification{n}); err != nil {
		a.log().Error("store notification", zap.String("agent_id", userID), zap.String("kind", kind), zap.Error(err))
	}
	if a.env.Publisher != nil {
		key := a.key()
		a.published = true
		a.env.Publisher.Publish(actors.Event{Type: actors.EventNotification, ConversationID: c.ID, State: c.State, AssigneeID: c.AssigneeID,
			PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, UserID: userID, Data: n.View(), At: n.CreatedAt})
	}
}

// flushEvents waits, when the command published events and Deps.FlushEvents
// is set (a cluster), until they left this process, before the command is
// answered: a caller that got its answer (the inbox, which then deletes
// the webhook) never loses the events with a node that dies right after.
// A flush that fails is logged; the answer goes out all the same (the
// change is stored; sockets resynchronise when they reconnect).
func (a *Actor) flushEvents() {
	if !a.published {
		return
	}
	a.published = false
	if a.env.FlushEvents == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := a.env.FlushEvents(ctx); err != nil {
		a.log().Warn("events not confirmed written before the answer", zap.Error(err))
	}
}

// flushTimeout bounds flushEvents.
const flushTimeout = 2 * time.Second
