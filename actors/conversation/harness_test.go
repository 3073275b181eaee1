package conversation_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/actors/conversation/conversationtest"
)

// start is where every test's clock starts.
var start = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

// testConfig are the timings of the tests: a 24h window warned an hour
// before its end, actors idle after 10 minutes (so an idle actor's timer
// is gone long before the window's: tests of the window's timers turn the
// idle timeout off).
var testConfig = conversation.Config{Window: 24 * time.Hour, Warning: time.Hour, IdleTimeout: 10 * time.Minute, IOTimeout: 5 * time.Second}

// key is the conversation most tests talk to.
var key = conversation.Key{PhoneNumberID: "106540352242922", WaID: "4915112345678"}

// eventLog is a Publisher that records every event.
type eventLog struct {
	mu  sync.Mutex
	evs []actors.Event
}

func (l *eventLog) Publish(ev actors.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

// ofType returns the events of typ, in order.
func (l *eventLog) ofType(typ string) []actors.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []actors.Event
	for _, ev := range l.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// outbox is an OutboundPublisher that records jobs, or refuses them while
// err is set.
type outbox struct {
	mu   sync.Mutex
	jobs []actors.OutboundJob
	err  error
}

func (o *outbox) Publish(_ context.Context, job actors.OutboundJob) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.jobs = append(o.jobs, job)
	return nil
}

// refuse makes Publish fail with err (nil: accept again).
func (o *outbox) refuse(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.err = err
}

func (o *outbox) published() []actors.OutboundJob {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]actors.OutboundJob(nil), o.jobs...)
}

// envelope carries a command for a key to the parent.
type envelope struct {
	key conversation.Key
	cmd conversation.Command
}

// spawnHydrated asks the parent to spawn the actor of key from
// HydratedProps and hand it conversation.
type spawnHydrated struct {
	key          conversation.Key
	conversation actors.Conversation
}

// parent is the conversation actors' parent in a test, as a shard of
// supervisors.Host is in the engine: it spawns each key's actor by the
// key's name on its first command, forwards commands with their sender,
// passivates an actor that says it is idle, and records what its children
// tell it (Idle) and which of them stopped.
type parent struct {
	props, hydrated *actor.Props
	children        map[conversation.Key]*actor.PID
	// stopping holds the commands of a key whose actor was told to stop
	// (Idle) until it ended, as the shard does.
	stopping map[conversation.Key][]heldCommand
	probe    *probe
}

type heldCommand struct {
	cmd    conversation.Command
	sender *actor.PID
}

// probe is what the parent saw, for the test to read.
type probe struct {
	mu         sync.Mutex
	idle       []conversation.Idle
	terminated []string
}

func (p *probe) idles() []conversation.Idle {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]conversation.Idle(nil), p.idle...)
}

func (p *probe) stopped() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.terminated...)
}

func (p *parent) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case envelope:
		p.deliver(c, m.key, m.cmd, c.Sender())
	case conversation.Redirect:
		p.deliver(c, m.Key, m.Cmd, nil)
	case spawnHydrated:
		pid, err := c.SpawnNamed(p.hydrated, m.key.Name())
		if err != nil {
			panic(err)
		}
		c.Send(pid, conversation.Hydrate{Conversation: m.conversation})
		p.children[m.key] = pid
		c.Respond(pid)
	case conversation.Idle:
		p.probe.mu.Lock()
		p.probe.idle = append(p.probe.idle, m)
		p.probe.mu.Unlock()
		if pid, ok := p.children[m.Key]; ok && pid.Id == m.ID {
			delete(p.children, m.Key)
			if p.stopping == nil {
				p.stopping = map[conversation.Key][]heldCommand{}
			}
			p.stopping[m.Key] = nil
			c.Poison(pid)
		}
	case *actor.Terminated:
		p.probe.mu.Lock()
		p.probe.terminated = append(p.probe.terminated, m.Who.Id)
		p.probe.mu.Unlock()
		k, ok := conversation.KeyOf(m.Who, c.Self())
		if !ok {
			return
		}
		if p.children[k] != nil && p.children[k].Id == m.Who.Id {
			delete(p.children, k)
		}
		if held, ok := p.stopping[k]; ok {
			delete(p.stopping, k)
			for _, h := range held {
				c.RequestWithCustomSender(p.child(c, k), h.cmd, h.sender)
			}
		}
	}
}

// deliver hands cmd to k's actor, or holds it while that actor stops.
func (p *parent) deliver(c actor.Context, k conversation.Key, cmd conversation.Command, sender *actor.PID) {
	if held, ok := p.stopping[k]; ok {
		p.stopping[k] = append(held, heldCommand{cmd: cmd, sender: sender})
		return
	}
	c.RequestWithCustomSender(p.child(c, k), cmd, sender)
}

func (p *parent) child(c actor.Context, k conversation.Key) *actor.PID {
	if pid, ok := p.children[k]; ok {
		return pid
	}
	pid, err := c.SpawnNamed(p.props, k.Name())
	if err != nil {
		panic(err)
	}
	p.children[k] = pid
	return pid
}

// directory is the test's Directory: every command goes through the
// parent.
type directory struct {
	system *actor.ActorSystem
	parent *actor.PID
}

func (d directory) Send(k conversation.Key, cmd conversation.Command) {
	d.system.Root.Send(d.parent, envelope{key: k, cmd: cmd})
}

func (d directory) Request(k conversation.Key, cmd conversation.Command, timeout time.Duration) conversation.Reply {
	return d.system.Root.RequestFuture(d.parent, envelope{key: k, cmd: cmd}, timeout)
}

// harness is one test's world: a fresh actor system, a memStore, a fake
// clock, an event log, an outbox and a parent to reach conversations by.
type harness struct {
	t      *testing.T
	system *actor.ActorSystem
	store  *memStore
	clock  *conversationtest.Clock
	events *eventLog
	outbox *outbox
	probe  *probe
	dir    directory
}

// newHarness starts a world with cfg; change applies to the Deps before
// anything is spawned.
func newHarness(t *testing.T, cfg conversation.Config, change ...func(*conversation.Deps)) *harness {
	t.Helper()
	return newHarnessOn(t, cfg, newMemStore(), change...)
}

// newHarnessOn is newHarness over store: a second harness on the store of
// a first is the engine restarted (nothing in memory survives).
func newHarnessOn(t *testing.T, cfg conversation.Config, store *memStore, change ...func(*conversation.Deps)) *harness {
	t.Helper()
	h := &harness{t: t, system: quietSystem(), store: store, clock: conversationtest.NewClock(start),
		events: &eventLog{}, outbox: &outbox{}, probe: &probe{}}
	t.Cleanup(h.system.Shutdown)
	deps := &conversation.Deps{Store: h.store, Publisher: h.events, Outbox: h.outbox, Config: cfg, Clock: h.clock,
		Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))}
	for _, f := range change {
		f(deps)
	}
	props := actor.PropsFromProducer(func() actor.Actor {
		return &parent{props: conversation.Props(h.system, deps), hydrated: conversation.HydratedProps(h.system, deps), children: map[conversation.Key]*actor.PID{}, probe: h.probe}
	})
	h.dir = directory{system: h.system, parent: h.system.Root.Spawn(props)}
	return h
}

// quietSystem is a fresh actor system that does not log.
func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
}

// ask sends cmd to the conversation of key and returns its answer and
// error (as Ask does).
func (h *harness) ask(cmd conversation.Command) (conversation.Result, error) {
	h.t.Helper()
	return conversation.Ask(h.dir, key, cmd, 5*time.Second)
}

// askOnce delivers cmd once (Ask delivers a command refused as stale again,
// to the key's next activation): the answer of the activation it reaches.
func (h *harness) askOnce(cmd conversation.Command) (conversation.Result, error) {
	h.t.Helper()
	return conversation.Await(key, h.dir.Request(key, cmd, 5*time.Second))
}

// must sends cmd and requires it to succeed.
func (h *harness) must(cmd conversation.Command) conversation.Result {
	h.t.Helper()
	res, err := h.ask(cmd)
	require.NoError(h.t, err)
	return res
}

// inbound is a customer's text message, written now by the test's clock.
func (h *harness) inbound(wamid, text string) conversation.Inbound {
	return conversation.Inbound{Msg: actors.InboundMessage{PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, WaMessageID: wamid, Type: "text",
		Text: text, Content: []byte(`{"body":"` + text + `"}`), Timestamp: h.clock.Now(), ProfileName: "Asha"}}
}

// text is a free-form text send.
func text(id, body string) conversation.Send {
	return conversation.Send{MessageID: id, Type: "text", Text: body, Content: []byte(`{"body":"` + body + `"}`),
		Body:     []byte(`{"messaging_product":"whatsapp","to":"` + key.WaID + `","type":"text","text":{"body":"` + body + `"}}`),
		Priority: actors.PriorityReply}
}

// template is a template send.
func template(id, customerID, agentID string) conversation.Send {
	return conversation.Send{MessageID: id, Type: "template", Text: "[template welcome]", Content: []byte(`{"name":"welcome"}`),
		Body:     []byte(`{"messaging_product":"whatsapp","to":"` + key.WaID + `","type":"template","template":{"name":"welcome"}}`),
		Template: true, CustomerID: customerID, AgentID: agentID, ByUserID: "u-sender", Priority: actors.PriorityBulk}
}

// eventually waits for cond, failing with msg.
func (h *harness) eventually(cond func() bool, msg string, args ...any) {
	h.t.Helper()
	require.Eventually(h.t, cond, 5*time.Second, 2*time.Millisecond, append([]any{msg}, args...)...)
}

// armed waits until the conversation's actor has armed its timer (after a
// message it answered, it has; after a timer it fired, it re-arms it
// asynchronously).
func (h *harness) armed() time.Time {
	h.t.Helper()
	h.eventually(func() bool { return h.clock.Armed() > 0 }, "a timer is armed")
	at, _ := h.clock.Next()
	return at
}
