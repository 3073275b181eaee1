package conversation_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// fakeSendSide records what the conversations ask of the send side: pauses
// and unusable templates.
type fakeSendSide struct {
	mu        sync.Mutex
	calls     []string
	pricing   []string
	templates []string
}

func (f *fakeSendSide) PauseRecipient(_ context.Context, phoneNumberID, waID string, pause time.Duration, werr actors.WhatsAppError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("recipient %s/%s %s %d", phoneNumberID, waID, pause, werr.Code))
}

func (f *fakeSendSide) PauseNumber(_ context.Context, phoneNumberID string, pause time.Duration, werr actors.WhatsAppError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("number %s %s %d", phoneNumberID, pause, werr.Code))
}

func (f *fakeSendSide) TemplateFailed(_ context.Context, phoneNumberID, name, language string, werr actors.WhatsAppError) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.templates = append(f.templates, fmt.Sprintf("%s %s/%s %d", phoneNumberID, name, language, werr.Code))
	return nil
}

func (f *fakeSendSide) SetMessagePricing(_ context.Context, id, phoneNumberID string, p actors.Pricing) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pricing = append(f.pricing, fmt.Sprintf("%s %s %v %s %s %s", id, phoneNumberID, p.Billable, p.Model, p.Category, p.Type))
	return nil
}

func (f *fakeSendSide) seen() ([]string, []string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([]string(nil), f.templates...), append([]string(nil), f.pricing...)
}

// TestLateFailureConsequences: a failed status's code has the consequences
// of the one table, as when Meta answers it to the send; and the other
// path (the sender's outcome) does not pause again, the sender did.
func TestLateFailureConsequences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		code      int
		template  bool
		late      bool
		wantKind  string
		wantCalls []string
		wantTmpl  []string
		wantState string
	}{
		{name: "131047 late expires", code: 131047, late: true, wantKind: actors.FailureWindowClosed, wantState: actors.StateExpired},
		{name: "131047 answered expires", code: 131047, wantKind: actors.FailureWindowClosed, wantState: actors.StateExpired},
		{name: "131048 late pauses the recipient", code: 131048, late: true, wantKind: actors.FailureRecipientLimited,
			wantCalls: []string{"recipient " + key.PhoneNumberID + "/" + key.WaID + " 4h0m0s 131048"}},
		{name: "131049 late pauses the recipient", code: 131049, late: true, wantKind: actors.FailureRecipientLimited,
			wantCalls: []string{"recipient " + key.PhoneNumberID + "/" + key.WaID + " 4h0m0s 131049"}},
		{name: "131056 late pauses the recipient briefly", code: 131056, late: true, wantKind: actors.FailureRecipientLimited,
			wantCalls: []string{"recipient " + key.PhoneNumberID + "/" + key.WaID + " 6s 131056"}},
		{name: "131042 late pauses the number", code: 131042, late: true, wantKind: actors.FailureNumberBlocked,
			wantCalls: []string{"number " + key.PhoneNumberID + " 30m0s 131042"}},
		{name: "131031 late pauses the number", code: 131031, late: true, wantKind: actors.FailureNumberBlocked,
			wantCalls: []string{"number " + key.PhoneNumberID + " 30m0s 131031"}},
		{name: "368 late pauses the number", code: 368, late: true, wantKind: actors.FailureNumberBlocked,
			wantCalls: []string{"number " + key.PhoneNumberID + " 30m0s 368"}},
		{name: "131026 late is undeliverable", code: 131026, late: true, wantKind: actors.FailureUndeliverable},
		{name: "131053 late is media", code: 131053, late: true, wantKind: actors.FailureMedia},
		{name: "132001 late tells the registry", code: 132001, late: true, template: true, wantKind: actors.FailureTemplate,
			wantTmpl: []string{key.PhoneNumberID + " welcome/en_US 132001"}},
		{name: "132015 answered tells the registry", code: 132015, template: true, wantKind: actors.FailureTemplate,
			wantTmpl: []string{key.PhoneNumberID + " welcome/en_US 132015"}},
		{name: "an unknown code is rejected", code: 999001, late: true, wantKind: actors.FailureRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			side := &fakeSendSide{}
			h := newHarness(t, testConfig, func(d *conversation.Deps) { d.Pauser, d.Templates, d.Pricing = side, side, side })
			c := h.must(h.inbound("wamid.1", "hello")).Conversation
			h.must(conversation.Assign{ConversationID: c.ID, AgentID: "ag-1", ByUserID: "sup-1"})
			send := text("out-1", "hi")
			if tt.template {
				send = template("out-1", c.CustomerID, "")
				send.Content = []byte(`{"name":"welcome","language":{"code":"en_US"}}`)
			}
			h.must(send)
			if tt.late {
				_, err := h.store.UpdateMessageStatus(t.Context(), "out-1", actors.StatusSent, "wamid.out", nil, h.clock.Now())
				require.NoError(t, err)
				h.must(conversation.StatusChanged{Update: actors.StatusUpdate{PhoneNumberID: key.PhoneNumberID, RecipientID: key.WaID,
					WaMessageID: "wamid.out", Status: actors.StatusFailed, Timestamp: h.clock.Now(),
					Errors: []actors.WhatsAppError{{Code: tt.code, Title: "title"}}}})
			} else {
				werr := actors.WhatsAppError{Code: tt.code, Title: "title"}.Explained()
				_, err := h.store.UpdateMessageStatus(t.Context(), "out-1", actors.StatusFailed, "", &werr, h.clock.Now())
				require.NoError(t, err)
				h.must(conversation.SendOutcome{MessageID: "out-1", Status: actors.StatusFailed, Error: &werr, WindowClosed: tt.code == 131047})
			}
			m := h.store.message("out-1")
			assert.Equal(t, actors.StatusFailed, m.Status)
			require.NotNil(t, m.Error)
			assert.Equal(t, tt.code, m.Error.Code)
			assert.Equal(t, tt.wantKind, m.Error.Kind)
			assert.NotEmpty(t, m.Error.Reason, "a reason an agent can act on")
			calls, tmpl, _ := side.seen()
			assert.Equal(t, tt.wantCalls, calls)
			assert.Equal(t, tt.wantTmpl, tmpl)
			if tt.wantState != "" {
				assert.Equal(t, tt.wantState, h.store.conversation(c.ID).State)
			} else {
				assert.NotEqual(t, actors.StateExpired, h.store.conversation(c.ID).State, "the window stays open")
			}
			assert.Contains(t, h.store.notificationsOf("ag-1"), actors.NotifyMessageFailed, "the agent is told")
		})
	}
}

// TestPricingRecorded: a status's pricing is recorded for its outbound
// message once, and again only when it changes.
func TestPricingRecorded(t *testing.T) {
	t.Parallel()
	side := &fakeSendSide{}
	h := newHarness(t, testConfig, func(d *conversation.Deps) { d.Pricing = side })
	h.must(h.inbound("wamid.1", "hello"))
	h.must(text("out-1", "hi"))
	_, err := h.store.UpdateMessageStatus(t.Context(), "out-1", actors.StatusSent, "wamid.out", nil, h.clock.Now())
	require.NoError(t, err)
	p := &actors.Pricing{Billable: false, Model: actors.PricingPerMessage, Category: "service", Type: "free_customer_service"}
	for _, st := range []string{actors.StatusSent, actors.StatusDelivered} {
		h.must(conversation.StatusChanged{Update: actors.StatusUpdate{PhoneNumberID: key.PhoneNumberID, RecipientID: key.WaID,
			WaMessageID: "wamid.out", Status: st, Timestamp: h.clock.Now(), Pricing: p}})
	}
	_, _, pricing := side.seen()
	require.NotEmpty(t, pricing)
	assert.Equal(t, "out-1 "+key.PhoneNumberID+" false PMP service free_customer_service", pricing[0])
}
