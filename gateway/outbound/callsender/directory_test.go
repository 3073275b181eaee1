package callsender_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
)

// testDir is a call.Directory without actors: it applies the connect
// commands as actors/call documents them, to calls kept in memory, one at
// a time. It can lose answers (before or after applying a command) and
// keeps, with the deliveries' settlements, one ordered log of what
// happened.
type testDir struct {
	t              *testing.T
	journal        *journal
	connectTimeout time.Duration

	mu     sync.Mutex
	calls  map[string]actors.Call
	faults map[string][]bool // by command name: lose the next answers (true: after applying)
}

func newTestDir(t *testing.T, j *journal, connectTimeout time.Duration) *testDir {
	return &testDir{t: t, journal: j, connectTimeout: connectTimeout, calls: map[string]actors.Call{}, faults: map[string][]bool{}}
}

// add stores a new call (the Start command's effect).
func (d *testDir) add(c actors.Call) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c.State, c.Status, c.Version, c.CreatedAt = actors.StateNew, actors.CallQueued, 1, time.Now()
	d.calls[c.ID] = c
}

func (d *testDir) call(id string) actors.Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[id]
}

// loseAnswer makes the next ask of cmd (e.g. "Connected") fail; applied
// says whether the command takes effect first.
func (d *testDir) loseAnswer(cmd string, applied bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults[cmd] = append(d.faults[cmd], applied)
}

type reply struct {
	v   any
	err error
}

func (r reply) Result() (any, error) { return r.v, r.err }

func (d *testDir) Send(callID string, cmd call.Command) { d.Request(callID, cmd, time.Second) }

func (d *testDir) Request(callID string, cmd call.Command, _ time.Duration) call.Reply {
	d.mu.Lock()
	defer d.mu.Unlock()
	name := fmt.Sprintf("%T", cmd)[len("call."):]
	lose, applied := false, false
	if f := d.faults[name]; len(f) > 0 {
		lose, applied, d.faults[name] = true, f[0], f[1:]
	}
	if lose && !applied {
		d.journal.add(callID, "lost "+name)
		return reply{err: errors.New("no answer in time")}
	}
	res := d.apply(callID, cmd)
	if lose {
		d.journal.add(callID, "lost answer of "+name)
		return reply{err: errors.New("no answer in time")}
	}
	return reply{v: res}
}

func (d *testDir) apply(id string, cmd call.Command) call.Result {
	c, ok := d.calls[id]
	if !ok {
		return call.Result{Err: fmt.Errorf("call %s: %w", id, actors.ErrNotFound)}
	}
	now := time.Now()
	var res call.Result
	switch cmd := cmd.(type) {
	case call.BeginConnect:
		switch {
		case !c.Live() || c.ExotelSid != "":
			res.Connect = call.ConnectSkip
		case !c.ConnectStartedAt.IsZero() && now.Sub(c.ConnectStartedAt) < d.connectTimeout:
			res.Connect = call.ConnectWait
		case !c.ConnectStartedAt.IsZero():
			res.Connect = call.ConnectResolve
		default:
			c.ConnectStartedAt = now
			res.Connect = call.ConnectGo
		}
		d.journal.add(id, fmt.Sprintf("begin %d", res.Connect))
	case call.Connected:
		if !c.Live() {
			return call.Result{Call: c, Err: call.ErrClosed}
		}
		c.ExotelSid, c.Status, c.State, c.ConnectStartedAt = cmd.Sid, cmd.Status, actors.StateActive, time.Time{}
		d.journal.add(id, "connected "+cmd.Sid)
	case call.ConnectFailed:
		if !c.Live() {
			return call.Result{Call: c, Err: call.ErrClosed}
		}
		c.ConnectStartedAt = time.Time{}
		if cmd.Final {
			c.State, c.Status, c.Reason = actors.StateClosed, actors.CallFailed, cmd.Reason
		}
		d.journal.add(id, fmt.Sprintf("connect failed final=%v", cmd.Final))
	default:
		d.t.Errorf("the sender sent %T", cmd)
	}
	c.Version++
	d.calls[id] = c
	res.Call = c
	return res
}

var _ call.Directory = (*testDir)(nil)

// journal is one ordered log of the call actors' changes and the
// deliveries' settlements, by call id.
type journal struct {
	mu      sync.Mutex
	entries map[string][]string
}

func newJournal() *journal { return &journal{entries: map[string][]string{}} }

func (j *journal) add(id, what string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries[id] = append(j.entries[id], what)
}

func (j *journal) of(id string) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.entries[id]...)
}

// has reports whether the call's log holds an entry starting with prefix.
func (j *journal) has(id, prefix string) bool {
	for _, e := range j.of(id) {
		if len(e) >= len(prefix) && e[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// settled reports whether the call's job was acknowledged or dead-lettered.
func (j *journal) settled(id string) bool { return j.has(id, "ack") || j.has(id, "dead") }

// observed wraps a queue's consumer to put each settlement in the journal.
type observed struct {
	actors.OutboundConsumer
	j *journal
}

func (o observed) Consume(ctx context.Context, handle func(actors.Delivery)) error {
	return o.OutboundConsumer.Consume(ctx, func(d actors.Delivery) { handle(&observedDelivery{Delivery: d, j: o.j}) })
}

type observedDelivery struct {
	actors.Delivery
	j *journal
}

func (d *observedDelivery) id() string { return d.Job().CallID }

func (d *observedDelivery) Ack() error {
	err := d.Delivery.Ack()
	if err == nil {
		d.j.add(d.id(), "ack")
	}
	return err
}

func (d *observedDelivery) Retry(delay time.Duration, reason string) (bool, error) {
	dead, err := d.Delivery.Retry(delay, reason)
	switch {
	case err != nil:
	case dead:
		d.j.add(d.id(), "dead "+reason)
	default:
		d.j.add(d.id(), "retry "+reason)
	}
	return dead, err
}

func (d *observedDelivery) Hold(delay time.Duration, reason string) error {
	err := d.Delivery.Hold(delay, reason)
	if err == nil {
		d.j.add(d.id(), "hold "+reason)
	}
	return err
}

func (d *observedDelivery) DeadLetter(reason string) error {
	err := d.Delivery.DeadLetter(reason)
	if err == nil {
		d.j.add(d.Job().MessageID, "dead "+reason)
	}
	return err
}

// requireBefore checks that first appears in the call's log before then.
func requireBefore(t *testing.T, j *journal, id, first, then string) {
	t.Helper()
	log := j.of(id)
	fi, ti := -1, -1
	for i, e := range log {
		if fi < 0 && len(e) >= len(first) && e[:len(first)] == first {
			fi = i
		}
		if ti < 0 && len(e) >= len(then) && e[:len(then)] == then {
			ti = i
		}
	}
	require.True(t, fi >= 0 && ti > fi, "%q before %q in %v", first, then, log)
}
