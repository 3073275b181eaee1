package conversation

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Fencing of activations (Deps.Epochs).
//
// In a cluster two activations of one key can be alive at once: a node that
// froze and resumed still runs the actor another node has activated since.
// The version check of SaveConversation refuses a stale write only once the
// newer activation has written; fencing refuses it from the moment the
// newer one exists. Each activation acquires the key's next epoch before it
// reads the conversation, and every write it makes for the key carries that
// epoch (Conversation.Epoch, or an actors.Fence for statuses). A write the
// store refuses with actors.ErrFenced changes nothing; the actor counts it
// (Deps.FencedWrite), answers the message in hand with the refusal and stops
// at once; the next message for the key activates a fresh actor, which
// acquires a new epoch and reads the store.

// acquire takes the activation's epoch, once per activation, when fencing
// is on.
func (a *Actor) acquire(ctx context.Context) error {
	if a.env.Epochs == nil || a.epoch != 0 {
		return nil
	}
	key := a.key()
	e, err := a.env.Epochs.AcquireEpoch(ctx, key.PhoneNumberID, key.WaID)
	if err != nil {
		return fmt.Errorf("acquire epoch of %s: %w", key.Name(), err)
	}
	a.epoch = e
	return nil
}

// activate acquires the activation's epoch (when fencing) and then reads the
// open conversation: in that order, so that what it reads is not changed
// behind its back by an older activation.
func (a *Actor) activate(ctx context.Context) error {
	if err := a.acquire(ctx); err != nil {
		return err
	}
	return a.load(ctx)
}

// fenced handles err of a write: when the store refused it as fenced, the
// activation is stale; it forgets its state, counts the refusal and
// retires (see Receive). It reports whether err was a refusal.
func (a *Actor) fenced(err error) bool {
	if !errors.Is(err, actors.ErrFenced) {
		return false
	}
	if f := a.env.FencedWrite; f != nil {
		f()
	}
	a.log().Warn("write refused: a newer activation holds the conversation's epoch; stopping", zap.Int64("epoch", a.epoch))
	a.loaded, a.conv, a.retire = false, nil, true
	return true
}

// fence is the actor's fence for its key.
func (a *Actor) fence() actors.Fence {
	key := a.key()
	return actors.Fence{PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, Epoch: a.epoch}
}

// updateStatuses is Store.UpdateMessageStatuses, fenced when the activation
// holds an epoch.
func (a *Actor) updateStatuses(ctx context.Context, changes []actors.StatusChange) ([]bool, error) {
	var changed []bool
	var err error
	if a.epoch != 0 {
		changed, err = a.env.Epochs.UpdateMessageStatusesFenced(ctx, a.fence(), changes)
	} else {
		changed, err = a.env.Store.UpdateMessageStatuses(ctx, changes)
	}
	a.fenced(err)
	return changed, err
}
