package call

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Defaults of the zero fields of Config.
const (
	DefaultGrace            = 2 * time.Minute
	DefaultLookupBackoff    = 15 * time.Second
	DefaultLookupMaxBackoff = 10 * time.Minute
	DefaultQueueTTL         = 10 * time.Minute
	DefaultConnectTimeout   = 15 * time.Second
	DefaultIOTimeout        = 5 * time.Second
)

// timerRetry is how long a timer whose work failed (the store or the queue
// down) waits before it tries again.
const timerRetry = 5 * time.Second

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Grace, DefaultGrace)
	def(&c.LookupBackoff, DefaultLookupBackoff)
	def(&c.LookupMaxBackoff, DefaultLookupMaxBackoff)
	def(&c.QueueTTL, DefaultQueueTTL)
	def(&c.ConnectTimeout, DefaultConnectTimeout)
	def(&c.IOTimeout, DefaultIOTimeout)
	c.LookupMaxBackoff = max(c.LookupMaxBackoff, c.LookupBackoff)
	return c
}

// env is what the actors of one Props share: the Deps with their defaults
// and the actor system their timers and lookups send to.
type env struct {
	Deps
	system *actor.ActorSystem
}

func newEnv(system *actor.ActorSystem, d *Deps) *env {
	e := &env{Deps: *d, system: system}
	e.Config = e.Config.withDefaults()
	if e.Log == nil {
		e.Log = zap.NewNop()
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	return e
}

// Props returns the props of the call actors of system, one for every
// actor of a parent: the parent spawns each with SpawnNamed(props,
// Name(callID)) and the actor reads its call id back from its name when it
// starts. A restarted actor (a panic) is produced anew from the same props
// under the same name, so it keeps its id and reloads its call from the
// store. d is copied: it must be complete.
func Props(system *actor.ActorSystem, d *Deps) *actor.Props {
	e := newEnv(system, d)
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{env: e} })
}

// Actor is one call's actor, the only writer of its actors.Call. Its fields
// are touched only from Receive, one message at a time.
type Actor struct {
	env    *env
	self   *actor.PID
	parent *actor.PID
	id     string
	// call is the stored call, nil when there is none (or it is not
	// loaded). It is updated in place; answers and events carry copies.
	call   *actors.Call
	loaded bool
	// republish is set when the call was read from the store while new:
	// its connect job may be missing (see Activate). Commands of the
	// sender (which hold the job) clear it.
	republish bool
	// retire is set when a save lost to another activation: the actor
	// answers the message in hand and asks its parent to replace it.
	retire bool
	// idleSent is set once the parent was asked to stop the actor.
	idleSent bool
	timer    *time.Timer
	// retryAt is when work that failed (loading, a timer's save, a
	// re-publish) is tried again; zero when none failed.
	retryAt time.Time
	// lookup is the call-details lookup in flight, nil when none.
	lookup *lookupRun
}

// Receive handles one message.
func (a *Actor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.started(c)
		// The message that activated the actor comes next: the re-publish
		// waits for it (see due), the idle check too.
		if a.self != nil {
			a.arm()
		}
		return
	case *actor.Restarting, *actor.Stopping:
		a.stopped()
		return
	case wake:
		a.wake()
	case lookupDone:
		a.lookupDone(m)
	case Command:
		r := a.command(m)
		if c.Sender() != nil {
			c.Respond(r)
		}
	default:
		return
	}
	a.after(c)
}

func (a *Actor) started(c actor.Context) {
	id, ok := IDOf(c.Self(), c.Parent())
	if !ok {
		// A bug in the parent: it did not spawn this actor by Name(id).
		a.env.Log.Error("call actor not named by its call id; stopping it", zap.String("actor", c.Self().GetId()))
		c.Stop(c.Self())
		return
	}
	a.self, a.parent, a.id = c.Self(), c.Parent(), id
	a.loaded, a.call = false, nil
	if err := a.ensureLoaded(); err != nil {
		a.log().Warn("load call; will retry", zap.Duration("retry_in", timerRetry), zap.Error(err))
	}
}

// stopped ends the actor's timer and waits for its lookup in flight.
func (a *Actor) stopped() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	if run := a.lookup; run != nil {
		a.lookup = nil
		run.cancel()
		<-run.done
	}
}

// after runs once a message is handled: it re-publishes a missing job,
// re-arms the timer and asks the parent to stop the actor when it has
// nothing to keep in memory.
func (a *Actor) after(c actor.Context) {
	if a.self == nil {
		return
	}
	if a.retire {
		a.retire, a.loaded, a.call, a.republish = false, false, nil, false
		a.stopTimer()
		a.idleSent = true
		c.Send(a.parent, Idle{CallID: a.id, ID: a.self.Id, Respawn: true})
		return
	}
	a.maybeRepublish()
	a.arm()
	switch {
	case a.loaded && (a.call == nil || !a.call.Live()):
		if !a.idleSent {
			a.idleSent = true
			c.Send(a.parent, Idle{CallID: a.id, ID: a.self.Id})
		}
	case a.idleSent && a.call != nil:
		// Live again (a Requeue came after the Idle): whatever the parent
		// has done with the Idle, it must run a successor.
		a.idleSent = false
		c.Send(a.parent, Idle{CallID: a.id, ID: a.self.Id, Respawn: true})
	}
}

func (a *Actor) log() *zap.Logger { return a.env.Log.With(zap.String("call_id", a.id)) }

// now is the time stored and published: UTC, to the millisecond.
func (a *Actor) now() time.Time { return a.env.Now().UTC().Truncate(time.Millisecond) }

// io returns the context of one message's store calls.
func (a *Actor) io() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), a.env.Config.IOTimeout)
}

// unavailable wraps a store or queue error so that it is an
// actors.ErrUnavailable (the edge's 503), naming the operation.
func unavailable(op string, err error) error {
	if errors.Is(err, actors.ErrUnavailable) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, actors.ErrUnavailable, err)
}

// ensureLoaded reads the call once per activation; a failure is retried on
// the next message or after timerRetry.
func (a *Actor) ensureLoaded() error {
	if a.loaded {
		return nil
	}
	ctx, cancel := a.io()
	defer cancel()
	c, err := a.env.Store.Call(ctx, a.id)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		a.call = nil
	case err != nil:
		a.retryAt = a.now().Add(timerRetry)
		return unavailable("load call "+a.id, err)
	default:
		a.call = &c
		a.republish = c.State == actors.StateNew
	}
	a.loaded, a.retryAt = true, time.Time{}
	return nil
}

// answer is the Result carrying the call as it stands and err.
func (a *Actor) answer(err error) Result {
	r := Result{Err: err}
	if a.call != nil {
		r.Call = *a.call
	}
	return r
}

// save stores next (a changed copy of the held call) conditionally on the
// held version. On a conflict the activation is stale: it retires.
func (a *Actor) save(ctx context.Context, next *actors.Call) error {
	next.Version = a.call.Version + 1
	next.UpdatedAt = a.now()
	if err := a.env.Store.SaveCall(ctx, *next); err != nil {
		if errors.Is(err, actors.ErrConflict) || errors.Is(err, actors.ErrNotFound) {
			a.log().Warn("call changed by another activation; stopping", zap.Int64("version", a.call.Version), zap.Error(err))
			a.retire = true
			return fmt.Errorf("save call %s: %w", a.id, ErrStale)
		}
		return unavailable("save call "+a.id, err)
	}
	*a.call = *next
	return nil
}

// transition saves next, then announces it (see announce).
func (a *Actor) transition(ctx context.Context, next *actors.Call) error {
	if err := a.save(ctx, next); err != nil {
		return err
	}
	a.announce("system", "calls.status", actors.OutcomeSuccess)
	return nil
}

// announce publishes the held call (it is stored) to the agent's socket and
// the conversation's timeline, and audits it.
func (a *Actor) announce(actorID, action, outcome string) {
	c := *a.call
	at := a.now()
	if a.env.Publisher != nil {
		a.env.Publisher.Publish(actors.Event{Type: actors.EventCallUpdated, ConversationID: c.ConversationID,
			AssigneeID: c.AgentID, Data: c.View(), At: at})
	}
	if a.env.Audit != nil {
		a.env.Audit.Record(actors.AuditRecord{ID: actors.NewID(), ActorID: actorID, Action: action,
			Resource: "call:" + c.ID, Outcome: outcome, Detail: fmt.Sprintf("status=%s state=%s", c.Status, c.State), At: at})
	}
	a.log().Debug("call updated", zap.String("state", c.State), zap.String("status", c.Status), zap.Int64("version", c.Version))
}

// publishJob puts the call's connect job on the exotel.outbound queue.
func (a *Actor) publishJob(ctx context.Context) error {
	if a.env.Outbox == nil {
		return fmt.Errorf("queue call %s: no exotel.outbound queue: %w", a.id, actors.ErrUnavailable)
	}
	job := actors.OutboundJob{Kind: actors.JobCallConnect, MessageID: a.id, CallID: a.id, ConversationID: a.call.ConversationID,
		Priority: actors.PriorityReply, Body: []byte(`{}`), EnqueuedAt: a.now()}
	if err := a.env.Outbox.Publish(ctx, job); err != nil {
		return unavailable("queue call "+a.id, err)
	}
	return nil
}

// deadline is when a call accepted at now expires without a terminal
// callback: its TimeOut and TimeLimit, plus Grace.
func (a *Actor) deadline(now time.Time) time.Time {
	c := a.call
	return now.Add(time.Duration(c.TimeOut+c.TimeLimit)*time.Second + a.env.Config.Grace)
}

// connectingFresh reports whether a connect began less than ConnectTimeout
// before now (its outcome may still come).
func (a *Actor) connectingFresh(now time.Time) bool {
	s := a.call.ConnectStartedAt
	return !s.IsZero() && now.Sub(s) < a.env.Config.ConnectTimeout
}

// queueExpired reports whether a new call has waited for Exotel past
// QueueTTL and no connect is in flight: it is canceled.
func (a *Actor) queueExpired(now time.Time) bool {
	c := a.call
	return c.State == actors.StateNew && !now.Before(c.StartedAt.Add(a.env.Config.QueueTTL)) && !a.connectingFresh(now)
}

// close sets next closed with a terminal status at now.
func closeAs(next *actors.Call, status, reason string, at time.Time) {
	next.State, next.Status = actors.StateClosed, status
	if reason != "" {
		next.Reason = reason
	}
	if next.EndedAt.IsZero() {
		next.EndedAt = at
	}
	next.ConnectStartedAt, next.NextLookupAt = time.Time{}, time.Time{}
}
