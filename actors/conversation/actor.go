package conversation

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Store is what a conversation actor reads and writes.
type Store interface {
	CreateConversation(ctx context.Context, c actors.Conversation) error
	OpenConversation(ctx context.Context, phoneNumberID, waID string) (actors.Conversation, error)
	SaveConversation(ctx context.Context, c actors.Conversation) error
	AppendMessageAndSave(ctx context.Context, m actors.Message, c actors.Conversation) error
	Message(ctx context.Context, id string) (actors.Message, error)
	MessageByWaID(ctx context.Context, waMessageID string) (actors.Message, error)
	UpdateMessageStatus(ctx context.Context, id, status, waMessageID string, werr *actors.WhatsAppError, at time.Time) (bool, error)
	UpdateMessageStatuses(ctx context.Context, changes []actors.StatusChange) ([]bool, error)
	AddPendingStatus(ctx context.Context, s actors.StatusUpdate) error
	TakePendingStatuses(ctx context.Context, waMessageID string) ([]actors.StatusUpdate, error)
	AddNotifications(ctx context.Context, ns []actors.Notification) error
	CustomerByPhone(ctx context.Context, phone string) (actors.Customer, error)
	CreateCustomer(ctx context.Context, c actors.Customer) error
}

// Config are the timings of a conversation.
type Config struct {
	// Window is WhatsApp's customer-service window (24h).
	Window time.Duration
	// Warning is how long before the window ends agents are warned; 0
	// disables the warning.
	Warning time.Duration
	// IdleTimeout passivates an actor with no messages for that long.
	IdleTimeout time.Duration
	// IOTimeout bounds each store call.
	IOTimeout time.Duration
}

// Deps are shared by every conversation actor of a process. They are
// complete before the first actor is spawned and never change after (but
// for the generation RetireAll moves on).
type Deps struct {
	Store Store
	// Publisher receives every event a conversation publishes (the
	// engine's actors.Bus), including EventAgentRequested when an open
	// conversation has no assignee; nil publishes nothing.
	Publisher actors.Publisher
	// Outbox takes queued sends; nil refuses sends. A publish failing
	// with actors.ErrPublishUnknown is an accepted send: the Outbox must
	// publish such a job again until one is confirmed or the message is
	// no longer queued (cmd wires a relay that does).
	Outbox actors.OutboundPublisher
	Config Config
	Log    *zap.Logger
	// Clock is the time; SystemClock when nil.
	Clock Clock
	// Pauser holds back sends when a failed status reports a code that
	// pauses a recipient or the business number; nil pauses nothing.
	Pauser Pauser
	// Templates is told when a failed message's code makes its template
	// unusable; nil tells nobody.
	Templates TemplateRegistry
	// Pricing records the pricing object of status webhooks per outbound
	// message; nil records none.
	Pricing PricingRecorder
	// Messages reads a conversation's latest message for the
	// conversation.assigned event; nil sends the conversation alone.
	Messages MessageLister
	// Media records the medium of each inbound media message before the
	// message is stored, and has its bytes fetched once it is; nil leaves
	// inbound media unrecorded (the message shows no media).
	Media MediaIntake
	// MediaSends readies our media for sends; nil refuses a send that
	// names one.
	MediaSends MediaSends
	// Epochs, when not nil, fences every activation (see fence.go): it
	// acquires its key's epoch before it reads, and every conversation,
	// message and status write it makes is refused once a newer activation
	// took the key (actors.ErrFenced; the actor stops). The engine sets it
	// when it runs in a cluster; nil (one node) costs no write per
	// activation: on SQLite the acquisition doubles an activation's CPU
	// (BenchmarkActivationSQLiteFenced: about 106 against 54 cpu-µs), while
	// the check each write then makes does not show
	// (BenchmarkSendLifecycleSQLiteFenced). A Hydrate is ignored when set:
	// the actor reads its conversation, after acquiring its epoch, on its
	// first message.
	Epochs actors.EpochStore
	// FencedWrite is called once for every write refused as fenced
	// (engine_fenced_writes_total); nil counts nothing.
	FencedWrite func()
	// FlushEvents, when set (a cluster: the Redis relay's Flush), is
	// waited for before a command that published events is answered (see
	// Actor.flushEvents).
	FlushEvents func(ctx context.Context) error
	// RetiredCommand is called once for every command a retiring
	// activation refused as stale without applying it
	// (engine_retired_commands_total); nil counts nothing.
	RetiredCommand func()
	// gen is the generation of the actors (see RetireAll).
	gen atomic.Uint32
}

// MediaSends readies our media for sends (gateway/outbound/sender).
// Prepare links medium mediaID to msg, an outbound message about to be
// stored and queued from business number phoneNumberID, and returns the
// summary the message shows and, when the medium has no WhatsApp id fresh
// for that number, the upload job to publish before the send's (nil
// otherwise). actors.ErrNotFound when there is no such medium.
type MediaSends interface {
	Prepare(ctx context.Context, mediaID, phoneNumberID string, msg actors.Message) (*actors.MessageMedia, *actors.OutboundJob, error)
}

// MediaIntake takes the media of inbound messages (gateway/outbound/
// mediafetch). Pending records the medium of in, about to be stored as
// messageID in conversationID, and returns the summary the message shows
// (nil for a message without a medium); it is idempotent for a webhook
// delivered again. Fetch asks for the medium's bytes; it never blocks.
type MediaIntake interface {
	Pending(ctx context.Context, messageID, conversationID string, in *actors.InboundMessage) (*actors.MessageMedia, error)
	Fetch(mediaID string)
}

// MessageLister reads a conversation's messages, newest first.
type MessageLister interface {
	ListMessages(ctx context.Context, conversationID, before string, limit int) ([]actors.Message, string, error)
}

// env is what the actors of one Props share: the Deps, the actor system
// their timers send to, the clock, and the alarms that wake them. Kept once
// per Props rather than per actor, so an idle actor stays small.
type env struct {
	*Deps
	system *actor.ActorSystem
	clock  Clock
	alarms *alarms
}

func newEnv(system *actor.ActorSystem, d *Deps) *env {
	clock := d.Clock
	if clock == nil {
		clock = SystemClock
	}
	return &env{Deps: d, system: system, clock: clock, alarms: newAlarms(system, clock)}
}

// Props returns the props of the conversation actors of system, one for
// every actor of a parent: the parent spawns each with
// SpawnNamed(props, key.Name()) and the actor reads its key back from its
// name when it starts. protoactor produces a restarted actor anew from the
// same props, and its name (its PID) stays, so a restarted actor keeps its
// key and reloads its conversation from the store. A per-key Props would
// cost every idle conversation its own Props and producer closure.
func Props(system *actor.ActorSystem, d *Deps) *actor.Props {
	e := newEnv(system, d)
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{env: e, gen: d.generation()} })
}

// HydratedProps returns the props of conversation actors whose state is
// handed to them instead of read: the parent spawns each with
// SpawnNamed(props, key.Name()) and sends it Hydrate before anything else.
// Such an actor does not read the store when it starts; if it is restarted
// (a panic), it reads its conversation on its next message, and until then
// the Sweeper fires its timers from the store as for a passivated one.
func HydratedProps(system *actor.ActorSystem, d *Deps) *actor.Props {
	e := newEnv(system, d)
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{env: e, awaitHydrate: true, gen: d.generation()} })
}

// Actor is one conversation's actor. Its fields are touched only from
// Receive, one message at a time, but for slot, which its alarms own (they
// read self, set before the actor's first alarm). The flags sit together at
// the end so the struct fits the 64-byte size class: every idle
// conversation holds one.
type Actor struct {
	env  *env
	self *actor.PID
	// conv is the open conversation, nil when there is none, with what the
	// actor holds of its latest outbound messages. It is updated in place
	// and never handed out: answers and events carry copies.
	conv *held
	// timerAt is when the actor's one alarm fires (see mono), while armed:
	// it wakes the actor for the conversation's NextTimerAt and for the
	// idle timeout (see armTimer).
	timerAt int64
	// activeAt is when the actor last received a message (see mono); the
	// idle timeout counts from it.
	activeAt int64
	// epoch is the activation's epoch of its key (0 until acquired, and
	// always when Deps.Epochs is nil); every write carries it.
	epoch int64
	// nameAt is where the actor's name (Key.Name) starts in self.Id; the
	// key is read back from it (see key) rather than kept.
	nameAt int16
	// gen is Deps' generation when the actor was made: once RetireAll
	// moves it on, the actor is retiring (see Receive).
	gen uint16
	// slot is the actor's entry in env.alarms (its index plus one; 0 when
	// it has none), guarded by the alarms' lock.
	slot int32
	// loaded is false until the open conversation (if any) was read.
	loaded bool
	// retire is set when a write was rejected (another activation changed
	// the conversation): the actor answers the message in hand, then stops.
	retire bool
	// retiring is set once the actor asked its parent to stop it after a
	// retire: every command left in its mailbox is refused (ErrStale).
	retiring bool
	// awaitHydrate is set for actors of HydratedProps: they do not read the
	// store when they start, Hydrate brings their state.
	awaitHydrate bool
	// armed is set while the alarm is armed (for timerAt).
	armed bool
	// published is set when the message in hand published an event (see
	// flushEvents).
	published bool
}

// Receive handles one message.
func (a *Actor) Receive(c actor.Context) {
	msg := c.Message()
	if _, ok := msg.(wake); !ok {
		// Any message but the actor's own timer keeps it in memory, as
		// protoactor's receive timeout would.
		a.activeAt = a.mono()
	}
	injectFault(msg)
	if !a.retiring && a.gen != a.env.generation() {
		// Every actor of this process was retired (RetireAll: the node
		// lost its cluster membership) and the parent stops this one
		// after its mailbox: nothing left there is applied with the
		// state this activation holds.
		a.retiring = true
	}
	if a.retiring {
		a.refuseRetired(c, msg)
		return
	}
	switch msg.(type) {
	case *actor.Started:
		a.start(c)
	case *actor.Restarting, *actor.Stopping:
		a.stop()
	case wake:
		a.wake(c)
	case Inbound:
		a.receiveInbound(c, msg)
	default:
		a.receiveCommand(c, msg)
	}
	if a.retire {
		// Another activation owns newer state: stop, and let the next
		// message re-activate from the store. The parent is asked to stop
		// it as after an idle timeout (it holds the key's next commands
		// until this actor ends, then hands them to a successor); the
		// commands already in this mailbox are refused at once as stale
		// (refuseRetired), so none waits for its caller's timeout: a stop
		// of its own would drop them.
		a.retire, a.retiring = false, true
		if c.Parent() == nil {
			c.Stop(c.Self())
			return
		}
		c.Send(c.Parent(), Idle{Key: a.key(), ID: a.self.Id})
	}
}

// receiveInbound handles an Inbound. Each kind of message is handled in a
// function of its own so that the stack of one message holds only its own
// locals: protoactor runs every mailbox batch on a fresh goroutine, whose
// stack grows (is copied) when a message needs more than it has.
//
//go:noinline
func (a *Actor) receiveInbound(c actor.Context, msg any) {
	m := msg.(Inbound)
	var r inboundAnswer
	if err := a.inbound(&r, &m.Msg); err != nil {
		r.Failure = failureOf(err)
	}
	if ce := a.env.Log.Check(zap.DebugLevel, "inbound message handled"); ce != nil {
		// The trail of one wamid across nodes (multi-node tests run at
		// debug): which activation applied it, at which Seq and epoch.
		ce.Write(zap.String("actor", a.key().Name()), zap.String("wa_message_id", m.Msg.WaMessageID),
			zap.String("conversation_id", r.Conversation.ID), zap.Int64("seq", r.Conversation.Seq), zap.Int64("epoch", a.epoch),
			zap.Bool("duplicate", r.Duplicate), zap.Bool("failed", r.Failure != nil))
	}
	a.flushEvents()
	if c.Sender() != nil {
		c.Respond(r)
	}
}

// receiveCommand handles every other command (see receiveInbound).
//
//go:noinline
func (a *Actor) receiveCommand(c actor.Context, msg any) {
	var r Result
	switch m := msg.(type) {
	case Hydrate:
		a.hydrate(m.Conversation)
		return
	case StatusChanged:
		r = a.status(m.Update)
	case StatusesChanged:
		r = a.statuses(m.Updates)
	case Tick:
		r = a.tick()
	case Close:
		r = a.close(m)
	case Assign:
		r = a.assign(m)
	case MarkRead:
		r = a.markRead(m)
	case Send:
		r = a.send(m)
	case SendOutcome:
		r = a.sendOutcome(m)
	default:
		return
	}
	a.flushEvents()
	respond(c, &r)
}

// respond answers r to the sender, if any. r is passed by pointer so the
// big Result is copied once, into the answer.
func respond(c actor.Context, r *Result) {
	if c.Sender() != nil {
		c.Respond(*r)
	}
}

func (a *Actor) start(c actor.Context) {
	_, ok := KeyOf(c.Self(), c.Parent())
	if !ok {
		// A bug in the parent: it did not spawn this actor by its key's name.
		a.env.Log.Error("conversation actor not named by its key; stopping it", zap.String("actor", c.Self().GetId()))
		c.Stop(c.Self())
		return
	}
	a.self = c.Self()
	a.nameAt = int16(len(c.Parent().Id) + 1)
	a.loaded, a.conv = false, nil
	if a.awaitHydrate {
		a.armTimer()
		return
	}
	ctx := a.io()
	defer ctx.finish()
	if err := a.activate(ctx); err != nil {
		a.armTimer()
		a.log().Warn("load conversation; will retry on the next message", zap.Error(err))
		return
	}
	a.armTimer()
}

// hydrate takes the conversation its parent read for it. An actor that has
// loaded already (a restarted one) keeps what it read; a conversation of
// another key or a closed one is ignored, and the next message reads the
// store.
func (a *Actor) hydrate(c actors.Conversation) {
	key := a.key()
	if a.env.Epochs != nil {
		// Fenced: what the parent read may predate the epoch; read after
		// acquiring it, on the first message.
		return
	}
	if a.loaded || c.PhoneNumberID != key.PhoneNumberID || c.WaID != key.WaID || !c.Open() {
		return
	}
	a.hold(&c)
	a.loaded = true
	a.armTimer()
}

func (a *Actor) stop() {
	if a.self != nil {
		a.env.alarms.cancel(a)
	}
	a.armed = false
}

// key is the actor's conversation key, read back from its name (start has
// checked that the name is one).
func (a *Actor) key() Key {
	k, _ := KeyFromName(a.self.Id[a.nameAt:])
	return k
}

// log returns the logger with this actor's name. It is built when needed
// (logging is rare) rather than kept per actor: an idle conversation should
// cost as little memory as possible.
func (a *Actor) log() *zap.Logger { return a.env.Log.With(zap.String("actor", a.key().Name())) }

// now is the time stored and published: the clock's, in UTC, to the
// millisecond.
func (a *Actor) now() time.Time { return a.env.clock.Now().UTC().Truncate(time.Millisecond) }

// io returns the I/O context of one message: every store call the message
// makes shares its timeout. The caller finishes it when the message is
// done (defer ctx.finish()).
func (a *Actor) io() *ioContext {
	d := a.env.Config.IOTimeout
	if d <= 0 {
		d = 5 * time.Second
	}
	// Store calls run inside Receive, so stopping the actor never needs to
	// interrupt one: a per-message timeout is all they need.
	return newIOContext(d)
}

// hold makes c the actor's open conversation (nil: none), in the storage
// the actor holds already (see held); the messages it holds go with a
// conversation it no longer holds.
func (a *Actor) hold(c *actors.Conversation) {
	if c == nil {
		a.conv = nil
		return
	}
	if a.conv == nil {
		a.conv = new(held)
	} else if a.conv.ID != c.ID {
		a.conv.recent = nil
	}
	a.conv.set(c, a.key())
}

// load reads the open conversation of the key.
func (a *Actor) load(ctx context.Context) error {
	key := a.key()
	c, err := a.env.Store.OpenConversation(ctx, key.PhoneNumberID, key.WaID)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		a.conv = nil
	case err != nil:
		return fmt.Errorf("load conversation %s: %w", key.Name(), err)
	default:
		a.hold(&c)
	}
	a.loaded = true
	return nil
}

func (a *Actor) ensureLoaded(ctx context.Context) error {
	if a.loaded {
		return nil
	}
	if err := a.activate(ctx); err != nil {
		return err
	}
	a.armTimer()
	return nil
}

// loadIfNeeded is ensureLoaded for a message that makes no other I/O when
// the actor is loaded: its context is made only when needed.
func (a *Actor) loadIfNeeded() error {
	if a.loaded {
		return nil
	}
	ctx := a.io()
	defer ctx.finish()
	return a.ensureLoaded(ctx)
}

// current is the open conversation, whole (zero when there is none).
func (a *Actor) current() actors.Conversation {
	if a.conv == nil {
		return actors.Conversation{}
	}
	return a.conv.conversation(a.key())
}

// save persists next conditionally on the loaded version. On a conflict the
// activation is stale: it forgets its state and answers ErrStale.
func (a *Actor) save(ctx context.Context, next *actors.Conversation) error {
	return a.saveWith(ctx, next, nil)
}

// saveWith is save that also inserts msg, when not nil, in the same write
// (see actors.MessageStore.AppendMessageAndSave); a duplicate msg is
// actors.ErrDuplicate and changes nothing. It increments next.Version; on
// success the actor holds next (or none, when next is closed).
func (a *Actor) saveWith(ctx context.Context, next *actors.Conversation, msg *actors.Message) error {
	next.Version++
	next.Epoch = a.epoch
	var err error
	if msg != nil {
		err = a.env.Store.AppendMessageAndSave(ctx, *msg, *next)
	} else {
		err = a.env.Store.SaveConversation(ctx, *next)
	}
	if err != nil {
		return a.saveFailed(next, msg, err)
	}
	if next.State == actors.StateClosed {
		a.conv = nil
	} else {
		a.hold(next)
	}
	return nil
}

// saveFailed is what saveWith answers when the write failed (out of line:
// see receiveInbound).
//
//go:noinline
func (a *Actor) saveFailed(next *actors.Conversation, msg *actors.Message, err error) error {
	if errors.Is(err, actors.ErrDuplicate) && msg != nil {
		return fmt.Errorf("store message %s: %w", msg.ID, err)
	}
	if a.fenced(err) {
		return fmt.Errorf("save conversation %s: %w", next.ID, err)
	}
	if errors.Is(err, actors.ErrConflict) || errors.Is(err, actors.ErrNotFound) {
		a.log().Warn("conversation changed by another activation; stopping", zap.String("conversation_id", next.ID), zap.Int64("version", next.Version-1))
		a.loaded, a.conv, a.retire = false, nil, true
		return fmt.Errorf("save conversation %s: %w", next.ID, ErrStale)
	}
	return fmt.Errorf("save conversation %s: %w", next.ID, err)
}
