package density

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/persistence/sqlitestore"
	"github.com/wacc/engine/supervisors"
)

const (
	// businessNumber is the phone_number_id every scenario's customers
	// write to.
	businessNumber = "106540352242922"
	// fleetShards is the number of host shards, as configured in production.
	fleetShards = 16
	// requestTimeout bounds one request to a conversation; the SQLite
	// writer queue under 256 concurrent requests stays far below it.
	requestTimeout = 30 * time.Second
	// activationWorkers is how many activations are in flight at once.
	activationWorkers = 64
)

// fleetConfig are the conversation timings of every scenario: a 24h window
// with a warning an hour before it ends, so each active conversation has an
// armed timer, and an idle timeout longer than any benchmark.
var fleetConfig = conversation.Config{Window: 24 * time.Hour, Warning: time.Hour, IdleTimeout: time.Hour, IOTimeout: 5 * time.Second}

// idleAfter is how long the memory benchmark leaves conversations alone
// before reading the heap: past every I/O deadline of their last message.
var idleAfter = fleetConfig.IOTimeout + time.Second

// Payload of every inbound message: a text as the webhook parser renders it.
var (
	inboundText    = "Hello, I would like to know where my order is. Thanks!"
	inboundContent = json.RawMessage(`{"body":"Hello, I would like to know where my order is. Thanks!"}`)
	inboundRaw     = json.RawMessage(`{"from":"4915112345678","id":"wamid.HBgLNDkxNTExMjM0NTY3OBUCABIYFjNFQjBDMEE2","timestamp":"1735689600","type":"text","text":{"body":"Hello, I would like to know where my order is. Thanks!"}}`)
)

// customerWaID is the WhatsApp id of the i-th customer.
func customerWaID(i int) string { return fmt.Sprintf("4915%09d", i) }

// customerKey names the i-th customer's conversation.
func customerKey(i int) conversation.Key {
	return conversation.Key{PhoneNumberID: businessNumber, WaID: customerWaID(i)}
}

// inbound is the round-th text message of customer key, stamped now.
func inbound(key conversation.Key, round int) conversation.Inbound {
	return conversation.Inbound{Msg: actors.InboundMessage{
		PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, ProfileName: "Bench Customer",
		WaMessageID: "wamid.bench." + key.WaID + "." + strconv.Itoa(round),
		Type:        "text", Timestamp: time.Now(), Text: inboundText, Content: inboundContent, Raw: inboundRaw,
	}}
}

// fleetStore is what a fleet keeps its conversations in: the SQLite store,
// or memStore to measure the actors without I/O.
type fleetStore interface {
	conversation.Store
	Close() error
}

// fleet is the conversation engine without its HTTP edge: a store, an actor
// system and the supervisors.Host that spawns conversation actors.
type fleet struct {
	store  fleetStore
	system *actor.ActorSystem
	host   *supervisors.Host
}

// openFleet opens a store in dir and starts a host over it.
func openFleet(ctx context.Context, dir string, log *zap.Logger) (*fleet, error) {
	return openFleetWith(ctx, dir, log, fleetConfig)
}

// openFleetWith is openFleet with other conversation timings.
func openFleetWith(ctx context.Context, dir string, log *zap.Logger, cfg conversation.Config) (*fleet, error) {
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "engine.db"), log)
	if err != nil {
		return nil, fmt.Errorf("open fleet: %w", err)
	}
	return startFleet(store, log, cfg), nil
}

// openMemFleet starts a host over an empty in-memory store: the same
// actors and host, without I/O.
func openMemFleet(log *zap.Logger) *fleet {
	return startFleet(newMemStore(), log, fleetConfig)
}

// startFleet starts an actor system and a host over store.
func startFleet(store fleetStore, log *zap.Logger, cfg conversation.Config) *fleet {
	system := newSystem()
	deps := &conversation.Deps{Store: store, Config: cfg, Log: log}
	return &fleet{store: store, system: system, host: supervisors.NewHost(system, deps, fleetShards, log)}
}

// Close stops the conversations, the actor system and the store.
func (f *fleet) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f.host.Stop(ctx)
	f.system.Shutdown()
	if err := f.store.Close(); err != nil {
		return fmt.Errorf("close fleet: %w", err)
	}
	return nil
}

// deliver sends msg to the conversation of key and waits for its answer;
// an error answer, a timeout and a duplicate are all errors, since every
// scenario sends each wamid once.
func (f *fleet) deliver(key conversation.Key, msg conversation.Inbound) error {
	res, err := f.request(key, msg)
	if err != nil {
		return fmt.Errorf("deliver %s: %w", msg.Msg.WaMessageID, err)
	}
	if res.Duplicate {
		return fmt.Errorf("deliver %s to %s: %w", msg.Msg.WaMessageID, key.Name(), errDuplicate)
	}
	return nil
}

// request sends cmd to the conversation of key and waits for its answer;
// a timeout and an error answer are errors.
func (f *fleet) request(key conversation.Key, cmd conversation.Command) (conversation.Result, error) {
	res, err := conversation.Ask(f.host, key, cmd, requestTimeout)
	if err != nil {
		return conversation.Result{}, fmt.Errorf("request %s: %w", key.Name(), err)
	}
	return res, nil
}

// errDuplicate: the actor took a fresh wamid for one already applied.
var errDuplicate = errors.New("fresh message applied as a duplicate")

// activate opens the conversations of customers [from, from+n) with one
// inbound message each, activationWorkers at a time, and returns once all
// are applied. Keys are built on the fly so only the actors keep them.
func (f *fleet) activate(ctx context.Context, from, n int) error {
	return drive(ctx, n, activationWorkers, nil, func(i int) error {
		key := customerKey(from + i)
		if err := f.deliver(key, inbound(key, 0)); err != nil {
			return fmt.Errorf("activate conversation %d: %w", from+i, err)
		}
		return nil
	})
}

// Activation is how a footprint brings its seeded conversations into
// memory.
type Activation int

const (
	// ByInbound seeds each conversation as new and applies one inbound text
	// message to it: the real path of a message (wamid insert, conditional
	// save), two writes per conversation.
	ByInbound Activation = iota
	// ByLoad seeds each conversation with the state one inbound message
	// leaves (one message applied and unread, window open, warning timer
	// set) and activates it with a Tick, which the actor answers from what
	// it loaded on Started: one read, no write. Each actor then holds the
	// same as with ByInbound (its loaded conversation, its armed timer);
	// only the way there is cheaper, which is
	// what makes a population of a million practical.
	ByLoad
)

func (a Activation) String() string {
	if a == ByLoad {
		return "load"
	}
	return "inbound"
}

// seed creates, through the store, the open conversations of customers
// [from, from+n), activationWorkers at a time (the store batches concurrent
// writes into shared transactions). For ByInbound they are as the actor
// would create them on a first message (state new, no messages yet): an
// actor activated for a seeded key loads its conversation instead of
// creating it and its customer, which saves two of the four writes of a
// first message; what the actor then holds is the same. For ByLoad they are
// as one inbound message leaves them (see ByLoad).
func (f *fleet) seed(ctx context.Context, from, n int, how Activation) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return drive(ctx, n, activationWorkers, nil, func(i int) error {
		c := actors.Conversation{
			ID: actors.NewID(), CustomerID: actors.NewID(), PhoneNumberID: businessNumber, WaID: customerWaID(from + i),
			State: actors.StateNew, Version: 1, CreatedAt: now, UpdatedAt: now,
		}
		if how == ByLoad {
			c.Seq, c.Unread, c.LastInboundAt = 1, 1, now
			c.ExpiresAt = now.Add(fleetConfig.Window)
			c.NextTimerAt = c.ExpiresAt.Add(-fleetConfig.Warning)
		}
		if err := f.store.CreateConversation(ctx, c); err != nil {
			return fmt.Errorf("seed conversation %d: %w", from+i, err)
		}
		return nil
	})
}

// activateLoaded activates the conversations of customers [from, from+n),
// seeded for ByLoad, with a Tick each, activationWorkers at a time, and
// checks that each loaded its conversation with a pending timer.
func (f *fleet) activateLoaded(ctx context.Context, from, n int) error {
	return drive(ctx, n, activationWorkers, nil, func(i int) error {
		key := customerKey(from + i)
		res, err := f.request(key, conversation.Tick{})
		switch {
		case err != nil:
			return fmt.Errorf("activate conversation %d: %w", from+i, err)
		case res.Conversation.ID == "" || res.Conversation.NextTimerAt.IsZero():
			return fmt.Errorf("activate conversation %d: the actor holds no open conversation with a timer", from+i)
		}
		return nil
	})
}

// warmConversations are activated before a footprint's baseline is read
// (at most as many as the population), so the baseline holds a running
// engine (store connections open, shard mailboxes grown to their working
// size) and not a cold one.
const warmConversations = 512

// conversationFootprint opens a fleet in dir and warms it up, seeds the
// rows of n conversations, activates each (how: with one inbound message,
// or by loading the state one leaves) and measures the live heap they hold once idle for settle. Each request
// leaves garbage that stays reachable until its I/O deadline
// (Config.IOTimeout) has passed, through the runtime's stopped timers, so
// settle should exceed that to measure an idle actor. It checks that every
// activated actor is in memory afterwards, so the figure is per live actor.
// With watch > 0 the idle, resident population is then watched for that
// long (footprint.Idle) before the fleet is closed.
func conversationFootprint(ctx context.Context, dir string, n int, how Activation, settle, watch time.Duration, log *zap.Logger) (fp footprint, err error) {
	f, err := openFleet(ctx, dir, log)
	if err != nil {
		return footprint{}, fmt.Errorf("conversation footprint: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("conversation footprint: %w", cerr)
		}
	}()
	warmRegistry(f.system)
	warm := min(warmConversations, n)
	if err := f.activate(ctx, 0, warm); err != nil {
		return footprint{}, fmt.Errorf("conversation footprint: warm up: %w", err)
	}
	start := time.Now()
	if err := f.seed(ctx, warm, n, how); err != nil {
		return footprint{}, fmt.Errorf("conversation footprint: %w", err)
	}
	seeded := time.Since(start)
	activate := func() error { return f.activate(ctx, warm, n) }
	if how == ByLoad {
		activate = func() error { return f.activateLoaded(ctx, warm, n) }
	}
	fp, err = measure(ctx, "conversation-"+how.String()+"-"+strconv.Itoa(n), n, settle, watch, activate)
	if err != nil {
		return footprint{}, fmt.Errorf("conversation footprint: %w", err)
	}
	fp.Prepare = seeded
	if live, want := f.host.Live(), warm+n; live != want {
		return footprint{}, fmt.Errorf("conversation footprint: %d conversation actors in memory, want %d", live, want)
	}
	return fp, nil
}
