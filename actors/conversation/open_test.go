package conversation_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// openerStore is a memStore that also opens a conversation with its first
// message in one write (as sqlitestore does), all or nothing, and counts
// the one-write opens and the step-by-step writes.
type openerStore struct {
	*memStore
	opens, steps atomic.Int32
	// dupOnce makes the next one-write open report a duplicate, writing
	// nothing (as when another activation opened the conversation).
	dupOnce atomic.Bool
}

func (s *openerStore) OpenConversationWith(_ context.Context, cust *actors.Customer, c actors.Conversation, m actors.Message, next actors.Conversation) error {
	s.opens.Add(1)
	if s.dupOnce.CompareAndSwap(true, false) {
		return fmt.Errorf("open conversation %s: %w", c.ID, actors.ErrDuplicate)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cust != nil {
		if _, ok := s.customers[cust.Phone]; ok {
			return fmt.Errorf("create customer: %w", actors.ErrDuplicate)
		}
	}
	if _, ok := s.openLocked(c.PhoneNumberID, c.WaID); ok {
		return fmt.Errorf("create conversation: %w", actors.ErrDuplicate)
	}
	if _, ok := s.byWamid[m.WaMessageID]; ok && m.WaMessageID != "" {
		return fmt.Errorf("append message: %w", actors.ErrDuplicate)
	}
	if cust != nil {
		s.customers[cust.Phone] = *cust
	}
	c.Version = 1
	s.convs[c.ID] = c
	if err := s.saveLocked(next); err != nil {
		return err
	}
	s.msgs[m.ID] = m
	if m.WaMessageID != "" {
		s.byWamid[m.WaMessageID] = m.ID
	}
	return nil
}

func (s *openerStore) CreateCustomer(ctx context.Context, c actors.Customer) error {
	s.steps.Add(1)
	return s.memStore.CreateCustomer(ctx, c)
}

func (s *openerStore) CreateConversation(ctx context.Context, c actors.Conversation) error {
	s.steps.Add(1)
	return s.memStore.CreateConversation(ctx, c)
}

func (s *openerStore) AppendMessageAndSave(ctx context.Context, m actors.Message, c actors.Conversation) error {
	s.steps.Add(1)
	return s.memStore.AppendMessageAndSave(ctx, m, c)
}

func newOpenerHarness(t *testing.T) (*harness, *openerStore) {
	t.Helper()
	var op *openerStore
	h := newHarness(t, testConfig, func(d *conversation.Deps) {
		op = &openerStore{memStore: d.Store.(*memStore)}
		d.Store = op
	})
	return h, op
}

// The first message of an unknown customer opens the conversation in one
// write: the customer, the conversation, the message and the state after
// it, as the step-by-step open leaves them.
func TestFirstMessageOpensInOneWrite(t *testing.T) {
	t.Parallel()
	h, op := newOpenerHarness(t)
	c := h.must(h.inbound("wamid.o1", "hello")).Conversation
	assert.EqualValues(t, 1, op.opens.Load())
	assert.Zero(t, op.steps.Load(), "no step-by-step write")

	assert.Equal(t, c, h.store.conversation(c.ID), "answered what is stored")
	assert.EqualValues(t, 2, c.Version, "created, then moved on by the message")
	assert.Equal(t, start, c.LastInboundAt)
	assert.Equal(t, start.Add(testConfig.Window), c.ExpiresAt)
	assert.Equal(t, 1, c.Unread)
	assert.EqualValues(t, 1, c.Seq)
	cust, err := h.store.CustomerByPhone(t.Context(), "+"+key.WaID)
	require.NoError(t, err)
	assert.Equal(t, "Asha", cust.Name)
	assert.Equal(t, cust.ID, c.CustomerID)
	ms := h.store.messagesOf(c.ID)
	require.Len(t, ms, 1)
	assert.Equal(t, "wamid.o1", ms[0].WaMessageID)
	assert.EqualValues(t, 1, ms[0].Seq)
	require.Len(t, h.events.ofType(actors.EventMessageCreated), 1)
	require.Len(t, h.events.ofType(actors.EventAgentRequested), 1)

	// The next message is one write as before.
	c2 := h.must(h.inbound("wamid.o2", "again")).Conversation
	assert.EqualValues(t, 1, op.opens.Load())
	assert.EqualValues(t, 1, op.steps.Load())
	assert.EqualValues(t, 2, c2.Seq)
	assert.Equal(t, 2, c2.Unread)
}

// A known customer is not created again: the one-write open names it.
func TestOneWriteOpenKeepsAKnownCustomer(t *testing.T) {
	t.Parallel()
	h, op := newOpenerHarness(t)
	known := actors.Customer{ID: "cust-known", Name: "Known", Phone: "+" + key.WaID, WaID: key.WaID}
	require.NoError(t, h.store.CreateCustomer(t.Context(), known))
	c := h.must(h.inbound("wamid.k1", "hello")).Conversation
	assert.Equal(t, "cust-known", c.CustomerID)
	assert.EqualValues(t, 1, op.opens.Load())
	cust, err := h.store.CustomerByPhone(t.Context(), known.Phone)
	require.NoError(t, err)
	assert.Equal(t, "Known", cust.Name, "not replaced")
}

// When the one-write open finds a duplicate it wrote nothing, and the
// step-by-step open applies the message.
func TestOneWriteOpenFallsBackOnADuplicate(t *testing.T) {
	t.Parallel()
	h, op := newOpenerHarness(t)
	op.dupOnce.Store(true)
	c := h.must(h.inbound("wamid.d1", "hello")).Conversation
	assert.EqualValues(t, 1, op.opens.Load())
	assert.EqualValues(t, 3, op.steps.Load(), "customer, conversation, message and state")
	assert.Equal(t, c, h.store.conversation(c.ID))
	ms := h.store.messagesOf(c.ID)
	require.Len(t, ms, 1)
	assert.Equal(t, "wamid.d1", ms[0].WaMessageID)
	assert.Equal(t, 1, c.Unread)
}
