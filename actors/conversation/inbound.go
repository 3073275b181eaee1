package conversation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// inbound applies a customer message and answers in r, or returns why it
// could not.
func (a *Actor) inbound(r *inboundAnswer, in *actors.InboundMessage) error {
	ctx := a.io()
	defer ctx.finish()
	if err := a.ensureLoaded(ctx); err != nil {
		return err
	}
	now := a.now()
	at := in.Timestamp.UTC().Truncate(time.Millisecond)
	if at.IsZero() || at.After(now) {
		at = now
	}
	if a.conv == nil && in.WaMessageID != "" {
		// Before opening a conversation, make sure this is not a redelivery
		// of a message of a conversation since closed.
		if _, err := a.env.Store.MessageByWaID(ctx, in.WaMessageID); err == nil {
			r.Conversation, r.Duplicate = a.current(), true
			return nil
		} else if !errors.Is(err, actors.ErrNotFound) {
			return fmt.Errorf("look up wamid %s: %w", in.WaMessageID, err)
		}
	}
	if a.conv == nil {
		if op, ok := a.env.Store.(conversationOpener); ok && (a.env.Media == nil || !actors.CarriesMedium(in.Type)) {
			// A medium's record (Media.Pending) is written before its
			// message and names the conversation, so a media message's
			// conversation is opened step by step.
			if opened, err := a.openWith(ctx, op, r, in, at, now); opened || err != nil {
				return err
			}
		}
		if err := a.open(ctx, in, now); err != nil {
			return err
		}
	}
	cur := a.current()
	msg := newInbound(in, &cur, at, now)
	if a.env.Media != nil {
		// The medium's record is written before the message, so a stored
		// message never lacks it (see mediafetch).
		// Pending is handed a copy: in is the message the actor was sent,
		// and handing it out would move every inbound message to the heap.
		cp := *in
		mm, err := a.env.Media.Pending(ctx, msg.ID, msg.ConversationID, &cp)
		if err != nil {
			return fmt.Errorf("record the medium of %s: %w", in.WaMessageID, err)
		}
		msg.Media = mm
	}
	// One write stores the message and the conversation's next state; the
	// unique wamid is the dedupe, so the common case costs that one write
	// and no read.
	err := a.applyInbound(ctx, r, &msg, in, at, now, true)
	if errors.Is(err, actors.ErrDuplicate) && in.WaMessageID != "" && a.conv != nil {
		*r = inboundAnswer{}
		return a.inboundStored(ctx, r, in, at, now)
	}
	if err == nil && msg.Media != nil {
		a.env.Media.Fetch(msg.Media.ID)
	}
	return err
}

// newInbound is the message in, to be stored in c.
func newInbound(in *actors.InboundMessage, c *actors.Conversation, at, now time.Time) actors.Message {
	msg := actors.Message{
		ID: actors.NewID(), ConversationID: c.ID, Direction: actors.DirectionInbound, Type: in.Type,
		Text: in.Text, Content: in.Content, Status: "received", WaMessageID: in.WaMessageID, Seq: c.Seq + 1,
		Raw: in.Raw, CreatedAt: at, UpdatedAt: now,
	}
	if len(in.Errors) > 0 {
		// Message-level errors (131051 on unsupported types) are kept with
		// the message; the whole list stays in Raw.
		e := in.Errors[0]
		msg.Error = &e
	}
	return msg
}

// inboundStored finishes an inbound message whose wamid is stored already
// (out of line: see receiveInbound).
//
//go:noinline
func (a *Actor) inboundStored(ctx context.Context, r *inboundAnswer, in *actors.InboundMessage, at, now time.Time) error {
	existing, err := a.env.Store.MessageByWaID(ctx, in.WaMessageID)
	if errors.Is(err, actors.ErrNotFound) {
		// The wamid is taken but no message carries it: another write of
		// it is in flight, or one that stopped halfway (a frozen or killed
		// node) left the wamid's uniqueness guard behind until it expires.
		// Retried later; it is never dropped as a duplicate.
		return fmt.Errorf("wamid %s is taken by a write not (yet) stored: %w: %w", in.WaMessageID, actors.ErrUnavailable, err)
	}
	if err != nil {
		return fmt.Errorf("look up wamid %s: %w", in.WaMessageID, err)
	}
	if existing.ConversationID == a.conv.ID && existing.Seq > a.conv.Seq {
		// Stored by an earlier attempt that did not get to update the
		// conversation (a store without transactions, or an older
		// version): finish applying it.
		return a.applyInbound(ctx, r, &existing, in, at, now, false)
	}
	r.Conversation, r.Duplicate = a.current(), true
	if existing.ConversationID == a.conv.ID && a.env.Publisher != nil {
		// Announced again: the attempt that stored it may have ended
		// before its message.created went out (its node died between the
		// write and the publish, and this is the inbox's retry). Sockets
		// may get a message twice, never miss it; the console keys
		// messages by id.
		cur := a.current()
		a.publish(actors.EventMessageCreated, &cur, "", existing.View())
	}
	return nil
}

// conversationOpener is a store that opens a conversation with its first
// message in one write (sqlitestore).
type conversationOpener interface {
	OpenConversationWith(ctx context.Context, cust *actors.Customer, c actors.Conversation, m actors.Message, next actors.Conversation) error
}

// openWith opens the conversation for the first inbound message of the key
// in one write: the customer when unknown, the conversation, the message
// and the conversation's state after it (instead of three writes, each its
// own commit at modest rates). It reports whether it did; on a duplicate
// (another activation, a customer created meanwhile, a redelivered wamid)
// nothing was written and the caller opens step by step, which sorts each
// of those out.
func (a *Actor) openWith(ctx context.Context, op conversationOpener, r *inboundAnswer, in *actors.InboundMessage, at, now time.Time) (bool, error) {
	cust, found, err := a.findCustomer(ctx, in, now)
	if err != nil {
		return false, err
	}
	var newCust *actors.Customer
	if !found {
		newCust = &cust
	}
	key := a.key()
	c := actors.Conversation{
		ID: actors.NewID(), CustomerID: cust.ID, PhoneNumberID: key.PhoneNumberID, WaID: key.WaID,
		State: actors.StateNew, Version: 1, Epoch: a.epoch, CreatedAt: now, UpdatedAt: now,
	}
	a.hold(&c)
	msg := newInbound(in, &c, at, now)
	next := a.nextInbound(msg.Seq, at, now)
	next.Version++
	next.Epoch = a.epoch
	if err := op.OpenConversationWith(ctx, newCust, c, msg, next); err != nil {
		a.conv = nil
		if a.fenced(err) {
			return false, err
		}
		if errors.Is(err, actors.ErrDuplicate) {
			return false, nil
		}
		return false, err
	}
	a.hold(&next)
	a.log().Info("conversation opened", zap.String("conversation_id", c.ID))
	a.announceInbound(ctx, &msg, in)
	a.armTimer()
	r.Conversation = a.current()
	return true, nil
}

// open creates the conversation (and the customer when unknown) for the
// first inbound message of the key.
func (a *Actor) open(ctx context.Context, in *actors.InboundMessage, now time.Time) error {
	cust, err := a.customerFor(ctx, in, now)
	if err != nil {
		return err
	}
	key := a.key()
	c := actors.Conversation{
		ID: actors.NewID(), CustomerID: cust.ID, PhoneNumberID: key.PhoneNumberID, WaID: key.WaID,
		State: actors.StateNew, Version: 1, Epoch: a.epoch, CreatedAt: now, UpdatedAt: now,
	}
	if err := a.env.Store.CreateConversation(ctx, c); err != nil {
		if a.fenced(err) {
			return fmt.Errorf("create conversation for %s: %w", key.Name(), err)
		}
		if errors.Is(err, actors.ErrDuplicate) {
			// Another activation opened it first.
			if lerr := a.load(ctx); lerr != nil {
				return lerr
			}
			if a.conv != nil {
				return nil
			}
		}
		return fmt.Errorf("create conversation for %s: %w", key.Name(), err)
	}
	a.hold(&c)
	a.log().Info("conversation opened", zap.String("conversation_id", c.ID))
	return nil
}

func (a *Actor) customerFor(ctx context.Context, in *actors.InboundMessage, now time.Time) (actors.Customer, error) {
	c, found, err := a.findCustomer(ctx, in, now)
	if err != nil || found {
		return c, err
	}
	if err := a.env.Store.CreateCustomer(ctx, c); err != nil {
		if errors.Is(err, actors.ErrDuplicate) {
			return a.env.Store.CustomerByPhone(ctx, c.Phone)
		}
		return actors.Customer{}, fmt.Errorf("create customer: %w", err)
	}
	return c, nil
}

// findCustomer returns the stored customer of the key (found), or the one
// to create for it, not stored yet.
func (a *Actor) findCustomer(ctx context.Context, in *actors.InboundMessage, now time.Time) (actors.Customer, bool, error) {
	waID := a.key().WaID
	phone := "+" + waID
	c, err := a.env.Store.CustomerByPhone(ctx, phone)
	if err == nil {
		return c, true, nil
	}
	if !errors.Is(err, actors.ErrNotFound) {
		return actors.Customer{}, false, fmt.Errorf("find customer: %w", err)
	}
	name := in.ProfileName
	if name == "" {
		name = phone
	}
	if len(name) > 200 {
		name = name[:200]
	}
	return actors.Customer{ID: actors.NewID(), Name: name, Phone: phone, WaID: waID, Tags: []string{}, Attributes: map[string]string{},
		Version: 1, CreatedAt: now, UpdatedAt: now}, false, nil
}

// applyInbound applies msg to the conversation, inserting it in the same
// write when insert is set (else it is stored already), and answers in r.
func (a *Actor) applyInbound(ctx context.Context, r *inboundAnswer, msg *actors.Message, in *actors.InboundMessage, at, now time.Time, insert bool) error {
	err := a.applyInboundOnce(ctx, r, msg, in, at, now, insert)
	if !errors.Is(err, ErrStale) {
		return err
	}
	// The write was rejected: another activation moved the conversation
	// on. Apply the message once on top of the newer state, so nothing is
	// lost and nothing newer is overwritten, then retire.
	*r = inboundAnswer{}
	a.retire = true
	if err := a.load(ctx); err != nil {
		return err
	}
	if a.conv == nil || a.conv.ID != msg.ConversationID {
		if insert {
			// Closed (and maybe reopened) meanwhile, and the message not
			// stored: fail, so that it is delivered again, to whatever
			// conversation is open then.
			return fmt.Errorf("apply message %s: conversation %s changed meanwhile: %w", in.WaMessageID, msg.ConversationID, ErrStale)
		}
		r.Conversation, r.Duplicate = a.current(), true
		return nil
	}
	msg.Seq = a.conv.Seq + 1
	err = a.applyInboundOnce(ctx, r, msg, in, at, now, insert)
	if insert && errors.Is(err, actors.ErrDuplicate) {
		// A store without transactions kept the message of the rejected
		// write.
		*r = inboundAnswer{}
		return a.applyInboundOnce(ctx, r, msg, in, at, now, false)
	}
	return err
}

func (a *Actor) applyInboundOnce(ctx context.Context, r *inboundAnswer, msg *actors.Message, in *actors.InboundMessage, at, now time.Time, insert bool) error {
	next := a.nextInbound(msg.Seq, at, now)
	var stored *actors.Message
	if insert {
		stored = msg
	}
	if err := a.saveWith(ctx, &next, stored); err != nil {
		return err
	}
	a.announceInbound(ctx, msg, in)
	a.armTimer()
	r.Conversation = a.current()
	return nil
}

// nextInbound is the held conversation's next state once message number
// seq, sent at at, is applied (Version not yet moved on).
func (a *Actor) nextInbound(seq int64, at, now time.Time) actors.Conversation {
	next := a.current()
	next.Seq = seq
	if at.After(next.LastInboundAt) {
		next.LastInboundAt = at
		next.ExpiresAt = at.Add(a.env.Config.Window)
		next.WarnedAt = time.Time{}
	}
	open := now.Before(next.ExpiresAt)
	switch {
	case !open:
		if next.State == actors.StateNew || next.State == actors.StateActive {
			next.State = actors.StateExpired
		}
	case next.State == actors.StateExpired:
		next.State = actors.StateActive
	case next.State == actors.StateNew && !next.LastOutboundAt.IsZero():
		next.State = actors.StateActive
	}
	next.Unread++
	next.UpdatedAt = now
	next.NextTimerAt = a.nextTimer(&next)
	return next
}

// announceInbound publishes an applied inbound message and notifies the
// assignee, or asks for one (out of line: see receiveInbound).
//
//go:noinline
func (a *Actor) announceInbound(ctx context.Context, msg *actors.Message, in *actors.InboundMessage) {
	cur := a.current()
	c := &cur
	if a.env.Publisher != nil {
		a.publish(actors.EventMessageCreated, c, "", msg.View())
		a.publish(actors.EventConversationUpdated, c, "", c.View())
	}
	if c.AssigneeID != "" {
		a.notify(ctx, c.AssigneeID, actors.NotifyCustomerReplied, "Customer replied", truncate(in.Text, 140), c)
	} else {
		// Open and unassigned: ask again (the assigner keeps one place in
		// its queue per conversation).
		a.requestAgent(c)
	}
}

// requestAgent asks the assigner for an agent (EventAgentRequested) when c
// is open and unassigned.
func (a *Actor) requestAgent(c *actors.Conversation) {
	if a.env.Publisher != nil && c.AssigneeID == "" && (c.State == actors.StateNew || c.State == actors.StateActive) {
		a.publish(actors.EventAgentRequested, c, "", nil)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
