// Package assignment is the assigner actor: it gives new conversations to
// the online agent with the fewest open conversations (ties go round-robin),
// never beyond AGENT_MAX_OPEN, and keeps conversations nobody can take
// waiting until an agent frees up or comes online.
//
// Guarantees: one assigner per node serialises every decision through its
// mailbox. Its view of who holds what comes from the conversations' own
// events (open = state new or active), loaded from the store at start, so it
// heals from any missed decision on the next event. A conversation is
// assigned by telling its conversation actor, which accepts an automatic
// assignment only while the conversation is still open and unassigned.
package assignment

import (
	"context"
	"sort"
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

// Assigner is the handle to the assigner actor. It implements
// conversation.Assigner, actors.Publisher (to observe conversation events)
// and the presence callbacks of agent sessions.
type Assigner struct {
	system *actor.ActorSystem
	pid    *actor.PID
}

// Options configure the assigner.
type Options struct {
	Store     Store
	Directory conversation.Directory
	// MaxOpen caps the open conversations auto-assigned to one agent.
	MaxOpen int
	Log     *zap.Logger
}

// Start loads the open conversations and spawns the assigner.
func Start(ctx context.Context, system *actor.ActorSystem, opts Options) (*Assigner, error) {
	a := &assigner{opts: opts, online: map[string]bool{}, open: map[string]string{}, counts: map[string]int{},
		queued: map[string]bool{}, roles: map[string]actors.Role{}, keys: map[string]conversation.Key{}}
	if err := a.load(ctx); err != nil {
		return nil, err
	}
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	return &Assigner{system: system, pid: pid}, nil
}

// RequestAgent queues a conversation for automatic assignment.
func (h *Assigner) RequestAgent(key conversation.Key, conversationID string) {
	h.system.Root.Send(h.pid, requestAgent{key: key, id: conversationID})
}

// Publish observes conversation events.
func (h *Assigner) Publish(ev actors.Event) {
	switch ev.Type {
	case actors.EventConversationUpdated, actors.EventConversationAssigned:
		h.system.Root.Send(h.pid, ev)
	}
}

// AgentOnline is told when a user's first socket opens.
func (h *Assigner) AgentOnline(userID string) {
	h.system.Root.Send(h.pid, presence{id: userID, online: true})
}

// AgentOffline is told when a user's last socket closes.
func (h *Assigner) AgentOffline(userID string) { h.system.Root.Send(h.pid, presence{id: userID}) }

// Loads returns the open-conversation count of every agent holding any.
func (h *Assigner) Loads(timeout time.Duration) (map[string]int, error) {
	r, err := h.system.Root.RequestFuture(h.pid, loads{}, timeout).Result()
	if err != nil {
		return nil, err
	}
	return r.(map[string]int), nil
}

// Stop stops the assigner.
func (h *Assigner) Stop() { _, _ = h.system.Root.PoisonFuture(h.pid).Result() }

type requestAgent struct {
	key conversation.Key
	id  string
}

type presence struct {
	id     string
	online bool
}

type loads struct{}

type assigner struct {
	opts   Options
	online map[string]bool
	// open maps each open (new or active) conversation to its assignee
	// ("" while unassigned); counts derive from it.
	open   map[string]string
	counts map[string]int
	queue  []string
	queued map[string]bool
	keys   map[string]conversation.Key
	roles  map[string]actors.Role
	rr     int
}

func (a *assigner) load(ctx context.Context) error {
	for page := 1; ; page++ {
		cs, total, err := a.opts.Store.ListConversations(ctx, actors.ConversationFilter{
			States: []string{actors.StateNew, actors.StateActive}, Page: page, Limit: 100})
		if err != nil {
			return err
		}
		// Oldest first into the queue: the list is newest first.
		for i := len(cs) - 1; i >= 0; i-- {
			c := cs[i]
			a.setOpen(c.ID, c.AssigneeID)
			a.keys[c.ID] = conversation.Key{PhoneNumberID: c.PhoneNumberID, WaID: c.WaID}
			if c.AssigneeID == "" {
				a.enqueue(c.ID)
			}
		}
		if page*100 >= total || len(cs) == 0 {
			return nil
		}
	}
}

func (a *assigner) setOpen(id, assignee string) {
	if prev, ok := a.open[id]; ok && prev != "" {
		a.counts[prev]--
		if a.counts[prev] <= 0 {
			delete(a.counts, prev)
		}
	}
	a.open[id] = assignee
	if assignee != "" {
		a.counts[assignee]++
	}
}

func (a *assigner) closeOpen(id string) {
	if prev, ok := a.open[id]; ok {
		if prev != "" {
			a.counts[prev]--
			if a.counts[prev] <= 0 {
				delete(a.counts, prev)
			}
		}
		delete(a.open, id)
	}
	delete(a.keys, id)
}

func (a *assigner) enqueue(id string) {
	if !a.queued[id] {
		a.queued[id] = true
		a.queue = append(a.queue, id)
	}
}

// Receive handles one message.
func (a *assigner) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case requestAgent:
		a.keys[m.id] = m.key
		if assignee, ok := a.open[m.id]; ok && assignee != "" {
			return
		}
		if _, ok := a.open[m.id]; !ok {
			a.open[m.id] = ""
		}
		a.enqueue(m.id)
		a.drain(c)
	case actors.Event:
		if m.State == actors.StateNew || m.State == actors.StateActive {
			a.setOpen(m.ConversationID, m.AssigneeID)
			if m.AssigneeID != "" {
				delete(a.queued, m.ConversationID)
			}
		} else {
			a.closeOpen(m.ConversationID)
			delete(a.queued, m.ConversationID)
		}
		a.drain(c)
	case presence:
		if m.online {
			if a.isAgent(m.id) {
				a.online[m.id] = true
				a.drain(c)
			}
		} else {
			delete(a.online, m.id)
		}
	case loads:
		out := make(map[string]int, len(a.counts))
		for k, v := range a.counts {
			out[k] = v
		}
		c.Respond(out)
	case assigned:
		if m.err != nil || m.res.Err != nil {
			// Refused or failed: take the tentative count back; the
			// conversation's events say who holds it.
			if a.open[m.id] == m.agent {
				a.setOpen(m.id, "")
			}
			if m.err != nil {
				a.enqueue(m.id)
			}
			return
		}
		if m.res.Duplicate && m.res.Conversation.ID == m.id {
			a.setOpen(m.id, m.res.Conversation.AssigneeID)
		}
		a.drain(c)
	}
}

func (a *assigner) isAgent(id string) bool {
	if r, ok := a.roles[id]; ok {
		return r == actors.RoleAgent
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	u, err := a.opts.Store.UserByID(ctx, id)
	if err != nil {
		a.opts.Log.Warn("look up user for assignment", zap.String("agent_id", id), zap.Error(err))
		return false
	}
	a.roles[id] = u.Role
	return u.Role == actors.RoleAgent
}

type assigned struct {
	id, agent string
	res       conversation.Result
	err       error
}

// drain assigns waiting conversations while some online agent has room.
func (a *assigner) drain(c actor.Context) {
	for len(a.queue) > 0 {
		id := a.queue[0]
		if !a.queued[id] {
			a.queue = a.queue[1:]
			continue
		}
		if assignee, ok := a.open[id]; !ok || assignee != "" {
			a.queue = a.queue[1:]
			delete(a.queued, id)
			continue
		}
		agent := a.pick()
		if agent == "" {
			return
		}
		a.queue = a.queue[1:]
		delete(a.queued, id)
		key, ok := a.keys[id]
		if !ok {
			continue
		}
		a.setOpen(id, agent)
		f := a.opts.Directory.Request(key, conversation.Assign{ConversationID: id, AgentID: agent, Auto: true}, 10*time.Second)
		self, system := c.Self(), c.ActorSystem()
		go func() {
			r, err := f.Result()
			res, _ := r.(conversation.Result)
			system.Root.Send(self, assigned{id: id, agent: agent, res: res, err: err})
		}()
	}
	if len(a.queue) == 0 {
		a.queue = nil
	}
}

// pick returns the online agent with the fewest open conversations below
// the cap; ties go round-robin. "" when nobody has room.
func (a *assigner) pick() string {
	ids := make([]string, 0, len(a.online))
	for id := range a.online {
		if a.counts[id] < a.opts.MaxOpen {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	sort.Strings(ids)
	least := a.counts[ids[0]]
	for _, id := range ids {
		least = min(least, a.counts[id])
	}
	var tied []string
	for _, id := range ids {
		if a.counts[id] == least {
			tied = append(tied, id)
		}
	}
	a.rr++
	return tied[a.rr%len(tied)]
}
