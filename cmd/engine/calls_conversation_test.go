package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// conversationCalls lists GET /api/whatsapp/conversations/{id}/calls as
// token's user; query is added as is ("" for none).
func (l *live) conversationCalls(token, convID, query string) (int, map[string]any) {
	l.t.Helper()
	path := "/api/whatsapp/conversations/" + convID + "/calls"
	if query != "" {
		path += "?" + query
	}
	return l.api("GET", path, token, nil)
}

// callsPageOf returns a calls page's items and nextCursor.
func callsPageOf(t *testing.T, body map[string]any) ([]map[string]any, string) {
	t.Helper()
	data, ok := body["data"].(map[string]any)
	require.True(t, ok, "a data object: %v", body)
	var items []map[string]any
	for _, it := range data["items"].([]any) {
		items = append(items, it.(map[string]any))
	}
	return items, data["nextCursor"].(string)
}

// TestConversationTimelineListsItsCalls: the calls an agent starts from a
// conversation are listed on that conversation (newest first, final
// status, cursor paged), not the customer's call started without it; the
// agent's socket gets call.updated frames naming the conversation; an
// agent the conversation is not assigned to gets 404, as on the
// conversation itself.
func TestConversationTimelineListsItsCalls(t *testing.T) {
	t.Parallel()
	l := startLive(t, callConfig(t))
	sb := l.exotel()
	agentID, agent := l.caller(actors.RoleAgent)
	_, otherAgent := l.caller(actors.RoleAgent)
	_, sup := l.caller(actors.RoleSupervisor)
	ws := l.socket(agent)
	require.Eventually(t, func() bool { return ws.has("hello", agentID) }, 5*time.Second, 10*time.Millisecond)

	wa := strings.TrimPrefix(indianMobile(t, "0001"), "+")
	conv := l.customerWrites(wa)
	st, body := l.api("POST", "/api/whatsapp/conversations/"+conv.ID+"/assign", l.admin(), map[string]any{"agentId": agentID})
	require.Equal(t, 200, st, body)

	// Two calls from the conversation with one without it between them,
	// one at a time (one live call per agent).
	first := l.initiate(agent, map[string]any{"customerId": conv.CustomerID, "conversationId": conv.ID})
	l.callSettles(agent, first["id"].(string), actors.CallCompleted, 15*time.Second)
	plain := l.initiate(agent, map[string]any{"customerId": conv.CustomerID})
	assert.Nil(t, plain["conversationId"])
	l.callSettles(agent, plain["id"].(string), actors.CallCompleted, 15*time.Second)
	second := l.initiate(agent, map[string]any{"customerId": conv.CustomerID, "conversationId": conv.ID})
	l.callSettles(agent, second["id"].(string), actors.CallCompleted, 15*time.Second)
	require.Len(t, sb.CallsTo("+"+wa), 3)

	st, body = l.conversationCalls(agent, conv.ID, "")
	require.Equal(t, 200, st, body)
	items, next := callsPageOf(t, body)
	require.Len(t, items, 2, "the conversation's calls only: %v", items)
	assert.Empty(t, next)
	for i, want := range []map[string]any{second, first} {
		assert.Equal(t, want["id"], items[i]["id"], "newest first")
		assert.Equal(t, conv.ID, items[i]["conversationId"])
		assert.Equal(t, conv.CustomerID, items[i]["customerId"])
		assert.Equal(t, agentID, items[i]["agentId"])
		assert.Equal(t, actors.CallCompleted, items[i]["status"], "the final status")
		assert.Equal(t, actors.StateClosed, items[i]["state"])
		assert.Greater(t, items[i]["durationSec"], 0.0)
		assert.NotEmpty(t, items[i]["exotelSid"])
	}

	// Cursor paged.
	st, body = l.conversationCalls(agent, conv.ID, "limit=1")
	require.Equal(t, 200, st, body)
	page, next := callsPageOf(t, body)
	require.Len(t, page, 1)
	assert.Equal(t, second["id"], page[0]["id"])
	require.NotEmpty(t, next)
	st, body = l.conversationCalls(agent, conv.ID, "limit=1&cursor="+url.QueryEscape(next))
	require.Equal(t, 200, st, body)
	page, next = callsPageOf(t, body)
	require.Len(t, page, 1)
	assert.Equal(t, first["id"], page[0]["id"])
	assert.Empty(t, next, "the last page")
	st, body = l.conversationCalls(agent, conv.ID, "cursor=not-ours")
	assert.Equal(t, 400, st, body)
	assert.Equal(t, "VALIDATION_ERROR", body["code"])
	assert.Contains(t, fmt.Sprint(body["errors"]), "INVALID_CURSOR")

	// Visibility as the conversation's: another agent gets 404 (here and on
	// the conversation), a supervisor sees the calls, an unknown
	// conversation is 404.
	st, body = l.conversationCalls(otherAgent, conv.ID, "")
	assert.Equal(t, 404, st, body)
	assert.Equal(t, "NOT_FOUND", body["code"])
	st, _ = l.api("GET", "/api/whatsapp/conversations/"+conv.ID, otherAgent, nil)
	assert.Equal(t, 404, st, "the conversation route agrees")
	st, body = l.conversationCalls(sup, conv.ID, "")
	require.Equal(t, 200, st, body)
	items, _ = callsPageOf(t, body)
	assert.Len(t, items, 2)
	st, body = l.conversationCalls(agent, "no-such-conversation", "")
	assert.Equal(t, 404, st, body)

	// The agent's socket: every transition of a conversation's call names
	// the conversation; the call without one names none.
	convRef := `"conversationId":"` + conv.ID + `"`
	for _, c := range []map[string]any{first, second} {
		id := `"id":"` + c["id"].(string) + `"`
		require.Eventually(t, func() bool { return ws.hasAll("call.updated", id, convRef, `"status":"completed"`) },
			5*time.Second, 20*time.Millisecond, "the terminal call.updated of %s names the conversation", c["id"])
		assert.True(t, ws.hasAll("call.updated", id, convRef, `"status":"queued"`), "and the first one")
	}
	plainID := `"id":"` + plain["id"].(string) + `"`
	require.Eventually(t, func() bool { return ws.hasAll("call.updated", plainID, `"status":"completed"`) },
		5*time.Second, 20*time.Millisecond)
	assert.False(t, ws.hasAll("call.updated", plainID, convRef), "a call without a conversation names none")
}
