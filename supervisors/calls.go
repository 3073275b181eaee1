package supervisors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
)

// Calls is the local call.Directory: one supervising actor that owns the
// call actors, activates them by call id on demand (each loads its call
// from the store) and stops those whose call is closed. A panic restarts
// only that call's actor, which reloads its call; an actor that exhausts
// its restart budget is activated again after the budget's window, so a
// live call's timers are not lost to a bug that struck once too often.
type Calls struct {
	system *actor.ActorSystem
	pid    *actor.PID
	log    *zap.Logger
}

var _ call.Directory = (*Calls)(nil)

// NewCalls spawns the supervising actor of the call actors under system.
// deps are copied into the call actors' props: they must be complete.
func NewCalls(system *actor.ActorSystem, deps *call.Deps, log *zap.Logger) *Calls {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("component", "calls"))
	decider := func(reason any) actor.Directive {
		log.Warn("call actor failed; restarting it from persisted state", zap.Any("reason", reason))
		return actor.RestartDirective
	}
	strategy := actor.NewOneForOneStrategy(maxRestarts, restartWindow, decider)
	props := call.Props(system, deps)
	parent := actor.PropsFromProducer(func() actor.Actor { return newCallParent(system, props, log) }, actor.WithSupervisor(strategy))
	return &Calls{system: system, pid: system.Root.Spawn(parent), log: log}
}

// Send delivers cmd to the call callID without waiting.
func (c *Calls) Send(callID string, cmd call.Command) {
	c.system.Root.Send(c.pid, callEnvelope{id: callID, cmd: cmd})
}

// Request delivers cmd and returns the call's pending answer (see call.Ask).
func (c *Calls) Request(callID string, cmd call.Command, timeout time.Duration) call.Reply {
	return c.system.Root.RequestFuture(c.pid, callEnvelope{id: callID, cmd: cmd}, timeout)
}

// Live returns how many call actors are in memory.
func (c *Calls) Live() int {
	r, err := c.system.Root.RequestFuture(c.pid, countLive{}, 5*time.Second).Result()
	if err != nil {
		return 0
	}
	return r.(int)
}

// Stop stops the call actors (their calls are persisted; their timers end),
// waiting at most until ctx ends. It is safe to call twice.
func (c *Calls) Stop(ctx context.Context) {
	f := c.system.Root.PoisonFuture(c.pid)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = f.Result()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		c.log.Warn("call actors did not stop in time; their state is persisted")
	}
}

// callEnvelope carries a command for one call to the parent.
type callEnvelope struct {
	id  string
	cmd call.Command
}

// reactivate asks the parent to activate a call whose actor exhausted its
// restart budget.
type reactivate struct{ id string }

// callWaiting is a command held for the successor of a stopping actor.
type callWaiting struct {
	cmd    call.Command
	sender *actor.PID
}

// stoppingCall is a call whose actor is stopping: the commands held for
// its successor, and whether a successor is wanted without them.
type stoppingCall struct {
	waiting []callWaiting
	respawn bool
}

// callParent activates, forwards to and stops the call actors. Each child
// is named call.Name(id), so one Props serves them all and the id of a
// child that stopped is read back from its PID.
type callParent struct {
	system   *actor.ActorSystem
	props    *actor.Props
	log      *zap.Logger
	children map[string]*actor.PID
	stopping map[string]*stoppingCall
	// later are the timers of reactivate messages.
	later map[string]*time.Timer
	// down is set once the parent is stopping: its children stop with it.
	down bool
}

func newCallParent(system *actor.ActorSystem, props *actor.Props, log *zap.Logger) *callParent {
	return &callParent{system: system, props: props, log: log, children: map[string]*actor.PID{},
		stopping: map[string]*stoppingCall{}, later: map[string]*time.Timer{}}
}

// Receive handles one message.
func (p *callParent) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case callEnvelope:
		p.deliver(c, m.id, m.cmd, c.Sender())
	case countLive:
		c.Respond(len(p.children))
	case call.Idle:
		p.idle(c, m)
	case reactivate:
		delete(p.later, m.id)
		if _, ok := p.children[m.id]; !ok {
			if _, ok := p.stopping[m.id]; !ok {
				c.Send(p.child(c, m.id), call.Activate{})
			}
		}
	case *actor.Terminated:
		p.terminated(c, m.Who)
	case *actor.Stopping:
		p.down = true
		for id, t := range p.later {
			t.Stop()
			delete(p.later, id)
		}
	}
}

// deliver forwards cmd to the actor of id, activating it, or holds it while
// the actor stops.
func (p *callParent) deliver(c actor.Context, id string, cmd call.Command, sender *actor.PID) {
	if !call.ValidID(id) {
		if sender != nil {
			err := fmt.Errorf("call %q: %w", id, actors.ErrNotFound)
			if _, ok := cmd.(call.Start); ok {
				err = fmt.Errorf("start call %q: the id cannot name a call (empty, '/' or over 128 characters)", id)
			}
			c.Send(sender, call.Result{Err: err})
		}
		return
	}
	if s, ok := p.stopping[id]; ok {
		s.waiting = append(s.waiting, callWaiting{cmd: cmd, sender: sender})
		return
	}
	c.RequestWithCustomSender(p.child(c, id), cmd, sender)
}

// idle stops a child that asked for it; later commands for its call wait
// for its successor.
func (p *callParent) idle(c actor.Context, m call.Idle) {
	pid, ok := p.children[m.CallID]
	if ok && pid.Id == m.ID {
		delete(p.children, m.CallID)
		p.stopping[m.CallID] = &stoppingCall{respawn: m.Respawn}
		c.Poison(pid)
		return
	}
	if !m.Respawn {
		return // late: that activation is gone already
	}
	// A child that went idle and then live again (a Requeue it took before
	// it was stopped) wants a successor.
	switch s, stopping := p.stopping[m.CallID]; {
	case stopping:
		s.respawn = true
	case !ok:
		c.Send(p.child(c, m.CallID), call.Activate{})
	}
}

// terminated forgets a stopped child and starts its successor when
// commands wait for it or it asked for one.
func (p *callParent) terminated(c actor.Context, who *actor.PID) {
	id, ok := call.IDOf(who, c.Self())
	if !ok || p.down {
		return
	}
	if cur, ok := p.children[id]; ok && cur.Id == who.Id {
		// Stopped after exhausting its restart budget: activate the call
		// again after the budget's window (a live call needs its timers).
		delete(p.children, id)
		p.log.Error("call actor stopped after too many failures; activating it again later", zap.String("call_id", id),
			zap.Duration("retry_in", restartWindow))
		if _, ok := p.later[id]; !ok {
			self, system := c.Self(), p.system
			p.later[id] = time.AfterFunc(restartWindow, func() { system.Root.Send(self, reactivate{id: id}) })
		}
	}
	s, ok := p.stopping[id]
	if !ok {
		return
	}
	delete(p.stopping, id)
	if len(s.waiting) == 0 && !s.respawn {
		return
	}
	pid := p.child(c, id)
	if len(s.waiting) == 0 {
		c.Send(pid, call.Activate{})
	}
	for _, w := range s.waiting {
		c.RequestWithCustomSender(pid, w.cmd, w.sender)
	}
}

// child returns the actor of id, spawning it when there is none.
func (p *callParent) child(c actor.Context, id string) *actor.PID {
	if pid, ok := p.children[id]; ok {
		return pid
	}
	pid, err := c.SpawnNamed(p.props, call.Name(id))
	if err != nil {
		// The name is free again only once the previous actor of the call
		// terminated, and commands for a stopping call wait for that; so
		// this is a bug. Deliver to the live actor.
		p.log.Error("call actor already running", zap.String("call_id", id), zap.Error(err))
	}
	p.children[id] = pid
	return pid
}

// LiveCalls is what Calls.Rehydrate reads (see actors.CallStore).
type LiveCalls interface {
	LiveCalls(ctx context.Context) ([]actors.Call, error)
}

// activateTimeout bounds how long Rehydrate waits for one call's actor.
const activateTimeout = 30 * time.Second

// Rehydrate activates, at engine start, the actor of every live call, so
// that its timers run whether or not it was in memory before, and a new
// call not being connected has its connect job published again (see
// call.Activate). It waits for every actor to answer and returns how many
// did; an actor that could not read its call (the store down) stays in
// memory and tries again on its own. The error is the store's, or ctx's.
func (c *Calls) Rehydrate(ctx context.Context, store LiveCalls) (int, error) {
	start := time.Now()
	live, err := store.LiveCalls(ctx)
	if err != nil {
		return 0, fmt.Errorf("rehydrate calls: %w", err)
	}
	replies := make([]call.Reply, 0, len(live))
	for _, lc := range live {
		replies = append(replies, c.Request(lc.ID, call.Activate{}, activateTimeout))
	}
	n := 0
	for i, r := range replies {
		if _, err := call.Await(live[i].ID, r); err != nil {
			c.log.Warn("call not activated; it retries on its own", zap.String("call_id", live[i].ID), zap.Error(err))
			continue
		}
		n++
	}
	c.log.Info("calls rehydrated", zap.Int("count", n), zap.Int("read", len(live)), zap.Duration("duration", time.Since(start)))
	if err := ctx.Err(); err != nil {
		return n, fmt.Errorf("rehydrate calls: %w", err)
	}
	return n, nil
}
