package sqlitestore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQueryPlansUseIndexes asks SQLite how it runs the exact SQL the store
// sends and fails if a hot query scans a table or sorts what an index could
// deliver in order.
func TestQueryPlansUseIndexes(t *testing.T) {
	s := openTemp(t)
	const from, to = int64(0), int64(1 << 62)
	tests := []struct {
		name  string
		query string
		args  []any
		// wantInPlan are fragments the plan must contain (index names).
		wantInPlan []string
		// sortOK allows a temporary B-tree for ORDER BY, for result sets an
		// index cannot deliver in order (trigram matches).
		sortOK bool
	}{
		{name: "user by email", query: qUserByEmail, args: []any{"a@example.com"},
			wantInPlan: []string{"SEARCH users USING INDEX sqlite_autoindex_users_2 (email=?)"}},
		{name: "user by email skeleton", query: qUserBySkeleton, args: []any{"a@example.com"},
			wantInPlan: []string{"SEARCH users USING INDEX users_email_skeleton (email_skeleton=?)"}},
		{name: "set email skeleton", query: qSetUserSkeleton, args: []any{"a@example.com", "u1"},
			wantInPlan: []string{"sqlite_autoindex_users_1 (id=?)"}},
		{name: "user by id", query: qUserByID, args: []any{"u1"},
			wantInPlan: []string{"SEARCH users USING INDEX sqlite_autoindex_users_1 (id=?)"}},
		{name: "set user phone", query: qSetUserPhone, args: []any{"+919876543210", 1, "u1"},
			wantInPlan: []string{"sqlite_autoindex_users_1 (id=?)"}},
		{name: "set user role", query: qSetUserRole, args: []any{"agent", 1, "u1"},
			wantInPlan: []string{"sqlite_autoindex_users_1 (id=?)"}},
		{name: "set user disabled", query: qSetUserDisabled, args: []any{1, 1, "u1"},
			wantInPlan: []string{"sqlite_autoindex_users_1 (id=?)"}},
		{name: "set user password", query: qSetUserPassword, args: []any{"h", 1, "u1"},
			wantInPlan: []string{"sqlite_autoindex_users_1 (id=?)"}},
		{name: "users of a role", query: qListUsersFor, args: []any{"agent"},
			wantInPlan: []string{"users_role_created (role=?)"}},
		{name: "family by id", query: qFamily, args: []any{"f1"},
			wantInPlan: []string{"sqlite_autoindex_refresh_families_1 (id=?)"}},
		{name: "rotate family", query: qRotateFamily, args: []any{"n", 1, 1, "f1", "o"},
			wantInPlan: []string{"sqlite_autoindex_refresh_families_1 (id=?)"}},
		{name: "revoke user families", query: qRevokeUserFamilies, args: []any{1, "u1"},
			wantInPlan: []string{"refresh_families_user (user_id=?)"}},
		{name: "delete expired families", query: qDeleteExpiredFamilies, args: []any{1},
			wantInPlan: []string{"refresh_families_expires (expires_at<?)"}},
		{name: "customer by phone", query: qCustomerByPhone, args: []any{"+4915110000001"},
			wantInPlan: []string{"SEARCH c USING INDEX sqlite_autoindex_customers_2 (phone=?)"}},
		{name: "customer by id", query: qCustomerByID, args: []any{"c1"},
			wantInPlan: []string{"SEARCH c USING INDEX sqlite_autoindex_customers_1 (id=?)"}},
		{name: "update customer", query: qUpdateCustomer, args: []any{"n", "p", "w", "e", "[]", "{}", 1, "h", "c1", 1},
			wantInPlan: []string{"sqlite_autoindex_customers_1 (id=?)"}},
		{name: "customers by tag", query: qListCustomersByTag, args: []any{"vip", 20, 0},
			wantInPlan: []string{"SEARCH t USING COVERING INDEX customer_tags_tag (tag=?)", "SEARCH c USING INDEX sqlite_autoindex_customers_1 (id=?)"}},
		{name: "count customers by tag", query: qCountCustomersByTag, args: []any{"vip"},
			wantInPlan: []string{"customer_tags_tag (tag=?)"}},
		{name: "customers by search", query: qListCustomersBySearch, args: []any{`"ali"`, 20, 0}, sortOK: true,
			wantInPlan: []string{"VIRTUAL TABLE INDEX", "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)"}},
		{name: "count customers by search", query: qCountCustomersBySearch, args: []any{`"ali"`},
			wantInPlan: []string{"VIRTUAL TABLE INDEX"}},
		{name: "customers by search and tag", query: qListCustomersBySearchTag, args: []any{`"ali"`, "vip", 20, 0}, sortOK: true,
			wantInPlan: []string{"VIRTUAL TABLE INDEX", "SEARCH c USING INTEGER PRIMARY KEY (rowid=?)", "SEARCH t USING PRIMARY KEY (customer_id=? AND tag=?)"}},
		{name: "customers by short search and tag", query: qListCustomersByLikeTag, args: []any{"vip", "%a%", "%a%", "%a%", 20, 0},
			wantInPlan: []string{"customer_tags_tag (tag=?)"}},
		{name: "customers, no filter", query: qListCustomers, args: []any{20, 0},
			wantInPlan: []string{"SCAN c USING INDEX customers_created"}},
		{name: "audit, time range only", query: qListAudit, args: []any{from, to, 20, 0},
			wantInPlan: []string{"SEARCH audit USING INDEX audit_at (at>? AND at<?)"}},
		{name: "count audit", query: qCountAudit, args: []any{from, to},
			wantInPlan: []string{"audit_at (at>? AND at<?)"}},
		{name: "audit by actor", query: qListAuditByActor, args: []any{"u1", from, to, 20, 0},
			wantInPlan: []string{"SEARCH audit USING INDEX audit_actor_at (actor_id=? AND at>? AND at<?)"}},
		{name: "audit by action", query: qListAuditByAction, args: []any{"login", from, to, 20, 0},
			wantInPlan: []string{"SEARCH audit USING INDEX audit_action_at (action=? AND at>? AND at<?)"}},
		{name: "audit by actor and action", query: qListAuditByActorAction, args: []any{"u1", "login", from, to, 20, 0},
			wantInPlan: []string{"audit_actor_at (actor_id=? AND at>? AND at<?)"}},
		{name: "count audit by actor", query: qCountAuditByActor, args: []any{"u1", from, to},
			wantInPlan: []string{"audit_actor_at (actor_id=? AND at>? AND at<?)"}},
		{name: "template by key", query: qTemplate, args: []any{"w", "welcome", "en_US"},
			wantInPlan: []string{"SEARCH templates USING PRIMARY KEY (waba_id=? AND name=? AND language=?)"}},
		{name: "templates of an account, in key order", query: qListTemplates, args: []any{"w", "", "", "", "", 20, 0},
			wantInPlan: []string{"SEARCH templates USING PRIMARY KEY (waba_id=?)"}},
		{name: "templates filtered", query: qListTemplates, args: []any{"w", "PAUSED", "welcome", "en", "UTILITY", 20, 0},
			wantInPlan: []string{"SEARCH templates USING PRIMARY KEY (waba_id=?)"}},
		{name: "count templates", query: qCountTemplates, args: []any{"w", "", "", "", ""},
			wantInPlan: []string{"SEARCH templates USING PRIMARY KEY (waba_id=?)"}},
		{name: "update a template", query: qUpdateTemplate, args: []any{"PAUSED", "", 0, "", 1, "w", "welcome", "en"},
			wantInPlan: []string{"PRIMARY KEY (waba_id=? AND name=? AND language=?)"}},
		{name: "replace an account's templates", query: qDeleteTemplatesOf, args: []any{"w"},
			wantInPlan: []string{"PRIMARY KEY (waba_id=?)"}},
		{name: "media by id", query: qMediaByID, args: []any{"me1"},
			wantInPlan: []string{"SEARCH media USING PRIMARY KEY (id=?)"}},
		{name: "save media", query: qSaveMedia, args: append(make([]any, 15), "me1"),
			wantInPlan: []string{"PRIMARY KEY (id=?)"}},
		{name: "count media by sha256", query: qCountMediaBySHA256, args: []any{"ab"},
			wantInPlan: []string{"SEARCH media USING COVERING INDEX media_sha256 (sha256=?)"}},
		{name: "media by status, oldest first", query: qMediaByStatus, args: []any{"pending", 10},
			wantInPlan: []string{"SEARCH media USING INDEX media_status_updated (status=?)"}},
		{name: "set message media", query: qSetMessageMedia, args: []any{"{}", 1, "m1"},
			wantInPlan: []string{"(id=?)"}},
		// Encryption at rest (sealing.go, reencrypt.go).
		{name: "sealed search window", query: qWindowCustomers, args: []any{SealedSearchWindow},
			wantInPlan: []string{"SCAN c USING INDEX customers_created"}},
		{name: "sealed search window of a tag", query: qWindowCustomersByTag, args: []any{"vip", SealedSearchWindow},
			wantInPlan: []string{"customer_tags_tag (tag=?)"}},
		{name: "customers by e-mail hash", query: qCustomersByEmailHash, args: []any{"h", SealedSearchWindow},
			wantInPlan: []string{"customers_email_hash (email_hash=?)"}},
		{name: "reencrypt customers batch", query: qReencCustomers, args: []any{"", 500},
			wantInPlan: []string{"(id>?)"}},
		{name: "reseal a customer", query: qResealCustomer, args: []any{"n", "e", "{}", "h", "c1", "n", "e", "{}"},
			wantInPlan: []string{"(id=?)"}},
		{name: "reencrypt messages batch", query: qReencMessages, args: []any{"", 500},
			wantInPlan: []string{"(id>?)"}},
		{name: "reseal a message", query: qResealMessage, args: []any{"t", nil, nil, "m1", "t", nil, nil},
			wantInPlan: []string{"(id=?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := s.QueryPlan(t.Context(), tt.query, tt.args...)
			require.NoError(t, err)
			for _, line := range strings.Split(plan, "\n") {
				if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, "VIRTUAL TABLE INDEX") {
					walksCreated := tt.name == "customers, no filter" || tt.name == "sealed search window"
					assert.True(t, walksCreated && strings.Contains(line, "USING INDEX customers_created"),
						"full scan in plan:\n%s", plan)
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
