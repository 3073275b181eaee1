package conversation

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

// Retiring: an activation another one replaced (a refused write), or
// every activation of a node that downed itself (RetireAll), refuses what
// is left in its mailbox instead of applying it with its old state.

// RetireAll retires every conversation actor made so far: from its next
// message on, each refuses the commands it gets (ErrStale, or hands those
// sent without waiting for an answer to its parent for the key's next
// actor) and applies nothing more, while actors made afterwards work as
// usual. A node that lost its cluster membership calls it (through
// supervisors.Host.StopAll) before it stops them, so that the commands
// queued in their mailboxes meanwhile are not applied with the state of
// an activation another node may have replaced.
func (d *Deps) RetireAll() { d.gen.Add(1) }

// generation is the actors' generation, in the width an Actor keeps.
func (d *Deps) generation() uint16 { return uint16(d.gen.Load()) }

// refuseRetired answers a command that reached a retiring actor (see
// Receive) with ErrStale, which callers retry; the actor reads nothing and
// writes nothing more.
func (a *Actor) refuseRetired(c actor.Context, msg any) {
	switch msg.(type) {
	case *actor.Restarting, *actor.Stopping:
		a.stop()
		return
	}
	cmd, ok := msg.(Command)
	if !ok {
		return
	}
	if c.Sender() == nil {
		c.Send(c.Parent(), Redirect{Key: a.key(), Cmd: cmd})
		return
	}
	if f := a.env.RetiredCommand; f != nil {
		f()
	}
	err := fmt.Errorf("%s: activation retired: %w", a.key().Name(), ErrStale)
	if _, ok := cmd.(Inbound); ok {
		c.Respond(inboundAnswer{Failure: failureOf(err)})
		return
	}
	c.Respond(Failed(err))
}
