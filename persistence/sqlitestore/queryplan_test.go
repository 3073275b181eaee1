package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// QueryPlan returns the lines of EXPLAIN QUERY PLAN for query on the main
// database, joined with newlines, so the plan tests can check which
// indexes a query uses.
func (s *Store) QueryPlan(ctx context.Context, query string, args ...any) (string, error) {
	return queryPlan(ctx, s.r, query, args...)
}

// inboxQueryPlan is QueryPlan on the inbox database, which serves the inbox
// queries.
func (s *Store) inboxQueryPlan(ctx context.Context, query string, args ...any) (string, error) {
	return queryPlan(ctx, s.ir, query, args...)
}

func queryPlan(ctx context.Context, db *sql.DB, query string, args ...any) (string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", fmt.Errorf("explain query plan: %w", mapErr(err))
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			return "", fmt.Errorf("explain query plan: %w", err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("explain query plan: %w", mapErr(err))
	}
	return strings.Join(lines, "\n"), nil
}
