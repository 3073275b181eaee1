package assignment

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// Store is what the assigner reads at start and to learn roles.
type Store interface {
	ListConversations(ctx context.Context, f actors.ConversationFilter) ([]actors.Conversation, int, error)
	UserByID(ctx context.Context, id string) (actors.User, error)
}

// Events is where the assigner learns what conversations do: the engine's
// actors.Bus.
type Events interface {
	Subscribe(p actors.Publisher, types ...string) (unsubscribe func())
}

// eventTypes are the events the assigner subscribes to.
var eventTypes = []string{actors.EventConversationUpdated, actors.EventConversationAssigned, actors.EventAgentRequested}

// Options configure the assigner.
type Options struct {
	Store     Store
	Directory conversation.Directory
	Events    Events
	// MaxOpen caps the open conversations auto-assigned to one agent.
	MaxOpen int
	Log     *zap.Logger
	// RetryDelay is the first wait after a failed load; it doubles with
	// every failure up to maxRetryDelay (default 500ms).
	RetryDelay time.Duration
	// AssignTimeout bounds one Assign to a conversation (default 10s).
	AssignTimeout time.Duration
	// IOTimeout bounds one store call (default 5s).
	IOTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 500 * time.Millisecond
	}
	if o.AssignTimeout <= 0 {
		o.AssignTimeout = 10 * time.Second
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = 5 * time.Second
	}
	return o
}

// Restart budget of the assigner: beyond it, protoactor stops the actor
// (and a person is needed).
const (
	maxRestarts   = 10
	restartWindow = time.Minute
)

// Assigner is the handle to the assigner actor. It is an actors.Publisher
// (subscribed to the bus for the events it needs) and the agent sessions'
// Presence. Safe for concurrent use.
type Assigner struct {
	system      *actor.ActorSystem
	pid         *actor.PID
	online      *onlineSet
	unsubscribe func()
	stopOnce    sync.Once
}

// Start spawns the assigner and subscribes it to opts.Events. It returns at
// once: the actor reads the open conversations itself when it starts (and
// after every restart), retrying while the store fails.
func Start(system *actor.ActorSystem, opts Options) *Assigner {
	opts = opts.withDefaults()
	h := &Assigner{system: system, online: &onlineSet{users: map[string]bool{}}}
	log := opts.Log.With(zap.String("actor", "assigner"))
	decider := func(reason any) actor.Directive {
		log.Warn("assigner failed; restarting it from persisted state", zap.Any("reason", reason))
		return actor.RestartDirective
	}
	props := actor.PropsFromProducer(func() actor.Actor { return newAssigner(opts, log, h.online) },
		actor.WithGuardian(actor.NewOneForOneStrategy(maxRestarts, restartWindow, decider)))
	h.pid = system.Root.Spawn(props)
	h.unsubscribe = opts.Events.Subscribe(h, eventTypes...)
	return h
}

// Publish observes conversation events (the bus delivers only those of
// eventTypes).
func (h *Assigner) Publish(ev actors.Event) {
	switch ev.Type {
	case actors.EventAgentRequested:
		h.system.Root.Send(h.pid, requestAgent{id: ev.ConversationID,
			key: conversation.Key{PhoneNumberID: ev.PhoneNumberID, WaID: ev.WaID}})
	case actors.EventConversationUpdated, actors.EventConversationAssigned:
		h.system.Root.Send(h.pid, observed{id: ev.ConversationID, state: ev.State, assignee: ev.AssigneeID,
			key: conversation.Key{PhoneNumberID: ev.PhoneNumberID, WaID: ev.WaID}})
	}
}

// AgentOnline is told when a user's first socket opens.
func (h *Assigner) AgentOnline(userID string) {
	h.online.set(userID, true)
	h.system.Root.Send(h.pid, presence{id: userID, online: true})
}

// AgentOffline is told when a user's last socket closes.
func (h *Assigner) AgentOffline(userID string) {
	h.online.set(userID, false)
	h.system.Root.Send(h.pid, presence{id: userID})
}

// Loads returns the open-conversation count of every agent holding any.
// While the assigner has not read the store yet it is actors.ErrUnavailable.
func (h *Assigner) Loads(timeout time.Duration) (map[string]int, error) {
	r, err := h.system.Root.RequestFuture(h.pid, loads{}, timeout).Result()
	if err != nil {
		return nil, fmt.Errorf("assigner loads: %w: %w", actors.ErrUnavailable, err)
	}
	m, ok := r.(map[string]int)
	if !ok {
		return nil, fmt.Errorf("assigner loads: not loaded yet: %w", actors.ErrUnavailable)
	}
	return m, nil
}

// Stop unsubscribes the assigner and stops it. Safe to call twice.
func (h *Assigner) Stop() {
	h.stopOnce.Do(func() {
		h.unsubscribe()
		_, _ = h.system.Root.PoisonFuture(h.pid).Result()
	})
}

// onlineSet is who is online, kept by the handle so it survives a restart
// of the actor (it is not in the store: sessions report it).
type onlineSet struct {
	mu    sync.Mutex
	users map[string]bool
}

func (s *onlineSet) set(id string, online bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if online {
		s.users[id] = true
	} else {
		delete(s.users, id)
	}
}

func (s *onlineSet) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.users))
	for id := range s.users {
		out = append(out, id)
	}
	return out
}
