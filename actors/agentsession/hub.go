package agentsession

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Sink is one socket as a session sees it. It is implemented by the socket
// and must be safe for concurrent use.
type Sink interface {
	// Push queues frame for writing without blocking; false means the
	// socket's bounded buffer is full. frame is shared by every session of
	// an event: the socket writes frame.Bytes() (skipping a nil one).
	Push(frame *Frame) bool
	// Close asks the socket to close with a WebSocket close code. It must
	// not block; calls after the first are ignored.
	Close(code int, reason string)
}

// Presence is told when a user's first session becomes active and when its
// last active one stops being active (expired or closed). Calls are
// serialised; they should return quickly.
type Presence interface {
	AgentOnline(userID string)
	AgentOffline(userID string)
}

// Commands are what client frames trigger; gateway/app implements them.
type Commands interface {
	// MarkRead clears the unread count of a conversation the user may see.
	// actors.ErrNotFound when the conversation does not exist or the user
	// may not see it.
	MarkRead(ctx context.Context, user actors.User, conversationID string) error
	// Visible returns the conversation when the user may see it, else
	// actors.ErrNotFound (typing frames).
	Visible(ctx context.Context, user actors.User, conversationID string) (actors.Conversation, error)
	// Authenticate verifies an access token sent in an auth frame, with its
	// revocation, and returns its user and expiry. Errors wrap
	// actors.ErrTokenExpired, actors.ErrTokenRevoked, actors.ErrTokenInvalid
	// or actors.ErrUnavailable.
	Authenticate(ctx context.Context, token string) (userID string, expiresAt time.Time, err error)
}

// Options configure a Hub. Zero values take the defaults.
type Options struct {
	Log *zap.Logger
	// Events, when set, is the bus the hub subscribes itself to at
	// construction, for the event types sockets carry
	// (actors.SocketEvents). Without it the hub gets only what is
	// published to it directly.
	Events *actors.Bus
	// Presence may be nil.
	Presence Presence
	// Commands may be nil: read, typing and auth frames are then refused.
	Commands Commands
	// Refusals, when set, is told of every token an auth frame presented
	// that was refused, to be audited as refused tokens on the API are.
	Refusals Refusals
	// Clock drives every session's timers; the wall clock when nil.
	Clock Clock
	// Grace is how long an expired session waits for a fresh token before
	// it closes with CloseSessionExpired.
	Grace time.Duration
	// IdleTimeout closes a session that heard nothing from its client (no
	// frame, no pong reported through Alive) for that long
	// (CloseIdleTimeout).
	IdleTimeout time.Duration
	// TypingBurst and TypingInterval bound a session's typing frames: a
	// burst of TypingBurst, then one per TypingInterval (RATE_LIMITED
	// beyond).
	TypingBurst    int
	TypingInterval time.Duration
	// Replay, when set, gives a socket opened with a resume cursor
	// (OpenAfter) the events it missed; without it such a socket is told
	// to reload (session.resync, reason cursor_expired).
	Replay Replayer
	// MaxReplay is the most missed frames a resume sends
	// (DefaultMaxReplay); keep it below the socket's buffer.
	MaxReplay int
}

// Source is where a session's socket came from: the client's address (as
// the HTTP edge resolved it, trusted proxies applied) and its User-Agent.
type Source struct {
	IP        string
	UserAgent string
}

// Refusals is told of a token refused in an auth frame: userID is the
// session's user, reason one of the Refusal* reasons. It must not block.
type Refusals interface {
	Refused(userID string, source Source, reason string)
}

// Reasons a token in an auth frame is refused, as Refusals hears them (the
// HTTP edge's reasons for the same refusals on the API).
const (
	RefusalTokenInvalid = "token_invalid"
	RefusalTokenExpired = "token_expired"
	RefusalTokenRevoked = "token_revoked"
	// RefusalOtherUser: a valid token of another user.
	RefusalOtherUser = "token_other_user"
)

// Hub registers the sessions of a process and fans events out to them.
type Hub struct {
	system *actor.ActorSystem
	log    *zap.Logger
	opts   Options

	// presenceMu serialises activity changes with their presence calls so
	// AgentOnline and AgentOffline arrive in order; Publish never takes it.
	presenceMu sync.Mutex

	mu sync.RWMutex
	// byUser holds every live session by user id, active or not.
	byUser map[string][]*Session
	// watchers are the sessions of supervisors and admins, who see every
	// conversation's events.
	watchers []*Session
	// active counts each user's active sessions (presence).
	active map[string]int
	// sessions counts byUser's sessions, read without the lock.
	sessions atomic.Int64
	// cursor is the Cursor of the last event published that had one.
	cursor atomic.Pointer[string]
}

var _ actors.Publisher = (*Hub)(nil)

// NewHub returns a hub spawning its sessions in system.
func NewHub(system *actor.ActorSystem, opts Options) *Hub {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.TypingBurst <= 0 {
		opts.TypingBurst = DefaultTypingBurst
	}
	if opts.TypingInterval <= 0 {
		opts.TypingInterval = DefaultTypingInterval
	}
	if opts.MaxReplay <= 0 {
		opts.MaxReplay = DefaultMaxReplay
	}
	h := &Hub{system: system, log: opts.Log.With(zap.String("actor", "agentsession")), opts: opts,
		byUser: map[string][]*Session{}, active: map[string]int{}}
	if opts.Events != nil {
		opts.Events.Subscribe(h, actors.SocketEvents...)
	}
	return h
}

// Session is the handle of one socket's agent-session actor, held by the
// socket. Per-connection state lives in the actor.
type Session struct {
	hub     *Hub
	user    actors.User
	source  Source
	watcher bool
	sink    Sink
	pid     *actor.PID
	// expiresAt is the access token's expiry at the upgrade; zero never
	// expires. The actor keeps the current one.
	expiresAt time.Time

	// state is the outbox's State, for State(), stored as outMu is
	// released (unlockOut).
	state atomic.Int32
	// active is whether the session counts for presence; guarded by the
	// hub's presenceMu.
	active bool
	// lastHeard is when the client was last heard from (a frame or a pong),
	// in the clock's UnixNano.
	lastHeard atomic.Int64
	// resume is the cursor the socket asked to resume after ("" for a
	// fresh one); helloCursor the hub's last cursor when it opened.
	resume, helloCursor string
	// through and filterEarly (under outMu): set by a resume before its
	// transition to Active; events up to through were replayed, so the
	// early ones and the live ones this node delivers late are skipped.
	through     cursor
	filterEarly bool
	// closing is set once the socket is on its way out; Publish skips it.
	closing atomic.Bool
	// started is set by the first Started; a second one is a restart after
	// a panic.
	started atomic.Bool
	// outMu guards the outbox (outbox.go): out is the state publishers
	// see, withheld the events an Expired session did not push, early the
	// events that came while New.
	outMu    sync.Mutex
	out      State
	withheld int
	early    []*Frame
	// slots bounds the client frames waiting in the mailbox.
	slots chan struct{}
	// stopped is closed when the actor has stopped.
	stopped     chan struct{}
	stoppedOnce sync.Once
	// work counts the actor's command goroutines.
	work      sync.WaitGroup
	closeOnce sync.Once
}

// Open spawns the session actor of a new socket and registers it, in state
// New. Its first frame is hello, pushed once it is registered and active.
// expiresAt is when the access token of the upgrade expires (zero: never);
// source is where the socket came from.
func (h *Hub) Open(user actors.User, expiresAt time.Time, source Source, sink Sink) *Session {
	return h.OpenAfter(user, expiresAt, source, sink, "")
}

// OpenAfter is Open for a socket resuming after cursor (one its client got
// in a frame, ValidCursor): after its hello it gets the events it may see
// published after cursor (Options.Replay), then the live ones, each once;
// when they cannot be replayed, a session.resync frame says why. An empty
// cursor is Open.
func (h *Hub) OpenAfter(user actors.User, expiresAt time.Time, source Source, sink Sink, cursor string) *Session {
	s := &Session{hub: h, user: user, source: source, expiresAt: expiresAt, resume: cursor,
		watcher: user.Role == actors.RoleSupervisor || user.Role == actors.RoleAdmin,
		sink:    sink, slots: make(chan struct{}, MaxPendingFrames), stopped: make(chan struct{})}
	s.lastHeard.Store(h.opts.Clock.Now().UnixNano())
	s.pid = h.system.Root.SpawnPrefix(actor.PropsFromProducer(func() actor.Actor {
		return &sessionActor{s: s, clock: h.opts.Clock, typingTokens: float64(h.opts.TypingBurst)}
	}), "agentsession-")

	// Read before the session is registered: every event it gets live
	// comes after this cursor.
	if c := h.cursor.Load(); c != nil {
		s.helloCursor = *c
	}
	h.mu.Lock()
	h.byUser[user.ID] = append(h.byUser[user.ID], s)
	if s.watcher {
		h.watchers = append(h.watchers, s)
	}
	h.sessions.Add(1)
	// greet is the first message in the mailbox, and a client that sees
	// hello is registered; events published before the hello wait in the
	// session's outbox (New) and follow it.
	h.system.Root.Send(s.pid, greet{})
	h.mu.Unlock()
	if ce := h.log.Check(zap.DebugLevel, "agent session opened"); ce != nil {
		ce.Write(zap.String("agent_id", user.ID), zap.String("role", string(user.Role)))
	}
	return s
}

// setActive makes s count for its user's presence or not, and tells
// Presence when the user's first active session appears or its last one
// goes. Idempotent; a closing session never becomes active.
func (h *Hub) setActive(s *Session, on bool) {
	h.presenceMu.Lock()
	defer h.presenceMu.Unlock()
	if s.active == on || (on && s.closing.Load()) {
		return
	}
	s.active = on
	h.mu.Lock()
	n := h.active[s.user.ID]
	if on {
		n++
		h.active[s.user.ID] = n
	} else {
		n--
		if n <= 0 {
			delete(h.active, s.user.ID)
		} else {
			h.active[s.user.ID] = n
		}
	}
	h.mu.Unlock()
	if h.opts.Presence == nil {
		return
	}
	switch {
	case on && n == 1:
		h.opts.Presence.AgentOnline(s.user.ID)
	case !on && n <= 0:
		h.opts.Presence.AgentOffline(s.user.ID)
	}
}

func (h *Hub) unregister(s *Session) {
	h.setActive(s, false)
	h.mu.Lock()
	defer h.mu.Unlock()
	ss := h.byUser[s.user.ID]
	i := slices.Index(ss, s)
	if i < 0 {
		return
	}
	// Copy on delete: DisconnectUser ranges over a snapshot of the slice
	// outside the lock.
	ss = slices.Delete(slices.Clone(ss), i, i+1)
	if len(ss) == 0 {
		delete(h.byUser, s.user.ID)
	} else {
		h.byUser[s.user.ID] = ss
	}
	if s.watcher {
		if j := slices.Index(h.watchers, s); j >= 0 {
			h.watchers = slices.Delete(slices.Clone(h.watchers), j, j+1)
		}
	}
	h.sessions.Add(-1)
}

// Publish sends ev to every session that may see it, on the caller's
// goroutine: it looks the sessions up under a read lock and pushes one
// shared Frame to each session's Sink, which never blocks. The frame is
// marshalled once, later, by the first socket that writes it. An expired
// session counts what it does not get (for its resync frame).
func (h *Hub) Publish(ev actors.Event) {
	if ev.Cursor != "" {
		c := ev.Cursor
		h.cursor.Store(&c)
	}
	if h.sessions.Load() == 0 {
		return
	}
	p := publication{typ: ev.Type, conversationID: ev.ConversationID, data: ev.Data, cursor: ev.Cursor, log: h.log}
	// The slices are copied on delete and only appended to under the write
	// lock, so what was read under the read lock stays valid after it.
	h.mu.RLock()
	if ev.UserID != "" {
		ss := h.byUser[ev.UserID]
		h.mu.RUnlock()
		offerAll(ss, &p, false, "")
		return
	}
	var assignee, previous []*Session
	if ev.AssigneeID != "" {
		assignee = h.byUser[ev.AssigneeID]
	}
	if ev.PreviousAssigneeID != "" && ev.PreviousAssigneeID != ev.AssigneeID {
		previous = h.byUser[ev.PreviousAssigneeID]
	}
	watchers := h.watchers
	h.mu.RUnlock()
	offerAll(assignee, &p, true, "")
	offerAll(previous, &p, true, "")
	offerAll(watchers, &p, false, "")
}

// relayTyping tells the other users who may see c (its assignee, the
// supervisors and admins) that from is typing in it. None of from's own
// sessions get it.
func (h *Hub) relayTyping(from *Session, c actors.Conversation) {
	p := publication{typ: FrameTyping, conversationID: c.ID,
		data: typingData{ConversationID: c.ID, UserID: from.user.ID}, log: h.log}
	h.mu.RLock()
	var assignee []*Session
	if c.AssigneeID != "" && c.AssigneeID != from.user.ID {
		assignee = h.byUser[c.AssigneeID]
	}
	watchers := h.watchers
	h.mu.RUnlock()
	offerAll(assignee, &p, true, "")
	offerAll(watchers, &p, false, from.user.ID)
}

// offerAll offers p to ss; skipWatchers leaves out the sessions that get
// it as watchers anyway, and skipUser the sessions of that user.
func offerAll(ss []*Session, p *publication, skipWatchers bool, skipUser string) {
	for _, s := range ss {
		if (skipWatchers && s.watcher) || (skipUser != "" && s.user.ID == skipUser) {
			continue
		}
		s.offer(p)
	}
}

// DisconnectUser closes every socket of userID (logout, revoked tokens:
// code ClosePolicyViolation). Their sessions stop getting events now, stop
// counting for presence, and end when the sockets report Closed.
func (h *Hub) DisconnectUser(userID string, code int, reason string) {
	h.mu.RLock()
	ss := h.byUser[userID]
	h.mu.RUnlock()
	for _, s := range ss {
		s.closing.Store(true)
		s.sink.Close(code, reason)
		h.setActive(s, false)
		h.system.Root.Send(s.pid, disconnected{})
	}
	if len(ss) > 0 {
		h.log.Info("agent disconnected", zap.String("agent_id", userID), zap.Int("sockets", len(ss)), zap.Int("code", code))
	}
}

// DisconnectAll closes every socket of the hub as DisconnectUser does (the
// events they should have had were lost: they reconnect and resume or
// reload).
func (h *Hub) DisconnectAll(code int, reason string) {
	h.mu.RLock()
	users := make([]string, 0, len(h.byUser))
	for u := range h.byUser {
		users = append(users, u)
	}
	h.mu.RUnlock()
	for _, u := range users {
		h.DisconnectUser(u, code, reason)
	}
}

// ActiveSessions returns each user's count of active sessions on this hub
// (users with none are absent): the node's share of cluster presence.
func (h *Hub) ActiveSessions() map[string]int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[string]int, len(h.active))
	for u, n := range h.active {
		out[u] = n
	}
	return out
}

// Online reports whether userID has at least one active session.
func (h *Hub) Online(userID string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.active[userID] > 0
}

// Deliver hands a client frame to the session; the session takes
// ownership of frame. It blocks while MaxPendingFrames frames are waiting,
// so a flooding client is slowed down at its own socket.
func (s *Session) Deliver(frame []byte) {
	if s.closing.Load() {
		return
	}
	s.Alive()
	if len(frame) > MaxFrameSize {
		s.closing.Store(true)
		s.sink.Close(CloseTooBig, ReasonTooBig)
		s.hub.setActive(s, false)
		s.hub.system.Root.Send(s.pid, disconnected{})
		return
	}
	select {
	case s.slots <- struct{}{}:
	case <-s.stopped:
		return
	}
	s.hub.system.Root.Send(s.pid, clientFrame{b: frame})
}

// Alive tells the session its client was heard from (the socket calls it
// for every pong): the idle timeout starts again.
func (s *Session) Alive() {
	s.lastHeard.Store(s.hub.opts.Clock.Now().UnixNano())
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
func (s *Session) UserID() string { return s.user.ID }

// State is the session's state (see State).
func (s *Session) State() State { return State(s.state.Load()) }

func (s *Session) markStopped() { s.stoppedOnce.Do(func() { close(s.stopped) }) }
