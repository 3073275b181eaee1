package callsender_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
)

// journal is one ordered log, by call id, of what the call actors
// answered the sender and how the sender settled each delivery.
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

// index is the position of the first entry of id starting with prefix
// (-1 when none).
func (j *journal) index(id, prefix string) int {
	for i, e := range j.of(id) {
		if strings.HasPrefix(e, prefix) {
			return i
		}
	}
	return -1
}

func (j *journal) has(id, prefix string) bool { return j.index(id, prefix) >= 0 }

// settled reports whether the call's job was acknowledged or dead-lettered.
func (j *journal) settled(id string) bool { return j.has(id, "ack") || j.has(id, "dead") }

// requireBefore checks that an entry starting with first comes before one
// starting with then.
func requireBefore(t *testing.T, j *journal, id, first, then string) {
	t.Helper()
	fi := j.index(id, first)
	ti := -1
	for i, e := range j.of(id) {
		if i > fi && strings.HasPrefix(e, then) {
			ti = i
			break
		}
	}
	require.True(t, fi >= 0 && ti > fi, "%q before %q in %v", first, then, j.of(id))
}

// journaledDir stands between the sender and the call actors: it writes
// each answer in the journal once the actor gave it (the actor stores its
// change before answering), and it can lose answers, as a timeout would:
// before the actor got the command, or after it applied it.
type journaledDir struct {
	inner call.Directory
	j     *journal

	mu     sync.Mutex
	faults map[string][]bool // by command name: lose the next answers (true: after applying)
}

func (d *journaledDir) loseAnswer(cmd string, applied bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults[cmd] = append(d.faults[cmd], applied)
}

type reply struct {
	v   any
	err error
}

func (r reply) Result() (any, error) { return r.v, r.err }

var errLost = errors.New("answer lost (test)")

func (d *journaledDir) Send(callID string, cmd call.Command) { d.inner.Send(callID, cmd) }

func (d *journaledDir) Request(callID string, cmd call.Command, timeout time.Duration) call.Reply {
	name := strings.TrimPrefix(fmt.Sprintf("%T", cmd), "call.")
	d.mu.Lock()
	lose, applied := false, false
	if f := d.faults[name]; len(f) > 0 {
		lose, applied, d.faults[name] = true, f[0], f[1:]
	}
	d.mu.Unlock()
	if lose && !applied {
		d.j.add(callID, "lost "+name)
		return reply{err: errLost}
	}
	v, err := d.inner.Request(callID, cmd, timeout).Result()
	res, _ := v.(call.Result)
	switch {
	case err != nil:
		d.j.add(callID, name+" unanswered: "+err.Error())
	case res.Err != nil:
		d.j.add(callID, name+" error: "+res.Err.Error())
	default:
		d.j.add(callID, entry(cmd, res))
	}
	if lose {
		d.j.add(callID, "lost answer of "+name)
		return reply{err: errLost}
	}
	return reply{v: v, err: err}
}

// entry is the journal's line for an applied command.
func entry(cmd call.Command, res call.Result) string {
	switch m := cmd.(type) {
	case call.BeginConnect:
		return "begin " + [...]string{"go", "skip", "resolve", "wait"}[res.Connect]
	case call.Connected:
		return "connected " + m.Sid
	case call.ConnectFailed:
		return fmt.Sprintf("connect failed final=%v", m.Final)
	}
	return fmt.Sprintf("%T", cmd)
}

// observed wraps a queue's consumer to write each settlement in the
// journal.
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

func (d *observedDelivery) id() string { return d.Job().MessageID }

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
		d.j.add(d.id(), "dead "+reason)
	}
	return err
}
