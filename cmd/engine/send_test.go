package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// template sends a welcome template to to (a number or a customer id) from
// the business number phoneNumberID ("" for the default).
func (l *live) template(token, to, phoneNumberID string) (int, map[string]any) {
	l.t.Helper()
	body := map[string]any{"to": to, "template": map[string]any{"name": "welcome", "language": "en_US"}}
	if phoneNumberID != "" {
		body["phoneNumberId"] = phoneNumberID
	}
	return l.api("POST", "/api/whatsapp/messages/template", token, body)
}

// sendFrom is send from the business number phoneNumberID.
func (l *live) sendFrom(token, to, phoneNumberID, text string) (int, map[string]any) {
	l.t.Helper()
	return l.api("POST", "/api/whatsapp/messages", token, map[string]any{"to": to, "type": "text", "phoneNumberId": phoneNumberID,
		"text": map[string]string{"body": text}})
}

// TestAgentsTemplateOpensAConversationTheyCanOpen: an agent's template to a
// number nobody talks to opens a conversation assigned to that agent, so the
// agent can open it (an agent sees only their own); a supervisor's template
// opens one for auto-assignment, as before.
func TestAgentsTemplateOpensAConversationTheyCanOpen(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	agentID, agentTok := l.user(actors.RoleAgent)
	_, supTok := l.user(actors.RoleSupervisor)

	st, body := l.template(agentTok, "+919811150000", "")
	require.Equal(t, http.StatusAccepted, st, body)
	convID := body["data"].(map[string]any)["message"].(map[string]any)["conversationId"].(string)

	st, body = l.api("GET", "/api/whatsapp/conversations/"+convID, agentTok, nil)
	require.Equal(t, http.StatusOK, st, "the agent can open the conversation their template started: %v", body)
	conv := body["data"].(map[string]any)["conversation"].(map[string]any)
	assert.Equal(t, agentID, conv["assigneeId"])
	assert.Equal(t, actors.StateNew, conv["state"])
	st, body = l.api("GET", "/api/whatsapp/conversations?assignee=me", agentTok, nil)
	require.Equal(t, http.StatusOK, st, body)
	assert.EqualValues(t, 1, body["data"].(map[string]any)["total"])
	st, body = l.api("GET", "/api/whatsapp/conversations/"+convID+"/messages", agentTok, nil)
	require.Equal(t, http.StatusOK, st, body)
	require.Len(t, body["data"].(map[string]any)["items"].([]any), 1)

	// The agent's next template goes to the same conversation, and the
	// assigner counts it as the agent's.
	st, body = l.template(agentTok, "+919811150000", "")
	require.Equal(t, http.StatusAccepted, st, body)
	assert.Equal(t, convID, body["data"].(map[string]any)["message"].(map[string]any)["conversationId"])
	require.Eventually(t, func() bool {
		st, body := l.api("GET", "/api/agents", supTok, nil)
		if st != http.StatusOK {
			return false
		}
		for _, it := range body["data"].(map[string]any)["items"].([]any) {
			if a := it.(map[string]any); a["id"] == agentID {
				return a["openConversations"] == 1.0
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "the agent's open conversation is counted")

	// A supervisor's template opens an unassigned conversation (no agent is
	// online to take it), which the agent does not see.
	st, body = l.template(supTok, "+919811160000", "")
	require.Equal(t, http.StatusAccepted, st, body)
	other := body["data"].(map[string]any)["message"].(map[string]any)["conversationId"].(string)
	st, body = l.api("GET", "/api/whatsapp/conversations/"+other, supTok, nil)
	require.Equal(t, http.StatusOK, st, body)
	assert.Nil(t, body["data"].(map[string]any)["conversation"].(map[string]any)["assigneeId"])
	st, _ = l.api("GET", "/api/whatsapp/conversations/"+other, agentTok, nil)
	assert.Equal(t, http.StatusNotFound, st)
	// Nor may the agent write to it.
	st, body = l.template(agentTok, "+919811160000", "")
	assert.Equal(t, http.StatusNotFound, st, body)
}

// TestClosedConversationBlocksOnlyItsBusinessNumber: a conversation closed on
// one business number refuses free-form sends on that number only.
func TestClosedConversationBlocksOnlyItsBusinessNumber(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	admin := l.admin()
	numberA, numberB := l.cfg.WhatsAppPhoneNumberID, "100000000000002"
	wa := "919811140000"

	// Open on A, then closed.
	c := l.customerWrites(wa)
	st, body := l.api("POST", "/api/whatsapp/conversations/"+c.ID+"/close", admin, nil)
	require.Equal(t, http.StatusOK, st, body)

	tests := []struct {
		name   string
		number string
		// wantStatus and wantCode are the free-form send's answer.
		wantStatus int
		wantCode   string
	}{
		{name: "closed on A: A refuses as closed", number: numberA, wantStatus: http.StatusConflict, wantCode: "CONVERSATION_CLOSED"},
		{name: "nothing on B: B refuses as outside the window", number: numberB, wantStatus: http.StatusUnprocessableEntity,
			wantCode: "OUTSIDE_SERVICE_WINDOW"},
	}
	for _, tt := range tests {
		st, body := l.sendFrom(admin, "+"+wa, tt.number, "hello")
		assert.Equal(t, tt.wantStatus, st, "%s: %v", tt.name, body)
		assert.Equal(t, tt.wantCode, body["code"], tt.name)
	}

	// The customer writes to B: B takes free-form sends, A still does not.
	require.Equal(t, http.StatusOK, l.webhook(textBody(numberB, wa, "wamid.b."+wa, "hi on B", time.Now()), ""))
	onB := l.conversationOf(numberB, wa)
	st, body = l.sendFrom(admin, "+"+wa, numberB, "hello on B")
	require.Equal(t, http.StatusAccepted, st, "open on B, closed on A: B accepts: %v", body)
	assert.Equal(t, onB.ID, body["data"].(map[string]any)["message"].(map[string]any)["conversationId"])
	st, body = l.sendFrom(admin, "+"+wa, numberA, "hello on A")
	assert.Equal(t, http.StatusConflict, st, body)
	assert.Equal(t, "CONVERSATION_CLOSED", body["code"])
}
