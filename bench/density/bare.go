package density

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// newSystem starts an actor system whose own logs are dropped, so a
// benchmark's output holds only its figures.
func newSystem() *actor.ActorSystem {
	discard := slog.New(slog.DiscardHandler)
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discard }))
}

// registryWarmups is how many ids warmRegistry registers and removes: enough
// that all but about a dozen of the 32768 maps behind protoactor's process
// registry have held an entry (32768·e^-8), a few KB left over.
const registryWarmups = 1 << 18

// warmRegistry registers and removes many process ids, as the futures of a
// long-running process do. The registry spreads ids over 1024 buckets of 32
// Go maps each, and a map allocates its first group (about 300 bytes) on its
// first insert and keeps it: about 9.5 MB per actor system that a cold
// measurement would charge to the first actors spawned.
func warmRegistry(system *actor.ActorSystem) {
	reg := system.ProcessRegistry
	for range registryWarmups {
		pid, _ := reg.Add(system.DeadLetter, reg.NextId())
		reg.Remove(pid)
	}
}

// bareKind is a kind of bare protoactor actor to compare a conversation
// actor with.
type bareKind string

const (
	// barePlain is an unnamed actor that does nothing: the floor protoactor
	// itself sets.
	barePlain bareKind = "plain"
	// bareTimer is a named actor holding a small struct and an armed
	// time.AfterFunc timer, spawned with its own Props as the conversation
	// host spawns conversations: the least a conversation actor must hold.
	bareTimer bareKind = "timer"
)

// bareKinds lists the kinds in report order.
var bareKinds = []bareKind{barePlain, bareTimer}

// tick is what a timerActor's timer sends it.
type tick struct{}

// ping is what a bare actor is asked; it answers pong.
type ping struct{}

// pong answers ping.
type pong struct{}

// timerActor holds a little state and an expiry timer, as a conversation
// actor does, and nothing else.
type timerActor struct {
	phoneNumberID string
	waID          string
	seq           int64
	expiresAt     time.Time
	timer         *time.Timer
	started       *sync.WaitGroup
}

// Receive handles one message.
func (a *timerActor) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		a.expiresAt = time.Now().Add(24 * time.Hour)
		a.arm(c.ActorSystem(), c.Self())
		a.started.Done()
	case *actor.Stopping:
		a.timer.Stop()
	case tick:
		a.seq++
		a.arm(c.ActorSystem(), c.Self())
	case ping:
		c.Respond(pong{})
	}
}

func (a *timerActor) arm(system *actor.ActorSystem, self *actor.PID) {
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timer = time.AfterFunc(time.Until(a.expiresAt.Add(-time.Hour)), func() { system.Root.Send(self, tick{}) })
}

// spawnBare spawns len(pids) actors of kind under system, fills pids and
// returns once every one has processed Started. pids is allocated by the
// caller so that measuring the population does not count the slice.
func spawnBare(system *actor.ActorSystem, kind bareKind, pids []*actor.PID) error {
	var started sync.WaitGroup
	started.Add(len(pids))
	switch kind {
	case barePlain:
		props := actor.PropsFromFunc(func(c actor.Context) {
			switch c.Message().(type) {
			case *actor.Started:
				started.Done()
			case ping:
				c.Respond(pong{})
			}
		})
		for i := range pids {
			pids[i] = system.Root.Spawn(props)
		}
	case bareTimer:
		for i := range pids {
			waID := customerWaID(i)
			props := actor.PropsFromProducer(func() actor.Actor {
				return &timerActor{phoneNumberID: businessNumber, waID: waID, started: &started}
			})
			pid, err := system.Root.SpawnNamed(props, "bare/"+businessNumber+"/"+waID)
			if err != nil {
				return fmt.Errorf("spawn timer actor %d: %w", i, err)
			}
			pids[i] = pid
		}
	default:
		return fmt.Errorf("spawn bare actors: unknown kind %q", kind)
	}
	started.Wait()
	return nil
}

// stopAll stops the actors and waits until they have stopped.
func stopAll(system *actor.ActorSystem, pids []*actor.PID) error {
	const batch = 1024
	var errs []error
	for from := 0; from < len(pids); from += batch {
		to := min(from+batch, len(pids))
		futures := make([]*actor.Future, 0, to-from)
		for _, pid := range pids[from:to] {
			if pid != nil {
				futures = append(futures, system.Root.StopFuture(pid))
			}
		}
		for _, f := range futures {
			if err := f.Wait(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stop %d actors: %d did not confirm, the first: %w", len(pids), len(errs), errs[0])
	}
	return nil
}

// bareFootprint spawns n bare actors of kind in a fresh actor system and
// measures the live heap they hold while idle. A first population of n is
// spawned and stopped before the baseline, so what the runtime keeps after
// a burst of spawns (goroutine descriptors, timer heap capacity) is not
// charged to the measured one. With watch > 0 the idle population is then
// watched for that long (footprint.Idle).
func bareFootprint(n int, kind bareKind, watch time.Duration) (footprint, error) {
	system := newSystem()
	defer system.Shutdown()
	warmRegistry(system)
	pids := make([]*actor.PID, n)
	if err := spawnBare(system, kind, pids); err != nil {
		return footprint{}, fmt.Errorf("bare %s footprint: warm up: %w", kind, err)
	}
	if err := stopAll(system, pids); err != nil {
		return footprint{}, fmt.Errorf("bare %s footprint: warm up: %w", kind, err)
	}
	clear(pids)
	fp, err := measure(context.Background(), "bare-"+string(kind)+"-"+strconv.Itoa(n), n, 0, watch, func() error { return spawnBare(system, kind, pids) })
	if serr := stopAll(system, pids); err == nil && serr != nil {
		err = fmt.Errorf("bare %s footprint: %w", kind, serr)
	}
	return fp, err
}
