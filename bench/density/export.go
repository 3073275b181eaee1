package density

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/supervisors"
)

// Footprint is the live heap a population of actors holds, as the bench
// CLI's density scenario reports it.
type Footprint = footprint

// IdleAfter is how long a conversation population is left alone before
// its heap is read: past every I/O deadline of its last message.
var IdleAfter = idleAfter

// BareFootprint measures n idle bare protoactor actors that do nothing
// (timer false) or named ones holding a little state and an armed timer
// (timer true), in a fresh actor system. With watch > 0 the idle
// population is then watched for that long (Footprint.Idle).
func BareFootprint(n int, timer bool, watch time.Duration) (Footprint, error) {
	if timer {
		return bareFootprint(n, bareTimer, watch)
	}
	return bareFootprint(n, barePlain, watch)
}

// ConversationFootprint measures n idle, active conversation actors over a
// fresh SQLite store in dir, each activated as how says and then left idle
// for settle. With watch > 0 the idle, resident population is then watched
// for that long (Footprint.Idle).
func ConversationFootprint(ctx context.Context, dir string, n int, how Activation, settle, watch time.Duration, log *zap.Logger) (Footprint, error) {
	return conversationFootprint(ctx, dir, n, how, settle, watch, log)
}

// Fleet is the conversation engine without its HTTP edge (store, actor
// system, supervisors.Host), for in-process scenarios.
type Fleet struct {
	f      *fleet
	closed sync.Once
	err    error
}

// OpenFleet opens a fleet over a fresh SQLite store in dir.
func OpenFleet(ctx context.Context, dir string, log *zap.Logger) (*Fleet, error) {
	f, err := openFleet(ctx, dir, log)
	if err != nil {
		return nil, err
	}
	return &Fleet{f: f}, nil
}

// OpenMemoryFleet opens a fleet over an empty in-memory store: the real
// conversation actors and supervisors.Host, without I/O.
func OpenMemoryFleet(log *zap.Logger) *Fleet {
	return &Fleet{f: openMemFleet(log)}
}

// OpenFleetIdle is OpenFleet whose conversations leave memory after being
// idle for idle, for cold-activation scenarios.
func OpenFleetIdle(ctx context.Context, dir string, log *zap.Logger, idle time.Duration) (*Fleet, error) {
	cfg := fleetConfig
	cfg.IdleTimeout = idle
	f, err := openFleetWith(ctx, dir, log, cfg)
	if err != nil {
		return nil, err
	}
	return &Fleet{f: f}, nil
}

// Close stops the fleet; it is safe to call twice.
func (f *Fleet) Close() error {
	f.closed.Do(func() { f.err = f.f.Close() })
	return f.err
}

// Activate opens the conversations of customers [from, from+n) with one
// inbound message each.
func (f *Fleet) Activate(ctx context.Context, from, n int) error { return f.f.activate(ctx, from, n) }

// Deliver applies the round-th inbound text message of customer i to its
// conversation and waits for the answer. Each (i, round) must be sent once.
func (f *Fleet) Deliver(i, round int) error {
	key := customerKey(i)
	return f.f.deliver(key, inbound(key, round))
}

// Live is how many conversation actors are in memory.
func (f *Fleet) Live() int { return f.f.host.Live() }

// Host is the fleet's supervisors.Host, for scenarios that put it behind
// something else (a cluster node's conversation host).
func (f *Fleet) Host() *supervisors.Host { return f.f.host }

// CustomerKey is the conversation key of the i-th customer, the one
// Deliver(i, ...) writes to.
func CustomerKey(i int) conversation.Key { return customerKey(i) }

// Inbound is the round-th inbound text message of key, as Deliver sends
// it (wamid "wamid.bench.<wa_id>.<round>": each (key, round) once).
func Inbound(key conversation.Key, round int) conversation.Inbound { return inbound(key, round) }

// Bare is a population of bare protoactor actors that answer a ping.
type Bare struct {
	system *actor.ActorSystem
	pids   []*actor.PID
	closed sync.Once
	err    error
}

// SpawnBare starts n bare actors that answer a ping, in a fresh system.
func SpawnBare(n int) (*Bare, error) {
	b := &Bare{system: newSystem(), pids: make([]*actor.PID, n)}
	if err := spawnBare(b.system, barePlain, b.pids); err != nil {
		b.system.Shutdown()
		return nil, err
	}
	return b, nil
}

// Ping asks the i-th (modulo n) bare actor and waits for its answer.
func (b *Bare) Ping(i int) error {
	pid := b.pids[i%len(b.pids)]
	r, err := b.system.Root.RequestFuture(pid, ping{}, requestTimeout).Result()
	if err != nil {
		return fmt.Errorf("request bare actor %s: %w", pid.Id, err)
	}
	if _, ok := r.(pong); !ok {
		return fmt.Errorf("request bare actor %s: answer is %T, want pong", pid.Id, r)
	}
	return nil
}

// Close stops the actors and the system; it is safe to call twice.
func (b *Bare) Close() error {
	b.closed.Do(func() {
		b.err = stopAll(b.system, b.pids)
		b.system.Shutdown()
	})
	return b.err
}

// SpawnStop spawns one bare actor, waits for it to start, and stops it:
// one round of spawn/stop churn.
func (b *Bare) SpawnStop() error {
	pids := make([]*actor.PID, 1)
	if err := spawnBare(b.system, barePlain, pids); err != nil {
		return err
	}
	return b.system.Root.StopFuture(pids[0]).Wait()
}
