package sqlitestore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConversationQueryPlansUseIndexes asks SQLite how it runs the exact SQL
// of the conversation, message, inbox and notification methods and fails
// if one scans a table it should search, or sorts what an index could
// deliver in order.
func TestConversationQueryPlansUseIndexes(t *testing.T) {
	s := openTemp(t)
	const states = `["new","active"]`
	tests := []struct {
		name  string
		query string
		args  []any
		// wantInPlan are fragments the plan must contain (index names).
		wantInPlan []string
		// scanOK names the one index a full (ordered) walk may use: an
		// unfiltered list or count reads everything anyway.
		scanOK string
		// sortOK allows a temporary B-tree, for result sets no single index
		// delivers in order (several states; all of one assignee's
		// conversations; grouping open conversations by assignee).
		sortOK bool
		// inbox runs the query on the inbox database, which serves it.
		inbox bool
	}{
		{name: "open conversation", query: qOpenConversation, args: []any{"pn1", "4915"},
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_open_pair (phone_number_id=? AND wa_id=?)"}},
		{name: "conversation by id", query: qConversation, args: []any{"c1"},
			wantInPlan: []string{"sqlite_autoindex_conversations_1 (id=?)"}},
		{name: "save conversation", query: qSaveConversation,
			args:       []any{"cu", "pn", "wa", "new", "", nil, nil, nil, nil, nil, 0, 0, 1, 1, nil, 2, "c1", 1},
			wantInPlan: []string{"sqlite_autoindex_conversations_1 (id=?)"}},
		{name: "save conversation, message columns only", query: qSaveConversationHot,
			args:       []any{nil, nil, nil, nil, nil, 0, 0, 1, 2, "c1", 1, "cu", "pn", "wa", "new", "", 1, nil},
			wantInPlan: []string{"sqlite_autoindex_conversations_1 (id=?)"}},
		{name: "conversations, no filter", query: qListConversations, args: []any{20, 0},
			wantInPlan: []string{"SCAN conversations USING INDEX conversations_updated"}, scanOK: "conversations_updated"},
		{name: "count conversations", query: qCountConversations,
			wantInPlan: []string{"COVERING INDEX"}, scanOK: "COVERING INDEX"},
		{name: "conversations of one state", query: qListConversationsByState, args: []any{"new", 20, 0},
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_state (state=?)"}},
		{name: "count of one state", query: qCountConversationsByState, args: []any{"new"},
			wantInPlan: []string{"SEARCH conversations USING COVERING INDEX conversations_state (state=?)"}},
		{name: "conversations of several states", query: qListConversationsByStates, args: []any{states, 20, 0}, sortOK: true,
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_state (state=?)"}},
		{name: "count of several states", query: qCountConversationsByStates, args: []any{states},
			wantInPlan: []string{"SEARCH conversations USING COVERING INDEX conversations_state (state=?)"}},
		{name: "conversations of an assignee", query: qListConversationsByAssignee, args: []any{"a1", 20, 0}, sortOK: true,
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_assignee (assignee_id=?)"}},
		{name: "count of an assignee", query: qCountConversationsByAssignee, args: []any{"a1"},
			wantInPlan: []string{"SEARCH conversations USING COVERING INDEX conversations_assignee (assignee_id=?)"}},
		{name: "conversations of an assignee in one state", query: qListConversationsByAssigneeState, args: []any{"a1", "active", 20, 0},
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_assignee (assignee_id=? AND state=?)"}},
		{name: "count of an assignee in one state", query: qCountConversationsByAssigneeState, args: []any{"a1", "active"},
			wantInPlan: []string{"SEARCH conversations USING COVERING INDEX conversations_assignee (assignee_id=? AND state=?)"}},
		{name: "conversations of an assignee in several states", query: qListConversationsByAssigneeStates, args: []any{"", states, 20, 0}, sortOK: true,
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_assignee (assignee_id=? AND state=?)"}},
		{name: "count of an assignee in several states", query: qCountConversationsByAssigneeStates, args: []any{"", states},
			wantInPlan: []string{"SEARCH conversations USING COVERING INDEX conversations_assignee (assignee_id=? AND state=?)"}},
		{name: "conversations of a customer", query: qListConversationsByCustomer, args: []any{"cu1", 1, states, 1, "a1", "pn1", "pn1", 20, 0},
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_customer (customer_id=?)"}},
		{name: "count of a customer", query: qCountConversationsByCustomer, args: []any{"cu1", 0, "", 0, "", "", ""},
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_customer (customer_id=?)"}},
		{name: "conversations of a business number", query: qListConversationsByNumber, args: []any{"pn1", 1, states, 0, "", 20, 0},
			wantInPlan: []string{"SCAN conversations USING INDEX conversations_updated"}, scanOK: "conversations_updated"},
		{name: "count of a business number", query: qCountConversationsByNumber, args: []any{"pn1", 0, "", 0, ""},
			wantInPlan: []string{"SCAN conversations"}, scanOK: "SCAN conversations"},
		{name: "due conversations", query: qDueConversations, args: []any{int64(1) << 50, 100},
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_next_timer (next_timer_at>? AND next_timer_at<?)"}},
		{name: "epoch of a key", query: qEpochOf, args: []any{"pn1", "4915"},
			wantInPlan: []string{"SEARCH conversation_epochs USING PRIMARY KEY (phone_number_id=? AND wa_id=?)"}},
		{name: "next timer", query: qNextTimer,
			wantInPlan: []string{"SEARCH conversations USING INDEX conversations_next_timer (next_timer_at>?)"}},
		{name: "count open by assignee", query: qCountOpenByAssignee, sortOK: true,
			wantInPlan: []string{"SEARCH conversations USING COVERING INDEX conversations_state (state=?)"}},
		{name: "message by wamid", query: qMessageByWaID, args: []any{"wamid.x"},
			wantInPlan: []string{"SEARCH messages USING INDEX messages_wamid (wa_message_id=?)"}},
		{name: "update message status", query: qUpdateMessageStatus, args: []any{"sent", nil, "w", "w", 1, "m1", 2},
			wantInPlan: []string{"sqlite_autoindex_messages_1 (id=?)"}},
		{name: "newest messages", query: qListMessages, args: []any{"c1", 51},
			wantInPlan: []string{"SEARCH messages USING INDEX messages_conversation (conversation_id=?)"}},
		{name: "messages before a cursor", query: qListMessagesBefore, args: []any{"c1", 1, "m1", 51},
			wantInPlan: []string{"SEARCH messages USING INDEX messages_conversation (conversation_id=? AND (created_at,id)<(?,?))"}},
		{name: "pending statuses in order", query: qPendingStatuses, args: []any{"wamid.x"},
			wantInPlan: []string{"SEARCH pending_statuses USING INDEX pending_statuses_order (wa_message_id=?)"}},
		{name: "take pending statuses", query: qTakePendingStatuses, args: []any{"wamid.x"},
			wantInPlan: []string{"pending_statuses_order (wa_message_id=?)"}},
		{name: "pending inbox", query: qPendingInbox, args: []any{100}, inbox: true,
			wantInPlan: []string{"SCAN inbox USING INDEX sqlite_autoindex_inbox_1"}, scanOK: "sqlite_autoindex_inbox_1"},
		{name: "inbox done", query: qDeleteInbox, args: []any{`["i1","i2"]`}, inbox: true,
			wantInPlan: []string{"SEARCH inbox USING COVERING INDEX sqlite_autoindex_inbox_1 (id=?)"}},
		{name: "inbox attempt", query: qRecordInboxAttempt, args: []any{"i1"}, inbox: true,
			wantInPlan: []string{"sqlite_autoindex_inbox_1 (id=?)"}},
		{name: "notifications of a user", query: qListNotifications, args: []any{"u1", 20, 0},
			wantInPlan: []string{"SEARCH notifications USING INDEX notifications_user (user_id=?)"}},
		{name: "count notifications of a user", query: qCountNotifications, args: []any{"u1"},
			wantInPlan: []string{"SEARCH notifications USING COVERING INDEX notifications_user (user_id=?)"}},
		{name: "unread notifications", query: qListUnreadNotifications, args: []any{"u1", 20, 0},
			wantInPlan: []string{"SEARCH notifications USING INDEX notifications_unread (user_id=?)"}},
		{name: "count unread notifications", query: qCountUnreadNotifications, args: []any{"u1"},
			wantInPlan: []string{"notifications_unread (user_id=?)"}},
		{name: "mark selected notifications read", query: qMarkNotificationsRead, args: []any{1, "u1", `["n1"]`},
			wantInPlan: []string{"SEARCH notifications USING INDEX sqlite_autoindex_notifications_1 (id=?)"}},
		{name: "mark all notifications read", query: qMarkAllNotificationsRead, args: []any{1, "u1"},
			wantInPlan: []string{"SEARCH notifications USING INDEX notifications_unread (user_id=?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			explain := s.QueryPlan
			if tt.inbox {
				explain = s.inboxQueryPlan // the inbox database serves these
			}
			plan, err := explain(t.Context(), tt.query, tt.args...)
			require.NoError(t, err)
			for _, line := range strings.Split(plan, "\n") {
				if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, "VIRTUAL TABLE INDEX") {
					assert.True(t, tt.scanOK != "" && strings.Contains(line, tt.scanOK), "full scan in plan:\n%s", plan)
				}
				if !tt.sortOK {
					assert.NotContains(t, line, "TEMP B-TREE", "sort instead of an ordered index walk:\n%s", plan)
				}
			}
			for _, want := range tt.wantInPlan {
				assert.Contains(t, plan, want, "plan:\n%s", plan)
			}
		})
	}
}
