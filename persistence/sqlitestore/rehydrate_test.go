package sqlitestore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenConversationsSincePlans checks that both pages of
// OpenConversationsSince walk conversations_updated in order, bounded by the
// cut-off (and the cursor), without a scan or a sort.
func TestOpenConversationsSincePlans(t *testing.T) {
	s := openTemp(t)
	tests := []struct {
		name       string
		query      string
		args       []any
		wantInPlan string
	}{
		{name: "first page", query: qOpenSince, args: []any{int64(1), 100},
			wantInPlan: "SEARCH conversations USING INDEX conversations_updated (updated_at>?)"},
		{name: "next page", query: qOpenSinceAfter, args: []any{int64(1), int64(2), "c1", 100},
			wantInPlan: "SEARCH conversations USING INDEX conversations_updated (updated_at>? AND (updated_at,id)<(?,?))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := s.QueryPlan(t.Context(), tt.query, tt.args...)
			require.NoError(t, err)
			assert.Contains(t, plan, tt.wantInPlan)
			assert.NotContains(t, plan, "TEMP B-TREE", "sort instead of an ordered index walk")
			for _, line := range strings.Split(plan, "\n") {
				assert.False(t, strings.HasPrefix(line, "SCAN "), "full scan in plan:\n%s", plan)
			}
		})
	}
}
