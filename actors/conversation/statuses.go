package conversation

import (
	"context"
	"errors"
	"fmt"

	"github.com/wacc/engine/actors"
)

// statusTarget is a delivery status and the message it applies to.
type statusTarget struct {
	u *actors.StatusUpdate
	// m is the message as the actor found it: held (without its content)
	// or read from the store.
	m actors.Message
	// held is set when the actor holds m (among its recent messages), so
	// that what the writes change is held too. It is found again by id
	// (a pointer into recent is valid only until the next one is held).
	held bool
}

// statuses applies delivery statuses, in order and forward only (see
// applyStatuses); a status for an unknown wamid is kept until the message
// appears. Each message is found among the ones the actor holds, among
// the ones an earlier status of us found, or else read from the store
// (and held, when it is one of the open conversation's).
func (a *Actor) statuses(us []actors.StatusUpdate) Result {
	ctx := a.io()
	defer ctx.finish()
	if err := a.ensureLoaded(ctx); err != nil {
		return Failed(err)
	}
	ts := make([]statusTarget, 0, len(us))
	kept := false
	for i := range us {
		u := &us[i]
		if s := a.heldMessages().byWaID(u.WaMessageID); s != nil {
			ts = append(ts, statusTarget{u: u, m: s.message(a.conv.ID), held: true})
			continue
		}
		if t := foundBefore(ts, u.WaMessageID); t != nil {
			ts = append(ts, statusTarget{u: u, m: t.m, held: t.held})
			continue
		}
		m, err := a.env.Store.MessageByWaID(ctx, u.WaMessageID)
		if errors.Is(err, actors.ErrNotFound) {
			if err := a.env.Store.AddPendingStatus(ctx, *u); err != nil {
				return Failed(fmt.Errorf("keep pending status %s/%s: %w", u.WaMessageID, u.Status, err))
			}
			if r := a.heldMessages(); r != nil {
				r.keptPending(u.WaMessageID)
			}
			kept = true
			continue
		}
		if err != nil {
			return Failed(fmt.Errorf("look up wamid %s: %w", u.WaMessageID, err))
		}
		ts = append(ts, statusTarget{u: u, m: m, held: a.holdRead(&m) != nil})
	}
	if len(ts) == 0 && kept {
		return Result{Conversation: a.current()}
	}
	return a.applyStatuses(ctx, ts)
}

// foundBefore returns the target of ts whose message has that wamid, nil
// when none.
func foundBefore(ts []statusTarget, wamid string) *statusTarget {
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].m.WaMessageID == wamid && wamid != "" {
			return &ts[i]
		}
	}
	return nil
}

// applyStatuses applies each target's status to its message, in order,
// with one store write for all of them (UpdateMessageStatuses: each
// conditional, forward only), none for a status the held messages show
// the store has already or one a status before it in ts moves past (see
// recent). A status's pricing is recorded before the write; each status
// that changed its message then publishes its message.status event and,
// when failed, its consequences, in order: the same events, in the same
// order, as applying the statuses one at a time. The Result is Duplicate
// when no status changed anything.
func (a *Actor) applyStatuses(ctx context.Context, ts []statusTarget) Result {
	type step struct {
		// rank is the rank the message's stored status has at least once
		// this status is written: 0 when unknown (a message not held), or
		// failedRank, which the store may have undone (see recent).
		rank uint8
		// write is the index of its change, -1 when spared.
		write int
	}
	steps := make([]step, len(ts))
	changes := make([]actors.StatusChange, 0, len(ts))
	for i := range ts {
		t := &ts[i]
		if t.held {
			if s := a.heldMessages().byID(t.m.ID); s != nil {
				t.m = s.message(t.m.ConversationID)
			} else {
				t.held = false
			}
		}
		m, u := &t.m, t.u
		var werr *actors.WhatsAppError
		if len(u.Errors) > 0 {
			e := u.Errors[0]
			if u.Status == actors.StatusFailed && m.Direction == actors.DirectionOutbound {
				// The same table as for an error answered to the send: the
				// failure's kind and the reason an agent can act on.
				e = e.Explained()
			}
			werr = &e
		}
		at := u.Timestamp
		if at.IsZero() {
			at = a.now()
		}
		if u.Pricing != nil && a.env.Pricing != nil && m.Direction == actors.DirectionOutbound && (m.Pricing == nil || *m.Pricing != *u.Pricing) {
			if err := a.env.Pricing.SetMessagePricing(ctx, m.ID, u.PhoneNumberID, *u.Pricing); err != nil {
				return Failed(fmt.Errorf("record pricing of message %s: %w", m.ID, err))
			}
			p := *u.Pricing
			if s := a.heldMessages().byID(m.ID); t.held && s != nil {
				s.pricing = &p
			}
			for j := i + 1; j < len(ts); j++ {
				if ts[j].m.ID == m.ID {
					ts[j].m.Pricing = &p
				}
			}
		}
		rank := uint8(0)
		if s := a.heldMessages().byID(m.ID); t.held && s != nil {
			rank = s.rank
		}
		for j := i - 1; j >= 0; j-- {
			if ts[j].m.ID == m.ID {
				rank = steps[j].rank
				break
			}
		}
		steps[i] = step{rank: rank, write: -1}
		if r := rankOf(u.Status); rank != 0 && rank != failedRank && r <= rank {
			continue // spared: the store has it, or will once written
		} else if rank != 0 && rank != failedRank {
			steps[i].rank = r
		}
		steps[i].write = len(changes)
		changes = append(changes, actors.StatusChange{MessageID: m.ID, Status: u.Status, Error: werr, At: at})
	}
	if len(changes) == 0 {
		return Result{Conversation: a.current(), Duplicate: true}
	}
	changed, err := a.updateStatuses(ctx, changes)
	if err != nil {
		return Failed(fmt.Errorf("update %d statuses of conversation %s: %w", len(changes), a.key().Name(), err))
	}
	moved := false
	var failed error
	for i := range ts {
		t, st := &ts[i], &steps[i]
		if st.write < 0 || !changed[st.write] {
			continue
		}
		moved = true
		ch := &changes[st.write]
		if t.held {
			if s := a.heldMessages().byID(t.m.ID); s != nil {
				s.set(ch.Status, ch.Error, ch.At)
			}
		}
		c := a.current()
		if c.ID != t.m.ConversationID {
			c = actors.Conversation{ID: t.m.ConversationID}
		}
		if a.env.Publisher != nil {
			a.publish(actors.EventMessageStatus, &c, "", statusView{MessageID: t.m.ID, ConversationID: t.m.ConversationID,
				WaMessageID: t.u.WaMessageID, Status: ch.Status, Error: ch.Error, At: ch.At.UTC()})
		}
		if ch.Status == actors.StatusFailed {
			// A failure's consequences failing (the expiry not saved)
			// still lets the statuses after it publish theirs: they are
			// stored, and a retry would find them applied.
			if err := a.failedMessage(ctx, t.m, ch.Error, true, &c); err != nil && failed == nil {
				failed = err
			}
		}
	}
	if failed != nil {
		return Failed(failed)
	}
	return Result{Conversation: a.current(), Duplicate: !moved}
}
