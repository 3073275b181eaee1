package assignment

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// Messages of the assigner actor. They never leave the node.
type (
	// requestAgent queues a conversation for an agent (agent.requested).
	requestAgent struct {
		key conversation.Key
		id  string
	}
	// observed is a conversation.updated or conversation.assigned event.
	observed struct {
		id, state, assignee string
		key                 conversation.Key
	}
	// presence is a user's first socket opening or last one closing.
	presence struct {
		id     string
		online bool
	}
	// loads asks for the open counts; answered map[string]int, or
	// notLoaded before the store was read.
	loads     struct{}
	notLoaded struct{}
	// reload retries a failed load.
	reload struct{}
	// assigned is the outcome of an Assign the assigner sent.
	assigned struct {
		id, agent string
		res       conversation.Result
		// failed: the conversation refused or failed the Assign, or did
		// not answer (noAnswer).
		failed, noAnswer bool
	}
)

// maxRetryDelay caps the wait between two load attempts.
const maxRetryDelay = time.Minute

// loadPage is how many open conversations one store read returns.
const loadPage = 100

// assigner is the actor. Its producer builds a fresh one (empty, not
// loaded) on every start and restart; Started reads its state from the
// store. Fields are touched only from Receive.
type assigner struct {
	opts     Options
	log      *zap.Logger
	presence *onlineSet

	// loaded is false until the open conversations were read; until then
	// messages wait in stash, in arrival order.
	loaded bool
	stash  []any
	// retry is the wait before the next load attempt; timer sends reload.
	retry time.Duration
	timer *time.Timer

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

func newAssigner(opts Options, log *zap.Logger, presence *onlineSet) *assigner {
	return &assigner{opts: opts, log: log, presence: presence, retry: opts.RetryDelay, online: map[string]bool{},
		open: map[string]string{}, counts: map[string]int{}, queued: map[string]bool{}, keys: map[string]conversation.Key{},
		roles: map[string]actors.Role{}}
}

// Receive handles one message.
func (a *assigner) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.load(c)
	case *actor.Stopping, *actor.Restarting:
		if a.timer != nil {
			a.timer.Stop()
		}
	case reload:
		if !a.loaded {
			a.load(c)
		}
	case loads:
		if !a.loaded {
			c.Respond(notLoaded{})
			return
		}
		out := make(map[string]int, len(a.counts))
		for k, v := range a.counts {
			out[k] = v
		}
		c.Respond(out)
	case requestAgent, observed, presence, assigned:
		if !a.loaded {
			a.stash = append(a.stash, m)
			return
		}
		a.handle(c, m)
	}
}

// load reads the open conversations and who of the online users are
// agents, then applies what waited meanwhile. On failure it schedules a
// retry with backoff and keeps waiting.
func (a *assigner) load(c actor.Context) {
	if err := a.read(); err != nil {
		delay := a.retry
		a.retry = min(2*a.retry, maxRetryDelay)
		a.log.Warn("assigner could not read open conversations; will retry", zap.Duration("retry_in", delay),
			zap.Int("waiting", len(a.stash)), zap.Error(err))
		self, system := c.Self(), c.ActorSystem()
		a.timer = time.AfterFunc(delay, func() { system.Root.Send(self, reload{}) })
		return
	}
	a.loaded, a.retry = true, a.opts.RetryDelay
	for _, id := range a.presence.list() {
		if a.isAgent(id) {
			a.online[id] = true
		}
	}
	stash := a.stash
	a.stash = nil
	for _, m := range stash {
		a.handle(c, m)
	}
	a.drain(c)
	a.log.Info("assigner loaded", zap.Int("open", len(a.open)), zap.Int("waiting", len(a.queue)), zap.Int("online", len(a.online)))
}

// read replaces the open conversations with the store's, oldest unassigned
// first in the queue. On error it changes nothing.
func (a *assigner) read() error {
	open, keys := map[string]string{}, map[string]conversation.Key{}
	var waiting []string
	for page := 1; ; page++ {
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.IOTimeout)
		cs, total, err := a.opts.Store.ListConversations(ctx, actors.ConversationFilter{
			States: []string{actors.StateNew, actors.StateActive}, Page: page, Limit: loadPage})
		cancel()
		if err != nil {
			return fmt.Errorf("list open conversations (page %d): %w", page, err)
		}
		// The list is newest first; the queue oldest first.
		for i := len(cs) - 1; i >= 0; i-- {
			c := cs[i]
			open[c.ID] = c.AssigneeID
			keys[c.ID] = conversation.Key{PhoneNumberID: c.PhoneNumberID, WaID: c.WaID}
			if c.AssigneeID == "" {
				waiting = append(waiting, c.ID)
			}
		}
		if page*loadPage >= total || len(cs) == 0 {
			break
		}
	}
	a.open, a.counts, a.keys, a.queue, a.queued = map[string]string{}, map[string]int{}, keys, nil, map[string]bool{}
	for id, assignee := range open {
		a.setOpen(id, assignee)
	}
	for _, id := range waiting {
		a.enqueue(id)
	}
	return nil
}

// handle applies one message once loaded.
func (a *assigner) handle(c actor.Context, msg any) {
	switch m := msg.(type) {
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
	case observed:
		if m.state == actors.StateNew || m.state == actors.StateActive {
			a.setOpen(m.id, m.assignee)
			if m.key.WaID != "" {
				a.keys[m.id] = m.key
			}
			if m.assignee != "" {
				delete(a.queued, m.id)
			}
		} else {
			a.closeOpen(m.id)
			delete(a.queued, m.id)
		}
		a.drain(c)
	case presence:
		if !m.online {
			delete(a.online, m.id)
			return
		}
		if a.isAgent(m.id) {
			a.online[m.id] = true
			a.drain(c)
		}
	case assigned:
		if m.failed {
			// Refused, failed or unanswered: take the tentative count
			// back; the conversation's events say who holds it. Only an
			// unanswered one is tried again: a refusal means it is no
			// longer open and unassigned.
			if a.open[m.id] == m.agent {
				a.setOpen(m.id, "")
			}
			if m.noAnswer {
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

func (a *assigner) isAgent(id string) bool {
	if r, ok := a.roles[id]; ok {
		return r == actors.RoleAgent
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.IOTimeout)
	defer cancel()
	u, err := a.opts.Store.UserByID(ctx, id)
	if err != nil {
		a.log.Warn("look up user for assignment", zap.String("agent_id", id), zap.Error(err))
		return false
	}
	a.roles[id] = u.Role
	return u.Role == actors.RoleAgent
}

// drain assigns waiting conversations while some online agent has room.
// Each Assign is asked off the mailbox; its outcome comes back as assigned.
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
		dir, timeout := a.opts.Directory, a.opts.AssignTimeout
		self, system := c.Self(), c.ActorSystem()
		go func() {
			res, err := conversation.Ask(dir, key, conversation.Assign{ConversationID: id, AgentID: agent, Auto: true}, timeout)
			system.Root.Send(self, assigned{id: id, agent: agent, res: res, failed: err != nil,
				noAnswer: errors.Is(err, conversation.ErrNoAnswer)})
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
