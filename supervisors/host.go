package supervisors

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors/conversation"
)

// Restart budget of one conversation actor.
const (
	maxRestarts   = 10
	restartWindow = time.Minute
)

// Host is the local conversation.Directory: shards of host actors that own
// the conversation actors of their keys.
type Host struct {
	system *actor.ActorSystem
	shards []*actor.PID
	deps   *conversation.Deps
	log    *zap.Logger
	sup    *supervision
	// workers run the mailboxes of the shards and their conversations.
	workers *workers
}

var _ conversation.Directory = (*Host)(nil)

// NewHost spawns shards host actors (at least 1) under system.
func NewHost(system *actor.ActorSystem, deps *conversation.Deps, shards int, log *zap.Logger) *Host {
	if shards < 1 {
		shards = 1
	}
	h := &Host{system: system, deps: deps, log: log, sup: &supervision{log: log, parkFor: ParkFor}, workers: newWorkers()}
	for i := 0; i < shards; i++ {
		props := actor.PropsFromProducer(func() actor.Actor { return newShard(system, deps, h.sup, h.workers, log) },
			actor.WithSupervisor(h.sup), actor.WithDispatcher(h.workers))
		h.shards = append(h.shards, system.Root.Spawn(props))
	}
	return h
}

func (h *Host) shard(key conversation.Key) *actor.PID {
	f := fnv.New32a()
	_, _ = f.Write([]byte(key.PhoneNumberID))
	_, _ = f.Write([]byte{0})
	_, _ = f.Write([]byte(key.WaID))
	return h.shards[int(f.Sum32()%uint32(len(h.shards)))]
}

// Parked is how many times a conversation was parked for exhausting its
// restart budget since the host started (the alert's counter).
func (h *Host) Parked() int64 { return h.sup.parked.Load() }

// Send delivers cmd to the conversation of key without waiting.
func (h *Host) Send(key conversation.Key, cmd conversation.Command) {
	h.system.Root.Send(h.shard(key), envelope{key: key, msg: cmd})
}

// Request delivers cmd and returns the conversation's pending answer (see
// conversation.Ask).
func (h *Host) Request(key conversation.Key, cmd conversation.Command, timeout time.Duration) conversation.Reply {
	return h.system.Root.RequestFuture(h.shard(key), envelope{key: key, msg: cmd}, timeout)
}

// Stop stops every shard and its conversations, waiting at most until ctx
// ends.
func (h *Host) Stop(ctx context.Context) {
	futures := make([]*actor.Future, 0, len(h.shards))
	for _, pid := range h.shards {
		futures = append(futures, h.system.Root.PoisonFuture(pid))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, f := range futures {
			_, _ = f.Result()
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		h.log.Warn("conversation shards did not stop in time; their state is persisted")
	}
}

// Live returns how many conversation actors are in memory.
func (h *Host) Live() int {
	n := 0
	for _, pid := range h.shards {
		if r, err := h.system.Root.RequestFuture(pid, countLive{}, 5*time.Second).Result(); err == nil {
			n += r.(int)
		}
	}
	return n
}

// envelope carries a command for one key to its shard.
type envelope struct {
	key conversation.Key
	msg conversation.Command
}

// pending is a command waiting for a stopping actor's successor.
type pending struct {
	msg    conversation.Command
	sender *actor.PID
}

// shard is a host actor: it activates, forwards to and passivates the
// conversation actors of its keys. Each child is named by its key
// (conversation.Key.Name), so one Props serves them all and the key of a
// child that stopped is read back from its PID.
type shard struct {
	props *actor.Props
	// hydrated are the props of actors spawned with their state (see
	// Host.Rehydrate).
	hydrated *actor.Props
	log      *zap.Logger
	children children
	stopping map[conversation.Key][]pending
	// parked are the keys whose actor exhausted its restart budget.
	sup    *supervision
	parked map[conversation.Key]*parkedKey
}

func newShard(system *actor.ActorSystem, deps *conversation.Deps, sup *supervision, w *workers, log *zap.Logger) *shard {
	return &shard{props: conversation.Props(system, deps).Configure(actor.WithDispatcher(w)),
		hydrated: conversation.HydratedProps(system, deps).Configure(actor.WithDispatcher(w)), log: log,
		children: children{},
		stopping: map[conversation.Key][]pending{},
		sup:      sup, parked: map[conversation.Key]*parkedKey{}}
}

// Receive handles one message.
func (s *shard) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case conversation.Redirect:
		// A command sent without a sender that reached a retiring actor:
		// it waits for the key's next actor (the key is stopping).
		s.deliver(c, envelope{key: m.Key, msg: m.Cmd})
	case envelope:
		s.deliver(c, m)
	case countLive:
		c.Respond(len(s.children))
	case stopAll:
		c.Respond(s.stopChildren(c))
	case hydrate:
		c.Respond(s.hydrate(c, m.conversations))
	case conversation.Idle:
		pid, ok := s.children.get(m.Key)
		if !ok || pid.Id != m.ID {
			return
		}
		s.children.remove(m.Key)
		s.stopping[m.Key] = nil
		c.Poison(pid)
	case *actor.Terminated:
		key, ok := conversation.KeyOf(m.Who, c.Self())
		if !ok {
			return
		}
		if cur, ok := s.children.get(key); ok && cur.Id == m.Who.Id {
			// Stopped after exhausting its restart budget (parked), or
			// retired (a newer activation owns its state).
			s.children.remove(key)
			s.park(key, m.Who)
		}
		if buf, ok := s.stopping[key]; ok {
			delete(s.stopping, key)
			if len(buf) > 0 {
				pid := s.child(c, key)
				for _, p := range buf {
					c.RequestWithCustomSender(pid, p.msg, p.sender)
				}
			}
		}
	}
}

// deliver hands m to its key's actor: the live one, or, while the key's
// actor is stopping, its successor once it ended; a parked key's command
// is refused.
func (s *shard) deliver(c actor.Context, m envelope) {
	if !m.key.Valid() {
		s.log.Warn("message for a conversation key that cannot name an actor refused", zap.String("phone_number_id", m.key.PhoneNumberID))
		if c.Sender() != nil {
			c.Respond(conversation.Failed(fmt.Errorf("deliver to %s: %w", m.key.Name(), conversation.ErrInvalidKey)))
		}
		return
	}
	if pid, ok := s.children.get(m.key); ok && !s.sup.isParking(pid) {
		// The common case: a live child (a key with a child is never
		// stopping, and is parked only once its child is).
		c.RequestWithCustomSender(pid, m.msg, c.Sender())
		return
	}
	if buf, ok := s.stopping[m.key]; ok {
		s.stopping[m.key] = append(buf, pending{msg: m.msg, sender: c.Sender()})
		return
	}
	if s.receiveParked(c, m) {
		return
	}
	c.RequestWithCustomSender(s.child(c, m.key), m.msg, c.Sender())
}

func (s *shard) child(c actor.Context, key conversation.Key) *actor.PID {
	if pid, ok := s.children.get(key); ok {
		return pid
	}
	// A parent is told when a child stops (*actor.Terminated) without
	// watching it; a watch would cost every conversation a PID set.
	pid, err := c.SpawnNamed(s.props, key.Name())
	if err != nil {
		// The name is only free again once the previous actor of the key
		// has terminated, and messages for a stopping key wait for that
		// (s.stopping), so this is a bug; deliver to the live actor.
		s.log.Error("conversation actor of this key already running", zap.String("actor", key.Name()), zap.Error(err))
	}
	s.children.put(key, pid)
	return pid
}

// countLive asks a shard how many conversation actors it holds.
type countLive struct{}
