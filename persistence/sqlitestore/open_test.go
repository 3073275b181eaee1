package sqlitestore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// openArgs is a new customer, its conversation, a first message and the
// conversation's state after it.
func openArgs(n string, at time.Time) (actors.Customer, actors.Conversation, actors.Message, actors.Conversation) {
	cust := actors.Customer{ID: "cust-" + n, Name: "Asha " + n, Phone: "+91980000" + n, WaID: "91980000" + n, Tags: []string{"vip"},
		Attributes: map[string]string{}, Version: 1, CreatedAt: at, UpdatedAt: at}
	c := actors.Conversation{ID: "conv-" + n, CustomerID: cust.ID, PhoneNumberID: "pn1", WaID: cust.WaID, State: actors.StateNew,
		Version: 1, CreatedAt: at, UpdatedAt: at}
	m := actors.Message{ID: "msg-" + n, ConversationID: c.ID, Direction: actors.DirectionInbound, Type: "text", Text: "hello",
		Status: "received", WaMessageID: "wamid." + n, Seq: 1, CreatedAt: at, UpdatedAt: at}
	next := c
	next.Version, next.Seq, next.Unread, next.LastInboundAt, next.ExpiresAt = 2, 1, 1, at, at.Add(24*time.Hour)
	return cust, c, m, next
}

// OpenConversationWith writes the customer, the conversation, the message
// and the state after it together; a duplicate anywhere writes none of
// them.
func TestOpenConversationWith(t *testing.T) {
	t.Parallel()
	s := openTemp(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	cust, c, m, next := openArgs("01", at)
	require.NoError(t, s.OpenConversationWith(ctx, &cust, c, m, next))
	got, err := s.OpenConversation(ctx, "pn1", cust.WaID)
	require.NoError(t, err)
	assert.Equal(t, next, got, "stored at the state after the message, Version 2")
	gotCust, err := s.CustomerByPhone(ctx, cust.Phone)
	require.NoError(t, err)
	assert.Equal(t, cust.Name, gotCust.Name)
	assert.Equal(t, []string{"vip"}, gotCust.Tags)
	gotMsg, err := s.MessageByWaID(ctx, m.WaMessageID)
	require.NoError(t, err)
	assert.Equal(t, c.ID, gotMsg.ConversationID)
	// The customer found by search (the index's trigger ran).
	found, _, err := s.ListCustomers(ctx, actors.CustomerFilter{Search: "Asha 01", Limit: 5})
	require.NoError(t, err)
	require.Len(t, found, 1)

	// A known customer (nil): only the conversation and its message.
	_, c2, m2, next2 := openArgs("02", at)
	c2.CustomerID, next2.CustomerID, c2.WaID, next2.WaID = cust.ID, cust.ID, "91980000999", "91980000999"
	require.NoError(t, s.OpenConversationWith(ctx, nil, c2, m2, next2))
	got2, err := s.OpenConversation(ctx, "pn1", "91980000999")
	require.NoError(t, err)
	assert.Equal(t, cust.ID, got2.CustomerID)

	// Duplicates write nothing: a redelivered wamid with a new customer...
	cust3, c3, m3, next3 := openArgs("03", at)
	m3.WaMessageID = m.WaMessageID
	require.ErrorIs(t, s.OpenConversationWith(ctx, &cust3, c3, m3, next3), actors.ErrDuplicate)
	_, err = s.CustomerByPhone(ctx, cust3.Phone)
	require.ErrorIs(t, err, actors.ErrNotFound, "the customer was not kept")
	_, err = s.OpenConversation(ctx, "pn1", cust3.WaID)
	require.ErrorIs(t, err, actors.ErrNotFound, "nor the conversation")

	// ...and a second open conversation of one pair.
	cust4, c4, m4, next4 := openArgs("04", at)
	c4.WaID, next4.WaID = cust.WaID, cust.WaID
	require.ErrorIs(t, s.OpenConversationWith(ctx, &cust4, c4, m4, next4), actors.ErrDuplicate)
	_, err = s.CustomerByPhone(ctx, cust4.Phone)
	require.ErrorIs(t, err, actors.ErrNotFound)
	_, err = s.MessageByWaID(ctx, m4.WaMessageID)
	require.ErrorIs(t, err, actors.ErrNotFound, "nor the message")
}
