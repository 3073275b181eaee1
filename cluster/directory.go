package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/wacc/engine/actors/conversation"
)

// Backoff between attempts: backoffBase doubled per attempt, capped at
// backoffMax, with up to a quarter of jitter either way.
const (
	backoffBase = 100 * time.Millisecond
	backoffMax  = time.Second
)

// backoff is the wait after the attempt-th failed attempt.
func backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt-1, 10)
	d = min(d, backoffMax)
	return d - d/4 + rand.N(d/2+1)
}

// errNoOwner means no member is known to own a key (the node is joining or
// rejoining, or every member is suspected).
var errNoOwner = errors.New("no cluster member owns this conversation")

// Directory is the cluster's conversation.Directory: it delivers a command
// to the conversation's owner, the local host directly (no serialization)
// when that is this node, else the owner's router over remote. A remote
// command carries a message id and is tried with a per-attempt timeout
// (Config.AttemptTimeout) and backoff (100 ms doubling to 1 s, jittered),
// re-resolving the owner each time and skipping a member that failed an
// attempt, within the caller's timeout; the owner applies a retried
// command once (dedupe). Send queues remote commands per key, in order,
// and retries each with its message id until the owner takes it.
type Directory struct{ n *Node }

var _ conversation.Directory = (*Directory)(nil)

// Directory is the node's conversation.Directory.
func (n *Node) Directory() *Directory { return &Directory{n: n} }

// Request delivers cmd to the conversation of key and returns its pending
// answer.
func (d *Directory) Request(key conversation.Key, cmd conversation.Command, timeout time.Duration) conversation.Reply {
	n := d.n
	owner := n.owner(key)
	if owner == n.cfg.Bind {
		return n.local.Request(key, cmd, timeout)
	}
	env := &Envelope{MessageId: n.nextID(), PhoneNumberId: key.PhoneNumberID, WaId: key.WaID, WantAnswer: true}
	if err := setCommand(env, cmd); err != nil {
		return failedReply{err: err}
	}
	r := &remoteReply{done: make(chan struct{})}
	deadline := time.Now().Add(timeout)
	// The first attempt leaves in the caller's order.
	first := n.attempt(owner, env, deadline)
	go func() {
		defer close(r.done)
		r.v, r.attempts, r.err = n.deliver(key, cmd, env, deadline, owner, first)
	}()
	return r
}

// Send delivers cmd without waiting: to the local host when this node owns
// key and nothing for key is queued, else through key's queue.
func (d *Directory) Send(key conversation.Key, cmd conversation.Command) {
	d.n.sends.push(key, cmd)
}

// try is one attempt: the envelope's future and, when the owner was not
// heard from lately, a ping's, which tells a slow conversation (the ping
// is answered) from a dead or unconfirmed node (it is not).
type try struct {
	answer *actor.Future
	ping   *actor.Future
	sent   time.Time
}

// attempt sends env to owner's router; nil when owner is unknown or the
// node has no incarnation.
func (n *Node) attempt(owner string, env *Envelope, deadline time.Time) *try {
	inc := n.current()
	if owner == "" || inc == nil {
		return nil
	}
	timeout := min(n.cfg.AttemptTimeout, time.Until(deadline))
	if timeout <= 0 {
		return nil
	}
	pid := actor.NewPID(owner, routerName)
	t := &try{sent: time.Now(), answer: inc.request(pid, env, timeout)}
	if t.answer == nil {
		return nil
	}
	if h, ok := n.heard.Load(owner); !ok || t.sent.Sub(h.(time.Time)) > n.cfg.AttemptTimeout/4 {
		t.ping = inc.request(pid, &Envelope{MessageId: env.GetMessageId(), Command: &Envelope_Ping{Ping: &WirePing{}}}, timeout)
	}
	return t
}

// alive reports whether owner showed it is alive and serving during t: it
// answered anything since t was sent, or t's ping.
func (n *Node) alive(owner string, t *try) bool {
	if t.ping != nil {
		if v, err := t.ping.Result(); err == nil {
			if a, ok := v.(*Answer); ok && a.GetUndelivered() == "" {
				n.heard.Store(owner, time.Now())
				return true
			}
		}
	}
	h, ok := n.heard.Load(owner)
	return ok && !h.(time.Time).Before(t.sent)
}

// deliver waits for the first attempt and retries until an answer or the
// deadline. It returns the Result, how many attempts were made, and the
// error when no answer came.
func (n *Node) deliver(key conversation.Key, cmd conversation.Command, env *Envelope, deadline time.Time, owner string, t *try) (any, int, error) {
	var last error
	for attempt := 1; ; attempt++ {
		if owner == n.cfg.Bind {
			v, err := n.local.Request(key, cmd, max(time.Until(deadline), time.Millisecond)).Result()
			return v, attempt, err
		}
		if t == nil {
			last = errNoOwner
			n.metrics.attempts.WithLabelValues(outcomeNoOwner).Inc()
		} else {
			v, err := t.answer.Result()
			ans, _ := v.(*Answer)
			if err == nil && ans != nil {
				n.heard.Store(owner, time.Now())
			}
			switch {
			case err == nil && ans != nil && ans.GetUndelivered() == "":
				n.metrics.attempts.WithLabelValues(outcomeAnswered).Inc()
				if ans.GetResult() == nil {
					return nil, attempt, fmt.Errorf("answer of %s from %s: no result (a node of another version?)", env.GetMessageId(), owner)
				}
				return resultOf(ans.GetResult()), attempt, nil
			case err == nil && ans != nil:
				n.metrics.attempts.WithLabelValues(outcomeUndelivered).Inc()
				last = fmt.Errorf("%s: %s", owner, ans.GetUndelivered())
			default:
				n.metrics.attempts.WithLabelValues(outcomeTimeout).Inc()
				if err == nil {
					err = fmt.Errorf("unexpected answer %T", v)
				}
				last = fmt.Errorf("%s: %w", owner, err)
				// A dead member costs one attempt: skip it until membership
				// decides, unless it showed it is alive (only this
				// conversation is slow: the retry joins its answer there).
				if !n.alive(owner, t) {
					n.suspect(owner)
				}
			}
		}
		wait := backoff(attempt)
		if time.Until(deadline) <= wait {
			return nil, attempt, fmt.Errorf("deliver %s to %s after %d attempts: %w", env.GetMessageId(), key.Name(), attempt, last)
		}
		select {
		case <-time.After(wait):
		case <-n.stop:
			return nil, attempt, fmt.Errorf("deliver %s to %s: node stopping: %w", env.GetMessageId(), key.Name(), last)
		}
		owner = n.owner(key)
		t = nil
		if owner != n.cfg.Bind {
			// This node's own conversations are asked directly (above):
			// an envelope to its own router as well applied the command
			// twice (the second time a duplicate).
			t = n.attempt(owner, env, deadline)
		}
	}
}

// remoteReply is the pending answer of a command sent to another node.
type remoteReply struct {
	done     chan struct{}
	v        any
	err      error
	attempts int
}

// Result waits for the answer.
func (r *remoteReply) Result() (any, error) {
	<-r.done
	return r.v, r.err
}

// failedReply answers err at once.
type failedReply struct{ err error }

func (r failedReply) Result() (any, error) { return nil, r.err }
