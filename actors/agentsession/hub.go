package agentsession

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Sink is one socket as a session sees it. It is implemented by the socket
// and must be safe for concurrent use.
type Sink interface {
	// Push queues frame for writing without blocking; false means the
	// socket's bounded buffer is full. frame is shared by every session of
	// an event and must not be modified.
	Push(frame []byte) bool
	// Close asks the socket to close with a WebSocket close code. It must
	// not block; calls after the first are ignored.
	Close(code int, reason string)
}

// Presence is told when a user's first socket opens and last socket closes.
// Calls are serialised; they should return quickly.
type Presence interface {
	AgentOnline(userID string)
	AgentOffline(userID string)
}

// Commands are what client frames trigger.
type Commands interface {
	// MarkRead clears the unread count of a conversation for userID. Wrap
	// ErrForbidden when the user may not; actors.ErrNotFound when the
	// conversation does not exist.
	MarkRead(ctx context.Context, userID, conversationID string) error
}

// Hub registers the sessions of a process and fans events out to them.
type Hub struct {
	system   *actor.ActorSystem
	log      *zap.Logger
	presence Presence
	commands Commands

	// presenceMu serialises registry changes with their presence calls
	// so AgentOnline and AgentOffline arrive in order; Publish never takes it.
	presenceMu sync.Mutex

	mu sync.RWMutex
	// byUser holds every live session by user id.
	byUser map[string][]*Session
	// watchers are the sessions of supervisors and admins, who see every
	// conversation's events.
	watchers []*Session
	// sessions counts byUser's sessions, read without the lock.
	sessions atomic.Int64
}

var _ actors.Publisher = (*Hub)(nil)

// NewHub returns a hub spawning its sessions in system. presence may be nil.
func NewHub(system *actor.ActorSystem, log *zap.Logger, presence Presence, commands Commands) *Hub {
	if log == nil {
		log = zap.NewNop()
	}
	return &Hub{system: system, log: log.With(zap.String("actor", "agentsession")), presence: presence,
		commands: commands, byUser: map[string][]*Session{}}
}

// Session is the handle of one socket's agent-session actor, held by the
// socket. Per-connection state lives in the actor.
type Session struct {
	hub     *Hub
	userID  string
	role    actors.Role
	watcher bool
	sink    Sink
	pid     *actor.PID

	// closing is set once the socket is on its way out; Publish skips it.
	closing atomic.Bool
	// started is set by the first Started; a second one is a restart after
	// a panic.
	started atomic.Bool
	// slots bounds the client frames waiting in the mailbox.
	slots chan struct{}
	// stopped is closed when the actor has stopped.
	stopped     chan struct{}
	stoppedOnce sync.Once
	// work counts the actor's command goroutines.
	work      sync.WaitGroup
	closeOnce sync.Once
}

// Open spawns the session actor of a new socket and registers it. The
// session's first frame is hello, pushed once it is registered.
func (h *Hub) Open(user actors.User, sink Sink) *Session {
	s := &Session{hub: h, userID: user.ID, role: user.Role,
		watcher: user.Role == actors.RoleSupervisor || user.Role == actors.RoleAdmin,
		sink:    sink, slots: make(chan struct{}, MaxPendingFrames), stopped: make(chan struct{})}
	log := h.log.With(zap.String("agent_id", user.ID))
	s.pid = h.system.Root.SpawnPrefix(actor.PropsFromProducer(func() actor.Actor {
		return &sessionActor{s: s, log: log}
	}), "agentsession-")

	h.presenceMu.Lock()
	defer h.presenceMu.Unlock()
	h.mu.Lock()
	first := len(h.byUser[s.userID]) == 0
	h.byUser[s.userID] = append(h.byUser[s.userID], s)
	if s.watcher {
		h.watchers = append(h.watchers, s)
	}
	h.sessions.Add(1)
	// Under the write lock no Publish is sending: greet is the first
	// message in the mailbox, and a client that sees hello is registered.
	h.system.Root.Send(s.pid, greet{})
	h.mu.Unlock()
	log.Debug("agent session opened", zap.String("role", string(user.Role)))
	if first && h.presence != nil {
		h.presence.AgentOnline(s.userID)
	}
	return s
}

func (h *Hub) unregister(s *Session) {
	h.presenceMu.Lock()
	defer h.presenceMu.Unlock()
	h.mu.Lock()
	ss := h.byUser[s.userID]
	i := slices.Index(ss, s)
	if i < 0 {
		h.mu.Unlock()
		return
	}
	// Copy on delete: DisconnectUser ranges over a snapshot of the slice
	// outside the lock.
	ss = slices.Delete(slices.Clone(ss), i, i+1)
	last := len(ss) == 0
	if last {
		delete(h.byUser, s.userID)
	} else {
		h.byUser[s.userID] = ss
	}
	if s.watcher {
		if j := slices.Index(h.watchers, s); j >= 0 {
			h.watchers = slices.Delete(slices.Clone(h.watchers), j, j+1)
		}
	}
	h.sessions.Add(-1)
	h.mu.Unlock()
	if last && h.presence != nil {
		h.presence.AgentOffline(s.userID)
	}
}

// eventFrame is one published event, shared by every session it goes to.
// The first session to handle it marshals it; the others reuse the bytes.
type eventFrame struct {
	typ            string
	conversationID string
	data           any
	once           sync.Once
	b              []byte
}

// frame returns the marshalled event, nil when it cannot be marshalled
// (logged once).
func (f *eventFrame) frame(log *zap.Logger) []byte {
	f.once.Do(func() {
		b, err := marshalFrame(f.typ, f.data)
		if err != nil {
			log.Error("event dropped", zap.String("event", f.typ), zap.String("conversation_id", f.conversationID), zap.Error(err))
			return
		}
		f.b = b
	})
	return f.b
}

// Publish sends ev to every session that may see it. It only looks the
// sessions up and enqueues: the frame is marshalled once, by the first
// session that handles it, so even that work is off the caller's
// goroutine. It never blocks on a session.
func (h *Hub) Publish(ev actors.Event) {
	if h.sessions.Load() == 0 {
		return
	}
	msg := &eventFrame{typ: ev.Type, conversationID: ev.ConversationID, data: ev.Data}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if ev.UserID != "" {
		h.send(h.byUser[ev.UserID], msg, false)
		return
	}
	if ev.AssigneeID != "" {
		h.send(h.byUser[ev.AssigneeID], msg, true)
	}
	if ev.PreviousAssigneeID != "" && ev.PreviousAssigneeID != ev.AssigneeID {
		h.send(h.byUser[ev.PreviousAssigneeID], msg, true)
	}
	h.send(h.watchers, msg, false)
}

// send enqueues msg to ss; skipWatchers leaves out the sessions that get
// it as watchers anyway.
func (h *Hub) send(ss []*Session, msg *eventFrame, skipWatchers bool) {
	for _, s := range ss {
		if (skipWatchers && s.watcher) || s.closing.Load() {
			continue
		}
		h.system.Root.Send(s.pid, msg)
	}
}

// DisconnectUser closes every socket of userID (logout, revoked tokens:
// code ClosePolicyViolation). Their sessions stop getting events now and
// end when the sockets report Closed.
func (h *Hub) DisconnectUser(userID string, code int, reason string) {
	h.mu.RLock()
	ss := h.byUser[userID]
	h.mu.RUnlock()
	for _, s := range ss {
		s.closing.Store(true)
		s.sink.Close(code, reason)
	}
	if len(ss) > 0 {
		h.log.Info("agent disconnected", zap.String("agent_id", userID), zap.Int("sockets", len(ss)), zap.Int("code", code))
	}
}

// Online reports whether userID has at least one open session.
func (h *Hub) Online(userID string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byUser[userID]) > 0
}

// OnlineUsers lists the users with an open session, sorted.
func (h *Hub) OnlineUsers() []string {
	h.mu.RLock()
	out := make([]string, 0, len(h.byUser))
	for id := range h.byUser {
		out = append(out, id)
	}
	h.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Deliver hands a client frame to the session; the session takes
// ownership of frame. It blocks while MaxPendingFrames frames are waiting,
// so a flooding client is slowed down at its own socket.
func (s *Session) Deliver(frame []byte) {
	if s.closing.Load() {
		return
	}
	if len(frame) > MaxFrameSize {
		s.closing.Store(true)
		s.sink.Close(CloseTooBig, "frame too large")
		return
	}
	select {
	case s.slots <- struct{}{}:
	case <-s.stopped:
		return
	}
	s.hub.system.Root.Send(s.pid, clientFrame{b: frame})
}

// Closed tells the session its socket went away: it is unregistered, its
// actor stopped and its command goroutines waited for. Safe to call twice.
func (s *Session) Closed() {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.hub.unregister(s)
		select {
		case <-s.stopped:
		default:
			_ = s.hub.system.Root.StopFuture(s.pid).Wait()
		}
		s.work.Wait()
	})
}

// UserID is the id of the session's user.
func (s *Session) UserID() string { return s.userID }

func (s *Session) markStopped() { s.stoppedOnce.Do(func() { close(s.stopped) }) }
