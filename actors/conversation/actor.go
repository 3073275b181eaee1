package conversation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Store is what a conversation actor reads and writes.
type Store interface {
	actors.ConversationStore
	actors.MessageStore
	actors.NotificationStore
	Message(ctx context.Context, id string) (actors.Message, error)
	CustomerByPhone(ctx context.Context, phone string) (actors.Customer, error)
	CreateCustomer(ctx context.Context, c actors.Customer) error
}

// Assigner finds an agent for an unassigned conversation; it answers later
// by sending Assign{Auto: true} through the Directory.
type Assigner interface {
	RequestAgent(key Key, conversationID string)
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

// Deps are shared by every conversation actor of a process.
type Deps struct {
	Store     Store
	Publisher actors.Publisher
	// Outbox takes queued sends; nil refuses sends.
	Outbox   actors.OutboundPublisher
	Assigner Assigner
	Config   Config
	Log      *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Props returns the props of conversation actors, one for every actor of a
// parent: the parent spawns each with SpawnNamed(props, key.Name()) and the
// actor reads its key back from its name when it starts. protoactor produces
// a restarted actor anew from the same props, and its name (its PID) stays,
// so a restarted actor keeps its key. A per-key Props would cost every idle
// conversation its own Props and producer closure.
func Props(d *Deps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{deps: d} })
}

// HydratedProps returns the props of conversation actors whose state is
// handed to them instead of read: the parent spawns each with
// SpawnNamed(props, key.Name()) and sends it Hydrate before anything else.
// Such an actor does not read the store when it starts; if it is restarted
// (a panic), it reads its conversation on its next message, and until then
// the Sweeper fires its timers from the store as for a passivated one.
func HydratedProps(d *Deps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{deps: d, awaitHydrate: true} })
}

// Hydrate hands an actor spawned from HydratedProps the open conversation of
// its key, as read from the store by its parent's caller (rehydration after
// a restart). It must be the actor's first message and is not answered. The
// actor holds it and arms its timers as if it had read it itself; should it
// be stale, the first write conflicts and the actor retires, as any stale
// activation does.
type Hydrate struct {
	Conversation actors.Conversation
}

// ErrInvalidKey: a key whose PhoneNumberID contains '/' cannot name an
// actor (see Key.Valid); messages for it are refused.
var ErrInvalidKey = errors.New("conversation key cannot name an actor")

// Valid reports whether k names an actor that can read k back from its
// name: its PhoneNumberID must not contain '/' (WhatsApp's ids are digits).
func (k Key) Valid() bool { return !strings.Contains(k.PhoneNumberID, "/") }

// namePrefix starts every conversation actor's name (see Key.Name).
const namePrefix = "conversation/"

// KeyFromName is the key whose Name is name; ok is false when name is not
// a conversation actor's name.
func KeyFromName(name string) (k Key, ok bool) {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return Key{}, false
	}
	pn, wa, ok := strings.Cut(rest, "/")
	if !ok {
		return Key{}, false
	}
	return Key{PhoneNumberID: pn, WaID: wa}, true
}

// KeyOf is the key of the conversation actor pid spawned by parent with
// SpawnNamed(props, key.Name()); protoactor names a child
// "<parent id>/<name>". ok is false for any other actor.
func KeyOf(pid, parent *actor.PID) (Key, bool) {
	if pid == nil || parent == nil {
		return Key{}, false
	}
	name, ok := strings.CutPrefix(pid.Id, parent.Id+"/")
	if !ok {
		return Key{}, false
	}
	return KeyFromName(name)
}

// Actor is one conversation's actor. Its fields are touched only from
// Receive, one message at a time (fire, run by the timer, reads only system
// and self, set before the timer exists). The flags sit together at the end
// so the struct fits the 64-byte size class: every idle conversation holds
// one.
type Actor struct {
	deps   *Deps
	system *actor.ActorSystem
	self   *actor.PID
	// conv is the open conversation, nil when there is none. It is updated
	// in place and never handed out: answers and events carry copies.
	conv *actors.Conversation
	// timer is the actor's one timer: it wakes the actor for the
	// conversation's NextTimerAt and for the idle timeout (see armTimer).
	timer *time.Timer
	// timerAt is when timer fires (monotonic, see mono), 0 when not armed.
	timerAt int64
	// activeAt is when the actor last received a message (see mono); the
	// idle timeout counts from it.
	activeAt int64
	// nameAt is where the actor's name (Key.Name) starts in self.Id; the
	// key is read back from it (see key) rather than kept.
	nameAt int32
	// loaded is false until the open conversation (if any) was read.
	loaded bool
	// retire is set when a write was rejected (another activation changed
	// the conversation): the actor answers the message in hand, then stops.
	retire bool
	// awaitHydrate is set for actors of HydratedProps: they do not read the
	// store when they start, Hydrate brings their state.
	awaitHydrate bool
}

// Receive handles one message.
func (a *Actor) Receive(c actor.Context) {
	msg := c.Message()
	if _, ok := msg.(wake); !ok {
		// Any message but the actor's own timer keeps it in memory, as
		// protoactor's receive timeout would.
		a.activeAt = mono()
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
		// message re-activate from the store.
		a.retire = false
		c.Stop(c.Self())
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
	var r Result
	a.inbound(&r, &m.Msg)
	respond(c, &r)
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
		a.deps.Log.Error("conversation actor not named by its key; stopping it", zap.String("actor", c.Self().GetId()))
		c.Stop(c.Self())
		return
	}
	a.system, a.self = c.ActorSystem(), c.Self()
	a.nameAt = int32(len(c.Parent().Id) + 1)
	a.loaded, a.conv = false, nil
	if a.awaitHydrate {
		a.armTimer()
		return
	}
	ctx, cancel := a.io()
	defer cancel()
	if err := a.load(ctx); err != nil {
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
	if a.loaded || c.PhoneNumberID != key.PhoneNumberID || c.WaID != key.WaID || !c.Open() {
		return
	}
	a.hold(&c)
	a.loaded = true
	a.armTimer()
}

func (a *Actor) stop() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	a.timerAt = 0
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
func (a *Actor) log() *zap.Logger { return a.deps.Log.With(zap.String("actor", a.key().Name())) }

func (a *Actor) now() time.Time {
	if a.deps.Now != nil {
		return a.deps.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

// io returns the I/O context of one message: every store call the message
// makes shares its timeout.
func (a *Actor) io() (context.Context, context.CancelFunc) {
	d := a.deps.Config.IOTimeout
	if d <= 0 {
		d = 5 * time.Second
	}
	// Store calls run inside Receive, so stopping the actor never needs to
	// interrupt one: a per-message timeout is all they need.
	return context.WithTimeout(context.Background(), d)
}

// hold makes c the actor's open conversation (nil: none), copying it into
// the storage the actor holds already. The key's strings and the state's
// constant stand in for the equal strings c carries, so an idle actor keeps
// only the conversation's own ids.
func (a *Actor) hold(c *actors.Conversation) {
	if c == nil {
		a.conv = nil
		return
	}
	if a.conv == nil {
		a.conv = new(actors.Conversation)
	}
	*a.conv = *c
	key := a.key()
	if a.conv.PhoneNumberID == key.PhoneNumberID {
		a.conv.PhoneNumberID = key.PhoneNumberID
	}
	if a.conv.WaID == key.WaID {
		a.conv.WaID = key.WaID
	}
	switch a.conv.State {
	case actors.StateNew:
		a.conv.State = actors.StateNew
	case actors.StateActive:
		a.conv.State = actors.StateActive
	case actors.StateExpired:
		a.conv.State = actors.StateExpired
	}
}

// load reads the open conversation of the key.
func (a *Actor) load(ctx context.Context) error {
	key := a.key()
	c, err := a.deps.Store.OpenConversation(ctx, key.PhoneNumberID, key.WaID)
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
	if err := a.load(ctx); err != nil {
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
	ctx, cancel := a.io()
	defer cancel()
	return a.ensureLoaded(ctx)
}

func (a *Actor) current() actors.Conversation {
	if a.conv == nil {
		return actors.Conversation{}
	}
	return *a.conv
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
	var err error
	if msg != nil {
		err = a.deps.Store.AppendMessageAndSave(ctx, *msg, *next)
	} else {
		err = a.deps.Store.SaveConversation(ctx, *next)
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
	if errors.Is(err, actors.ErrConflict) || errors.Is(err, actors.ErrNotFound) {
		a.log().Warn("conversation changed by another activation; stopping", zap.String("conversation_id", next.ID), zap.Int64("version", next.Version-1))
		a.loaded, a.conv, a.retire = false, nil, true
		return fmt.Errorf("save conversation %s: %w", next.ID, ErrStale)
	}
	return fmt.Errorf("save conversation %s: %w", next.ID, err)
}

// inbound applies a customer message and answers in r.
func (a *Actor) inbound(r *Result, in *actors.InboundMessage) {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.ensureLoaded(ctx); err != nil {
		r.Err = err
		return
	}
	now := a.now()
	at := in.Timestamp.UTC().Truncate(time.Millisecond)
	if at.IsZero() || at.After(now) {
		at = now
	}
	if a.conv == nil && in.WaMessageID != "" {
		// Before opening a conversation, make sure this is not a redelivery
		// of a message of a conversation since closed.
		if _, err := a.deps.Store.MessageByWaID(ctx, in.WaMessageID); err == nil {
			r.Conversation, r.Duplicate = a.current(), true
			return
		} else if !errors.Is(err, actors.ErrNotFound) {
			r.Err = fmt.Errorf("look up wamid %s: %w", in.WaMessageID, err)
			return
		}
	}
	if a.conv == nil {
		if err := a.open(ctx, in, now); err != nil {
			r.Err = err
			return
		}
	}
	msg := actors.Message{
		ID: actors.NewID(), ConversationID: a.conv.ID, Direction: actors.DirectionInbound, Type: in.Type,
		Text: in.Text, Content: in.Content, Status: "received", WaMessageID: in.WaMessageID, Seq: a.conv.Seq + 1,
		Raw: in.Raw, CreatedAt: at, UpdatedAt: now,
	}
	if len(in.Errors) > 0 {
		// Message-level errors (131051 on unsupported types) are kept with
		// the message; the whole list stays in Raw.
		e := in.Errors[0]
		msg.Error = &e
	}
	// One write stores the message and the conversation's next state; the
	// unique wamid is the dedupe, so the common case costs that one write
	// and no read.
	a.applyInbound(ctx, r, &msg, in, at, now, true)
	if errors.Is(r.Err, actors.ErrDuplicate) && in.WaMessageID != "" && a.conv != nil {
		*r = Result{}
		a.inboundStored(ctx, r, in, at, now)
	}
}

// inboundStored finishes an inbound message whose wamid is stored already
// (out of line: see receiveInbound).
//
//go:noinline
func (a *Actor) inboundStored(ctx context.Context, r *Result, in *actors.InboundMessage, at, now time.Time) {
	{
		existing, lerr := a.deps.Store.MessageByWaID(ctx, in.WaMessageID)
		if lerr != nil {
			r.Err = fmt.Errorf("look up wamid %s: %w", in.WaMessageID, lerr)
			return
		}
		if existing.ConversationID == a.conv.ID && existing.Seq > a.conv.Seq {
			// Stored by an earlier attempt that did not get to update the
			// conversation (a store without transactions, or an older
			// version): finish applying it.
			a.applyInbound(ctx, r, &existing, in, at, now, false)
			return
		}
		r.Conversation, r.Duplicate = a.current(), true
	}
}

// open creates the conversation (and the customer when unknown) for the
// first inbound message of the key.
func (a *Actor) open(ctx context.Context, in *actors.InboundMessage, now time.Time) error {
	cust, err := a.customerFor(ctx, in, now)
	if err != nil {
		return err
	}
	key := a.key()
	c := actors.Conversation{
		ID: actors.NewID(), CustomerID: cust.ID, PhoneNumberID: key.PhoneNumberID, WaID: key.WaID,
		State: actors.StateNew, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := a.deps.Store.CreateConversation(ctx, c); err != nil {
		if errors.Is(err, actors.ErrDuplicate) {
			// Another activation opened it first.
			if lerr := a.load(ctx); lerr != nil {
				return lerr
			}
			if a.conv != nil {
				return nil
			}
		}
		return fmt.Errorf("create conversation for %s: %w", key.Name(), err)
	}
	a.hold(&c)
	a.log().Info("conversation opened", zap.String("conversation_id", c.ID))
	return nil
}

func (a *Actor) customerFor(ctx context.Context, in *actors.InboundMessage, now time.Time) (actors.Customer, error) {
	waID := a.key().WaID
	phone := "+" + waID
	c, err := a.deps.Store.CustomerByPhone(ctx, phone)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, actors.ErrNotFound) {
		return actors.Customer{}, fmt.Errorf("find customer: %w", err)
	}
	name := in.ProfileName
	if name == "" {
		name = phone
	}
	if len(name) > 200 {
		name = name[:200]
	}
	c = actors.Customer{ID: actors.NewID(), Name: name, Phone: phone, WaID: waID, Tags: []string{}, Attributes: map[string]string{},
		Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := a.deps.Store.CreateCustomer(ctx, c); err != nil {
		if errors.Is(err, actors.ErrDuplicate) {
			return a.deps.Store.CustomerByPhone(ctx, phone)
		}
		return actors.Customer{}, fmt.Errorf("create customer: %w", err)
	}
	return c, nil
}

// applyInbound applies msg to the conversation, inserting it in the same
// write when insert is set (else it is stored already), and answers in r.
func (a *Actor) applyInbound(ctx context.Context, r *Result, msg *actors.Message, in *actors.InboundMessage, at, now time.Time, insert bool) {
	a.applyInboundOnce(ctx, r, msg, in, at, now, insert)
	if !errors.Is(r.Err, ErrStale) {
		return
	}
	// The write was rejected: another activation moved the conversation
	// on. Apply the message once on top of the newer state, so nothing is
	// lost and nothing newer is overwritten, then retire.
	*r = Result{}
	a.retire = true
	if err := a.load(ctx); err != nil {
		r.Err = err
		return
	}
	if a.conv == nil || a.conv.ID != msg.ConversationID {
		if insert {
			// Closed (and maybe reopened) meanwhile, and the message not
			// stored: fail, so that it is delivered again, to whatever
			// conversation is open then.
			r.Err = fmt.Errorf("apply message %s: conversation %s changed meanwhile: %w", in.WaMessageID, msg.ConversationID, ErrStale)
			return
		}
		r.Conversation, r.Duplicate = a.current(), true
		return
	}
	msg.Seq = a.conv.Seq + 1
	a.applyInboundOnce(ctx, r, msg, in, at, now, insert)
	if insert && errors.Is(r.Err, actors.ErrDuplicate) {
		// A store without transactions kept the message of the rejected
		// write.
		*r = Result{}
		a.applyInboundOnce(ctx, r, msg, in, at, now, false)
	}
}

func (a *Actor) applyInboundOnce(ctx context.Context, r *Result, msg *actors.Message, in *actors.InboundMessage, at, now time.Time, insert bool) {
	next := *a.conv
	next.Seq = msg.Seq
	if at.After(next.LastInboundAt) {
		next.LastInboundAt = at
		next.ExpiresAt = at.Add(a.deps.Config.Window)
		next.WarnedAt = time.Time{}
	}
	open := now.Before(next.ExpiresAt)
	switch {
	case !open:
		if next.State == actors.StateNew || next.State == actors.StateActive {
			next.State = actors.StateExpired
		}
	case next.State == actors.StateExpired:
		next.State = actors.StateActive
	case next.State == actors.StateNew && !next.LastOutboundAt.IsZero():
		next.State = actors.StateActive
	}
	next.Unread++
	next.UpdatedAt = now
	next.NextTimerAt = a.nextTimer(&next)
	var stored *actors.Message
	if insert {
		stored = msg
	}
	if err := a.saveWith(ctx, &next, stored); err != nil {
		r.Err = err
		return
	}
	if a.deps.Publisher != nil || a.conv.AssigneeID != "" {
		a.announceInbound(ctx, msg, in)
	} else {
		// Open and unassigned: ask again (the assigner keeps one place in
		// its queue per conversation).
		a.requestAgent(a.conv)
	}
	a.armTimer()
	r.Conversation = *a.conv
}

// announceInbound publishes an applied inbound message and notifies the
// assignee, or asks for one (out of line: see receiveInbound).
//
//go:noinline
func (a *Actor) announceInbound(ctx context.Context, msg *actors.Message, in *actors.InboundMessage) {
	c := a.conv
	if a.deps.Publisher != nil {
		a.publish(actors.EventMessageCreated, c, "", msg.View())
		a.publish(actors.EventConversationUpdated, c, "", c.View())
	}
	if c.AssigneeID != "" {
		a.notify(ctx, c.AssigneeID, actors.NotifyCustomerReplied, "Customer replied", truncate(in.Text, 140), c)
	} else {
		// Open and unassigned: ask again (the assigner keeps one place in
		// its queue per conversation).
		a.requestAgent(c)
	}
}

func (a *Actor) requestAgent(c *actors.Conversation) {
	if a.deps.Assigner != nil && c.AssigneeID == "" && (c.State == actors.StateNew || c.State == actors.StateActive) {
		a.deps.Assigner.RequestAgent(a.key(), c.ID)
	}
}

// nextTimer is the earliest timer still to fire for c: the window warning
// (once per window) or the expiry; zero when c has none.
func (a *Actor) nextTimer(c *actors.Conversation) time.Time {
	if (c.State != actors.StateNew && c.State != actors.StateActive) || c.ExpiresAt.IsZero() {
		return time.Time{}
	}
	if w := a.deps.Config.Warning; w > 0 && c.WarnedAt.IsZero() && w < a.deps.Config.Window {
		return c.ExpiresAt.Add(-w)
	}
	return c.ExpiresAt
}

// tick fires whatever timers are due.
func (a *Actor) tick() Result {
	if err := a.loadIfNeeded(); err != nil {
		return Result{Err: err}
	}
	if a.conv == nil {
		return Result{}
	}
	now := a.now()
	next := *a.conv
	var warned, expired bool
	if (next.State == actors.StateNew || next.State == actors.StateActive) && !next.ExpiresAt.IsZero() {
		if !now.Before(next.ExpiresAt) {
			next.State = actors.StateExpired
			expired = true
		} else if w := a.deps.Config.Warning; w > 0 && next.WarnedAt.IsZero() && !now.Before(next.ExpiresAt.Add(-w)) {
			next.WarnedAt = now
			warned = true
		}
	}
	next.NextTimerAt = a.nextTimer(&next)
	if !expired && !warned && next.NextTimerAt.Equal(a.conv.NextTimerAt) {
		a.armTimer()
		return Result{Conversation: next}
	}
	next.UpdatedAt = now
	ctx, cancel := a.io()
	defer cancel()
	if err := a.save(ctx, &next); err != nil {
		return Result{Err: err}
	}
	c := a.conv
	if expired {
		a.log().Info("conversation expired", zap.String("conversation_id", c.ID))
		if a.deps.Publisher != nil {
			a.publish(actors.EventConversationUpdated, c, "", c.View())
		}
	}
	if warned && c.AssigneeID != "" {
		a.notify(ctx, c.AssigneeID, actors.NotifyWindowExpiring, "Service window ends soon",
			fmt.Sprintf("The 24-hour window ends at %s; after that only templates can be sent.", c.ExpiresAt.Format(time.RFC3339)), c)
	}
	a.armTimer()
	return Result{Conversation: *c}
}

// commandOn readies a command on conversation id: the actor is loaded, and
// id is its open conversation (ErrClosed otherwise: closed since, or
// another one).
func (a *Actor) commandOn(ctx context.Context, id string) error {
	if err := a.ensureLoaded(ctx); err != nil {
		return err
	}
	if a.conv == nil || a.conv.ID != id {
		return ErrClosed
	}
	return nil
}

func (a *Actor) close(m Close) Result {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.commandOn(ctx, m.ConversationID); err != nil {
		return Result{Err: err}
	}
	now := a.now()
	next := *a.conv
	next.State, next.ClosedAt, next.UpdatedAt, next.NextTimerAt = actors.StateClosed, now, now, time.Time{}
	if err := a.save(ctx, &next); err != nil {
		return Result{Err: err}
	}
	if a.deps.Publisher != nil {
		a.publish(actors.EventConversationUpdated, &next, "", next.View())
	}
	a.armTimer()
	a.log().Info("conversation closed", zap.String("conversation_id", next.ID), zap.String("agent_id", m.ByUserID))
	return Result{Conversation: next}
}

func (a *Actor) assign(m Assign) Result {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.commandOn(ctx, m.ConversationID); err != nil {
		return Result{Err: err}
	}
	if m.Auto && (a.conv.AssigneeID != "" || (a.conv.State != actors.StateNew && a.conv.State != actors.StateActive)) {
		return Result{Conversation: *a.conv, Duplicate: true}
	}
	if a.conv.AssigneeID == m.AgentID {
		return Result{Conversation: *a.conv, Duplicate: true}
	}
	prevAssignee := a.conv.AssigneeID
	next := *a.conv
	next.AssigneeID, next.UpdatedAt = m.AgentID, a.now()
	if err := a.save(ctx, &next); err != nil {
		return Result{Err: err}
	}
	c := a.conv
	if a.deps.Publisher != nil {
		a.publish(actors.EventConversationAssigned, c, prevAssignee, c.View())
	}
	if c.AssigneeID != "" {
		a.notify(ctx, c.AssigneeID, actors.NotifyAssigned, "Conversation assigned", "A conversation with +"+c.WaID+" was assigned to you.", c)
	}
	return Result{Conversation: *c}
}

func (a *Actor) markRead(m MarkRead) Result {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.commandOn(ctx, m.ConversationID); err != nil {
		return Result{Err: err}
	}
	if a.conv.Unread == 0 {
		return Result{Conversation: *a.conv, Duplicate: true}
	}
	next := *a.conv
	next.Unread, next.UpdatedAt = 0, a.now()
	if err := a.save(ctx, &next); err != nil {
		return Result{Err: err}
	}
	c := a.conv
	if a.deps.Publisher != nil {
		a.publish(actors.EventConversationUpdated, c, "", c.View())
	}
	return Result{Conversation: *c}
}

// statusView is the data of a message.status event.
type statusView struct {
	MessageID      string                `json:"messageId"`
	ConversationID string                `json:"conversationId"`
	WaMessageID    string                `json:"waMessageId"`
	Status         string                `json:"status"`
	Error          *actors.WhatsAppError `json:"error,omitempty"`
	At             time.Time             `json:"at"`
}

// status applies a delivery status, forward only; a status for an unknown
// wamid is kept until the message appears.
func (a *Actor) status(u actors.StatusUpdate) Result {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.ensureLoaded(ctx); err != nil {
		return Result{Err: err}
	}
	m, err := a.deps.Store.MessageByWaID(ctx, u.WaMessageID)
	if errors.Is(err, actors.ErrNotFound) {
		if err := a.deps.Store.AddPendingStatus(ctx, u); err != nil {
			return Result{Err: fmt.Errorf("keep pending status %s/%s: %w", u.WaMessageID, u.Status, err)}
		}
		return Result{Conversation: a.current()}
	}
	if err != nil {
		return Result{Err: fmt.Errorf("look up wamid %s: %w", u.WaMessageID, err)}
	}
	return a.applyStatus(ctx, m, u)
}

func (a *Actor) applyStatus(ctx context.Context, m actors.Message, u actors.StatusUpdate) Result {
	var werr *actors.WhatsAppError
	if len(u.Errors) > 0 {
		e := u.Errors[0]
		werr = &e
	}
	at := u.Timestamp
	if at.IsZero() {
		at = a.now()
	}
	changed, err := a.deps.Store.UpdateMessageStatus(ctx, m.ID, u.Status, "", werr, at)
	if err != nil {
		return Result{Err: fmt.Errorf("update status of message %s: %w", m.ID, err)}
	}
	if !changed {
		return Result{Conversation: a.current(), Duplicate: true}
	}
	c := a.current()
	if c.ID != m.ConversationID {
		c = actors.Conversation{ID: m.ConversationID}
	}
	if a.deps.Publisher != nil {
		a.publish(actors.EventMessageStatus, &c, "", statusView{MessageID: m.ID, ConversationID: m.ConversationID, WaMessageID: u.WaMessageID,
			Status: u.Status, Error: werr, At: at.UTC()})
	}
	if u.Status == actors.StatusFailed && c.AssigneeID != "" {
		body := "A message could not be delivered."
		if werr != nil {
			body = fmt.Sprintf("A message could not be delivered: %s (%d).", werr.Title, werr.Code)
		}
		a.notify(ctx, c.AssigneeID, actors.NotifyMessageFailed, "Message failed", body, &c)
	}
	return Result{Conversation: a.current()}
}

// publish publishes an event about c. Callers check that there is a
// Publisher before they build data.
func (a *Actor) publish(typ string, c *actors.Conversation, prevAssignee string, data any) {
	if a.deps.Publisher == nil {
		return
	}
	a.deps.Publisher.Publish(actors.Event{Type: typ, ConversationID: c.ID, State: c.State, AssigneeID: c.AssigneeID,
		PreviousAssigneeID: prevAssignee, Data: data, At: a.now()})
}

// notify stores a notification for a user and pushes it. A failure to
// store is logged: the change it reports is already persisted.
func (a *Actor) notify(ctx context.Context, userID, kind, title, body string, c *actors.Conversation) {
	n := actors.Notification{ID: actors.NewID(), UserID: userID, Kind: kind, Title: title, Body: body, ConversationID: c.ID, CreatedAt: a.now()}
	if err := a.deps.Store.AddNotifications(ctx, []actors.Notification{n}); err != nil {
		a.log().Error("store notification", zap.String("agent_id", userID), zap.String("kind", kind), zap.Error(err))
	}
	if a.deps.Publisher != nil {
		a.deps.Publisher.Publish(actors.Event{Type: actors.EventNotification, ConversationID: c.ID, State: c.State, AssigneeID: c.AssigneeID,
			UserID: userID, Data: n.View(), At: n.CreatedAt})
	}
}

// wake is what an actor's timer sends it: a timer of its conversation may
// be due, or the actor may have been idle for the idle timeout. It does not
// count as activity.
type wake struct{}

// monoBase is the origin of mono.
var monoBase = time.Now()

// mono is the monotonic clock in nanoseconds since monoBase: what the idle
// timeout and the armed timer are measured on (8 bytes where a time.Time
// takes 24).
func mono() int64 { return int64(time.Since(monoBase)) }

// timerRetry is how long a wake whose timer write failed (the store is
// down, say) waits before trying again. The conversation's timer stays due
// meanwhile, so retrying at once would spin; the sweeper also retries due
// conversations.
const timerRetry = 5 * time.Second

// wake fires the conversation's timers if they are due (as a Tick would),
// tells the parent the actor is idle once it has had no message for the idle
// timeout (the parent stops it), and re-arms the timer.
func (a *Actor) wake(c actor.Context) {
	a.timerAt = 0
	failed := false
	if a.conv != nil && !a.conv.NextTimerAt.IsZero() && !a.clock().Before(a.conv.NextTimerAt) {
		// The window timer's Tick counted as activity, and still does.
		a.activeAt = mono()
		if r := a.tick(); r.Err != nil {
			failed = true
			a.log().Warn("conversation timer not applied; will retry", zap.Duration("retry_in", timerRetry), zap.Error(r.Err))
		}
	}
	if idle := a.deps.Config.IdleTimeout; idle > 0 && mono()-a.activeAt >= int64(idle) {
		c.Send(c.Parent(), Idle{Key: a.key(), ID: a.self.Id})
		// Should the parent keep the actor (it never does), ask again
		// after another idle timeout, as protoactor's receive timeout did.
		a.activeAt = mono()
	}
	if failed {
		a.armIn(timerRetry)
		return
	}
	a.armTimer()
}

// armIn arms the actor's timer for d from now, whatever it was armed for.
func (a *Actor) armIn(d time.Duration) {
	if a.system == nil {
		return
	}
	if a.timer == nil {
		a.timer = time.AfterFunc(d, a.fire)
	} else {
		a.timer.Reset(d)
	}
	a.timerAt = mono() + int64(d)
}

// clock is the time timers are due by: Deps.Now, else time.Now.
func (a *Actor) clock() time.Time {
	if a.deps.Now != nil {
		return a.deps.Now()
	}
	return time.Now()
}

// armTimer makes the actor's timer wake it no later than the conversation's
// NextTimerAt and the end of the idle timeout. A timer that fires earlier
// than needed is kept: its wake re-arms it. So the common message, which
// moves both deadlines later, does not touch the timer at all.
func (a *Actor) armTimer() {
	if a.system == nil {
		return
	}
	now := mono()
	var at int64
	if a.conv != nil && !a.conv.NextTimerAt.IsZero() {
		d := max(a.conv.NextTimerAt.Sub(a.clock()), 0)
		at = now + int64(d+time.Millisecond)
	}
	if idle := a.deps.Config.IdleTimeout; idle > 0 {
		if end := a.activeAt + int64(idle); at == 0 || end < at {
			at = end
		}
	}
	switch {
	case at == 0:
		if a.timer != nil {
			a.timer.Stop()
		}
		a.timerAt = 0
		return
	case a.timerAt != 0 && a.timerAt <= at:
		return
	}
	d := time.Duration(max(at-now, 0))
	if a.timer == nil {
		a.timer = time.AfterFunc(d, a.fire)
	} else {
		a.timer.Reset(d)
	}
	a.timerAt = at
}

// fire runs on the timer's goroutine: it only sends the actor a wake.
func (a *Actor) fire() { a.system.Root.Send(a.self, wake{}) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// send persists an outbound message as queued and puts it on the outbound
// queue; free-form messages only inside the service window.
func (a *Actor) send(m Send) Result {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.ensureLoaded(ctx); err != nil {
		return Result{Err: err}
	}
	now := a.now()
	if existing, err := a.deps.Store.Message(ctx, m.MessageID); err == nil {
		return Result{Conversation: a.current(), Message: existing, Duplicate: true}
	}
	if a.conv == nil {
		if !m.Template {
			return Result{Err: ErrOutsideWindow}
		}
		key := a.key()
		c := actors.Conversation{ID: actors.NewID(), CustomerID: m.CustomerID, PhoneNumberID: key.PhoneNumberID, WaID: key.WaID,
			State: actors.StateNew, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := a.deps.Store.CreateConversation(ctx, c); err != nil {
			return Result{Err: fmt.Errorf("create conversation for %s: %w", key.Name(), err)}
		}
		a.hold(&c)
		a.requestAgent(a.conv)
	}
	if !m.Template && !a.windowOpen(now) {
		return Result{Conversation: *a.conv, Err: ErrOutsideWindow}
	}
	msg := actors.Message{ID: m.MessageID, ConversationID: a.conv.ID, Direction: actors.DirectionOutbound, Type: m.Type, Text: m.Text,
		Content: m.Content, Status: actors.StatusQueued, Seq: a.conv.Seq, Raw: m.Body, CreatedAt: now, UpdatedAt: now}
	next := *a.conv
	next.LastOutboundAt, next.UpdatedAt = now, now
	if err := a.saveWith(ctx, &next, &msg); err != nil {
		return Result{Err: err}
	}
	c := *a.conv
	if a.deps.Outbox == nil {
		return a.failQueued(ctx, msg, c, errors.New("no outbound queue"))
	}
	job := actors.OutboundJob{MessageID: msg.ID, ConversationID: c.ID, PhoneNumberID: c.PhoneNumberID, To: c.WaID, Priority: m.Priority,
		Body: m.Body, Attempt: 1, EnqueuedAt: now}
	if err := a.deps.Outbox.Publish(ctx, job); err != nil {
		return a.failQueued(ctx, msg, c, err)
	}
	if a.deps.Publisher != nil {
		a.publish(actors.EventMessageCreated, &c, "", msg.View())
	}
	return Result{Conversation: c, Message: msg}
}

// failQueued records a message the queue did not take as failed, so it is
// never sent behind the caller's back, and answers ErrQueueUnavailable.
func (a *Actor) failQueued(ctx context.Context, msg actors.Message, c actors.Conversation, cause error) Result {
	werr := &actors.WhatsAppError{Code: 0, Title: "queue unavailable", Message: "the message was not queued; send it again"}
	if _, err := a.deps.Store.UpdateMessageStatus(ctx, msg.ID, actors.StatusFailed, "", werr, a.now()); err != nil {
		a.log().Error("record unqueued message as failed", zap.String("conversation_id", c.ID), zap.Error(err))
	}
	a.log().Warn("outbound queue refused a message", zap.String("conversation_id", c.ID), zap.Error(cause))
	return Result{Conversation: c, Err: fmt.Errorf("publish message %s: %w", msg.ID, errors.Join(ErrQueueUnavailable, cause))}
}

// windowOpen reports whether a free-form message may be sent now.
func (a *Actor) windowOpen(now time.Time) bool {
	c := a.conv
	if c == nil || c.LastInboundAt.IsZero() || c.State == actors.StateExpired || c.State == actors.StateClosed {
		return false
	}
	return now.Before(c.LastInboundAt.Add(a.deps.Config.Window))
}

// sendOutcome publishes a send's outcome and applies what follows from it.
func (a *Actor) sendOutcome(o SendOutcome) Result {
	ctx, cancel := a.io()
	defer cancel()
	if err := a.ensureLoaded(ctx); err != nil {
		return Result{Err: err}
	}
	m, err := a.deps.Store.Message(ctx, o.MessageID)
	if err != nil {
		return Result{Err: fmt.Errorf("load sent message %s: %w", o.MessageID, err)}
	}
	c := a.current()
	if c.ID != m.ConversationID {
		c = actors.Conversation{ID: m.ConversationID}
	}
	if a.deps.Publisher != nil {
		a.publish(actors.EventMessageStatus, &c, "", statusView{MessageID: m.ID, ConversationID: m.ConversationID, WaMessageID: m.WaMessageID,
			Status: m.Status, Error: m.Error, At: m.UpdatedAt})
	}
	if o.WaMessageID != "" {
		pending, err := a.deps.Store.TakePendingStatuses(ctx, o.WaMessageID)
		if err != nil {
			a.log().Warn("take pending statuses", zap.String("wa_message_id", o.WaMessageID), zap.Error(err))
		}
		for _, u := range pending {
			m.WaMessageID = o.WaMessageID
			a.applyStatus(ctx, m, u)
		}
	}
	if o.Status == actors.StatusFailed && c.AssigneeID != "" {
		body := "A message could not be delivered."
		if o.Error != nil {
			body = fmt.Sprintf("A message could not be delivered: %s (%d).", o.Error.Title, o.Error.Code)
		}
		a.notify(ctx, c.AssigneeID, actors.NotifyMessageFailed, "Message failed", body, &c)
	}
	if o.WindowClosed && a.conv != nil && a.conv.ID == m.ConversationID && (a.conv.State == actors.StateNew || a.conv.State == actors.StateActive) {
		next := *a.conv
		next.State, next.NextTimerAt, next.UpdatedAt = actors.StateExpired, time.Time{}, a.now()
		if err := a.save(ctx, &next); err != nil {
			return Result{Err: err}
		}
		if a.deps.Publisher != nil {
			a.publish(actors.EventConversationUpdated, a.conv, "", a.conv.View())
		}
		a.armTimer()
	}
	return Result{Conversation: a.current(), Message: m}
}
