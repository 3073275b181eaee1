package cluster

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors/conversation"
)

// routerName is the well-known name of every node's router actor, which
// receives the envelopes of the conversations the node owns.
const routerName = "conversations"

// localTimeout bounds how long the router waits for its own conversation
// actor; a caller's retry meanwhile joins the same answer.
const localTimeout = 30 * time.Second

// router is the actor that takes envelopes from other nodes and hands
// their commands to the local host, in the order they arrive (it forwards
// in its receive step and waits for answers off its mailbox). Commands are
// deduplicated by message id (see dedupe).
type router struct {
	local  conversation.Directory
	dedupe *dedupe
	log    *zap.Logger
	// send sends over the incarnation's remote (see incarnation.send).
	send func(*actor.PID, any)
	// fresh is Node.fresh: a node that is not refuses envelopes.
	fresh func() bool
}

// Receive handles one envelope.
func (r *router) Receive(c actor.Context) {
	env, ok := c.Message().(*Envelope)
	if !ok {
		return
	}
	sender := c.Sender()
	reply := func(a *Answer) {
		if sender != nil {
			r.send(sender, a)
		}
	}
	if env.GetMessageId() == "" {
		reply(&Answer{Undelivered: "envelope without a message id"})
		return
	}
	if env.GetPing() != nil {
		if r.fresh() {
			reply(&Answer{MessageId: env.GetMessageId()})
		} else {
			reply(&Answer{MessageId: env.GetMessageId(), Undelivered: "node membership not confirmed"})
		}
		return
	}
	if !r.fresh() {
		// Frozen, or its membership check is late: another node may own
		// this key by now. The caller retries elsewhere.
		reply(&Answer{MessageId: env.GetMessageId(), Undelivered: "node membership not confirmed"})
		return
	}
	if !r.dedupe.begin(env.GetMessageId(), reply) {
		return
	}
	id := env.GetMessageId()
	cmd, err := commandOf(env)
	if err != nil {
		r.log.Warn("envelope refused", zap.String("message_id", id), zap.Error(err))
		w, encErr := wireResult(conversation.Failed(fmt.Errorf("decode envelope %s: %w", id, err)))
		if encErr != nil {
			r.dedupe.finish(id, &Answer{MessageId: id, Undelivered: encErr.Error()}, time.Now())
			return
		}
		r.dedupe.finish(id, &Answer{MessageId: id, Result: w}, time.Now())
		return
	}
	key := conversation.Key{PhoneNumberID: env.GetPhoneNumberId(), WaID: env.GetWaId()}
	pending := r.local.Request(key, cmd, localTimeout)
	go func() {
		v, err := pending.Result()
		a := &Answer{MessageId: id}
		if err != nil {
			a.Undelivered = "conversation did not answer: " + err.Error()
		} else if w, err := wireResult(v); err != nil {
			a.Undelivered = err.Error()
		} else {
			a.Result = w
		}
		r.dedupe.finish(id, a, time.Now())
	}()
}
