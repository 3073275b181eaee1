package supervisors

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// ParkFor is how long a conversation whose actor exhausted its restart
// budget stays parked: its commands are answered actors.ErrUnavailable at
// once (the inbox keeps its webhook bodies and tries them again, the API
// answers 503), its fire-and-forget commands are held (up to
// parkedBacklog), and the first message after it activates a fresh actor.
const ParkFor = 30 * time.Second

// parkedBacklog bounds the fire-and-forget commands held for one parked
// conversation; beyond it they are dropped with an error log (their
// sources repeat them: the sweeper's ticks, the sender's outcomes are
// persisted before they are reported).
const parkedBacklog = 1000

// supervision is the strategy of every shard over its conversation actors:
// a failure (a panic) answers the message's caller at once with
// actors.ErrUnavailable, instead of leaving it to time out, and restarts
// the actor, which reloads its conversation from the store, up to
// maxRestarts within restartWindow; past that budget the actor is stopped
// and its conversation parked (see ParkFor), with an error log and the
// parked counter (Host.Parked, exported as engine_conversations_parked_total)
// as the alert.
type supervision struct {
	log     *zap.Logger
	parkFor time.Duration // ParkFor; shorter in tests
	// parking holds the ids of actors stopped for exhausting their budget,
	// until their shard sees them terminate and parks their key.
	parking sync.Map
	parked  atomic.Int64
}

var _ actor.SupervisorStrategy = (*supervision)(nil)

func (s *supervision) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics,
	reason any, message any) {
	// The caller is answered last, once the park (if any) is recorded: the
	// shard runs this, so a command sent after the answer finds the key
	// parked rather than forwarded to the stopping actor.
	if env, ok := message.(*actor.MessageEnvelope); ok && env.Sender != nil {
		defer system.Root.Send(env.Sender, conversation.Failed(fmt.Errorf("conversation actor %s failed on this message: %w", child.GetId(), actors.ErrUnavailable)))
	}
	rs.Fail()
	if n := rs.NumberOfFailures(restartWindow); n > maxRestarts {
		rs.Reset()
		s.parking.Store(child.GetId(), reason)
		s.parked.Add(1)
		s.log.Error("conversation actor parked: it exhausted its restart budget; its commands are refused and its webhooks kept in the inbox until it is activated again",
			zap.String("actor", child.GetId()), zap.Int("failures", n), zap.Duration("window", restartWindow), zap.Duration("parked_for", s.parkFor),
			zap.Any("reason", reason))
		sup.StopChildren(child)
		return
	}
	s.log.Warn("conversation actor failed; restarting it from persisted state", zap.String("actor", child.GetId()), zap.Any("reason", reason))
	sup.RestartChildren(child)
}

// isParking reports whether pid is being stopped for exhausting its
// restart budget.
func (s *supervision) isParking(pid *actor.PID) bool {
	_, ok := s.parking.Load(pid.Id)
	return ok
}

// parkedKey is a conversation whose actor exhausted its restart budget.
type parkedKey struct {
	until time.Time
	held  []pending
}

// receiveParked handles an envelope for a parked key; it reports false
// when the key is not (or no longer) parked.
func (s *shard) receiveParked(c actor.Context, m envelope) bool {
	if pid, ok := s.children.get(m.key); ok {
		if !s.sup.isParking(pid) {
			return false
		}
		// Being stopped for exhausting its budget: parked from now on.
		s.children.remove(m.key)
		s.park(m.key, pid)
	}
	p, ok := s.parked[m.key]
	if !ok {
		return false
	}
	if time.Now().After(p.until) {
		// The park is over: a fresh actor gets what was held, then m.
		delete(s.parked, m.key)
		pid := s.child(c, m.key)
		for _, h := range p.held {
			c.RequestWithCustomSender(pid, h.msg, h.sender)
		}
		s.log.Info("parked conversation activated again", zap.String("actor", m.key.Name()), zap.Int("held", len(p.held)))
		return false
	}
	if c.Sender() != nil {
		c.Respond(conversation.Failed(fmt.Errorf("%s until %s: %w",
			m.key.Name(), p.until.UTC().Format(time.RFC3339), conversation.ErrParked)))
		return true
	}
	if len(p.held) >= parkedBacklog {
		s.log.Error("parked conversation's backlog is full; command dropped", zap.String("actor", m.key.Name()))
		return true
	}
	p.held = append(p.held, pending{msg: m.msg})
	return true
}

// park marks key parked if its actor who was stopped for exhausting its
// restart budget.
func (s *shard) park(key conversation.Key, who *actor.PID) {
	if _, ok := s.sup.parking.LoadAndDelete(who.GetId()); ok {
		s.parked[key] = &parkedKey{until: time.Now().Add(s.sup.parkFor)}
	}
}
