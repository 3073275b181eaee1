package sqlitestore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallQueryPlansUseIndexes asks SQLite how it runs the exact SQL of the
// call store and fails if one reads the calls or call_events table other
// than through the index it is written for. The statistics queries read
// their range from a covering index (never the table); their GROUP BY and
// window sorts are over the selected calls only.
func TestCallQueryPlansUseIndexes(t *testing.T) {
	s := openTemp(t)
	const days = `[{"k":"2025-03-08","lo":1,"hi":2},{"k":"2025-03-09","lo":2,"hi":3}]`
	saveArgs := append(make([]any, 26), "k1", 1)
	tests := []struct {
		name  string
		query string
		args  []any
		// wantInPlan are fragments the plan must contain.
		wantInPlan []string
		// sortOK allows a temporary B-tree (the statistics' grouping).
		sortOK bool
	}{
		{name: "call by id", query: qCallByID, args: []any{"k1"},
			wantInPlan: []string{"SEARCH calls USING PRIMARY KEY (id=?)"}},
		{name: "save call", query: qSaveCall, args: saveArgs,
			wantInPlan: []string{"PRIMARY KEY (id=?)"}},
		{name: "call by exotel sid", query: qCallByExotelSid, args: []any{"sid"},
			wantInPlan: []string{"SEARCH calls USING INDEX calls_exotel_sid (exotel_sid=?)"}},
		{name: "live calls", query: qLiveCalls,
			wantInPlan: []string{"SCAN calls USING INDEX calls_live_started"}},
		{name: "live call of agent", query: qLiveCallOfAgent, args: []any{"a1"},
			wantInPlan: []string{"SEARCH calls USING INDEX calls_live_agent (agent_id=?)"}},
		{name: "other live call of agent", query: qLiveCallIDOfAgent, args: []any{"a1", "k1"},
			wantInPlan: []string{"SEARCH calls USING INDEX calls_live_agent (agent_id=?)"}},
		{name: "calls of customer, first page", query: qCallsOfCustomer, args: []any{"cu1", 20},
			wantInPlan: []string{"SEARCH calls USING INDEX calls_customer_started (customer_id=?)"}},
		{name: "calls of customer, after a cursor", query: qCallsOfCustomerAfter, args: []any{"cu1", 1, "k1", 20},
			wantInPlan: []string{"SEARCH calls USING INDEX calls_customer_started (customer_id=? AND (started_at,id)<(?,?))"}},
		{name: "calls of conversation, first page", query: qCallsOfConversation, args: []any{"cv1", 20},
			wantInPlan: []string{"SEARCH calls USING INDEX calls_conversation_started (conversation_id=?)"}},
		{name: "calls of conversation, after a cursor", query: qCallsOfConversationAfter, args: []any{"cv1", 1, "k1", 20},
			wantInPlan: []string{"SEARCH calls USING INDEX calls_conversation_started (conversation_id=? AND (started_at,id)<(?,?))"}},
		{name: "mark call event applied", query: qMarkCallEventApplied, args: []any{1, "e1"},
			wantInPlan: []string{"SEARCH call_events USING PRIMARY KEY (id=?)"}},
		{name: "unapplied call events", query: qUnappliedCallEvents, args: []any{10},
			wantInPlan: []string{"SCAN call_events USING INDEX call_events_unapplied"}},
		{name: "statistics span", query: qCallStatsSpan, args: []any{1, 2, 1, 2},
			wantInPlan: []string{"SEARCH calls USING COVERING INDEX calls_started (started_at>? AND started_at<?)"}},
		{name: "statistics span of an agent", query: qCallStatsSpanAgent, args: []any{"a1", 1, 2, "a1", 1, 2},
			wantInPlan: []string{"SEARCH calls USING COVERING INDEX calls_agent_started (agent_id=? AND started_at>? AND started_at<?)"}},
		{name: "statistics totals", query: qCallStatsTotals, args: []any{1, 2}, sortOK: true,
			wantInPlan: []string{"SEARCH calls USING COVERING INDEX calls_started (started_at>? AND started_at<?)"}},
		{name: "statistics totals of an agent", query: qCallStatsTotalsAgent, args: []any{"a1", 1, 2}, sortOK: true,
			wantInPlan: []string{"SEARCH calls USING COVERING INDEX calls_agent_started (agent_id=? AND started_at>? AND started_at<?)"}},
		{name: "statistics by agent", query: qCallStatsByAgent, args: []any{1, 2}, sortOK: true,
			wantInPlan: []string{"SEARCH calls USING COVERING INDEX calls_started (started_at>? AND started_at<?)"}},
		{name: "statistics of one agent", query: qCallStatsOfAgent, args: []any{"a1", 1, 2}, sortOK: true,
			wantInPlan: []string{"SEARCH calls USING COVERING INDEX calls_agent_started (agent_id=? AND started_at>? AND started_at<?)"}},
		{name: "statistics by day: a range search per day", query: qCallStatsByDay, args: []any{days}, sortOK: true,
			wantInPlan: []string{"SCAN d VIRTUAL TABLE", "SEARCH c USING COVERING INDEX calls_started (started_at>? AND started_at<?)"}},
		{name: "statistics of one agent by day", query: qCallStatsByDayAgent, args: []any{days, "a1"}, sortOK: true,
			wantInPlan: []string{"SCAN d VIRTUAL TABLE", "SEARCH c USING COVERING INDEX calls_agent_started (agent_id=? AND started_at>? AND started_at<?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := s.QueryPlan(t.Context(), tt.query, tt.args...)
			require.NoError(t, err)
			for _, line := range strings.Split(plan, "\n") {
				for _, table := range []string{"SCAN calls", "SCAN c ", "SCAN call_events"} {
					if strings.HasPrefix(line+" ", table) {
						assert.Contains(t, line, "USING INDEX", "table scan in plan:\n%s", plan)
					}
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
