package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func audit(id, actorID, action string, at time.Time) actors.AuditRecord {
	return actors.AuditRecord{
		ID:        id,
		ActorID:   actorID,
		Action:    action,
		Resource:  "customer/" + id,
		Outcome:   actors.OutcomeSuccess,
		IP:        "203.0.113.7",
		UserAgent: "storetest/1.0",
		RequestID: "req-" + id,
		Detail:    "detail of " + id,
		At:        at,
	}
}

// auditSeed is newest first a5, a4 (same At as a5, smaller id), a3, a2, a1.
func auditSeed() []actors.AuditRecord {
	s := time.Second
	return []actors.AuditRecord{
		audit("a1", "u1", "login", base),
		audit("a2", "u1", "customer.update", base.Add(1*s)),
		audit("a3", "u2", "login", base.Add(2*s)),
		audit("a4", "u2", "customer.delete", base.Add(3*s)),
		audit("a5", "u1", "login", base.Add(3*s)),
	}
}

func auditIDs(recs []actors.AuditRecord) []string {
	return idsOf(recs, func(x actors.AuditRecord) string { return x.ID })
}

func runAudit(t *testing.T, open func(t *testing.T) actors.Store) {
	runCases(t, open, []storeCase{
		{name: "append batch then list newest first", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			seed := auditSeed()
			require.NoError(t, s.AppendAudit(ctx, seed))
			got, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Equal(t, 5, total)
			assert.Equal(t, []actors.AuditRecord{seed[4], seed[3], seed[2], seed[1], seed[0]}, got)
		}},
		{name: "appending stored ids again stores them once and keeps the first", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			seed := auditSeed()
			require.NoError(t, s.AppendAudit(ctx, seed[:3]))

			changed := seed[1]
			changed.Detail = "retried with other detail"
			retry := []actors.AuditRecord{changed, seed[2], seed[3], seed[4]}
			require.NoError(t, s.AppendAudit(ctx, retry), "a retried batch with new records")
			want := []actors.AuditRecord{seed[4], seed[3], seed[2], seed[1], seed[0]}
			got, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Equal(t, 5, total)
			assert.Equal(t, want, got, "the stored a2 keeps its first detail")

			again := append([]actors.AuditRecord(nil), seed...)
			for i := range again {
				again[i].Detail = "third attempt"
			}
			require.NoError(t, s.AppendAudit(ctx, again), "the whole batch again")
			got, total, err = s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Equal(t, 5, total)
			assert.Equal(t, want, got)
		}},
		{name: "duplicate ids inside one batch store once", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			r := audit("a1", "u1", "login", base)
			require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{r, r}))
			_, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Equal(t, 1, total)
		}},
		{name: "empty batch and empty log", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			require.NoError(t, s.AppendAudit(ctx, nil))
			got, total, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			assert.Empty(t, got)
			assert.Equal(t, 0, total)
		}},
		{name: "times come back in UTC at millisecond precision", check: func(t *testing.T, ctx context.Context, s actors.Store) {
			at := time.Date(2025, 6, 1, 23, 30, 0, 456_789_000, time.FixedZone("IST", 5*60*60+30*60))
			require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{audit("a1", "u1", "login", at)}))
			got, _, err := s.ListAudit(ctx, actors.AuditFilter{Page: 1, Limit: 10})
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, time.UTC, got[0].At.Location())
			assert.Equal(t, at.UTC().Truncate(time.Millisecond), got[0].At)
		}},
	})

	t.Run("filters and pages", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		seed := auditSeed()
		require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{seed[3], seed[0]}))
		require.NoError(t, s.AppendAudit(ctx, []actors.AuditRecord{seed[4], seed[2], seed[1]}))

		sec := time.Second
		tests := []struct {
			name      string
			filter    actors.AuditFilter
			wantIDs   []string
			wantTotal int
		}{
			{name: "no filter", filter: actors.AuditFilter{Page: 1, Limit: 10}, wantIDs: []string{"a5", "a4", "a3", "a2", "a1"}, wantTotal: 5},
			{name: "actor", filter: actors.AuditFilter{ActorID: "u1", Page: 1, Limit: 10}, wantIDs: []string{"a5", "a2", "a1"}, wantTotal: 3},
			{name: "action", filter: actors.AuditFilter{Action: "login", Page: 1, Limit: 10}, wantIDs: []string{"a5", "a3", "a1"}, wantTotal: 3},
			{name: "actor and action", filter: actors.AuditFilter{ActorID: "u1", Action: "login", Page: 1, Limit: 10}, wantIDs: []string{"a5", "a1"}, wantTotal: 2},
			{name: "from is inclusive", filter: actors.AuditFilter{From: base.Add(2 * sec), Page: 1, Limit: 10}, wantIDs: []string{"a5", "a4", "a3"}, wantTotal: 3},
			{name: "to is exclusive", filter: actors.AuditFilter{To: base.Add(2 * sec), Page: 1, Limit: 10}, wantIDs: []string{"a2", "a1"}, wantTotal: 2},
			{name: "from and to", filter: actors.AuditFilter{From: base.Add(sec), To: base.Add(3 * sec), Page: 1, Limit: 10}, wantIDs: []string{"a3", "a2"}, wantTotal: 2},
			{name: "actor and time range", filter: actors.AuditFilter{ActorID: "u2", From: base.Add(3 * sec), Page: 1, Limit: 10}, wantIDs: []string{"a4"}, wantTotal: 1},
			{name: "from in another zone", filter: actors.AuditFilter{From: base.Add(3 * sec).In(time.FixedZone("X", 7200)), Page: 1, Limit: 10}, wantIDs: []string{"a5", "a4"}, wantTotal: 2},
			{name: "first page", filter: actors.AuditFilter{Page: 1, Limit: 2}, wantIDs: []string{"a5", "a4"}, wantTotal: 5},
			{name: "second page", filter: actors.AuditFilter{Page: 2, Limit: 2}, wantIDs: []string{"a3", "a2"}, wantTotal: 5},
			{name: "last partial page", filter: actors.AuditFilter{Page: 3, Limit: 2}, wantIDs: []string{"a1"}, wantTotal: 5},
			{name: "past the end", filter: actors.AuditFilter{Page: 9, Limit: 2}, wantIDs: []string{}, wantTotal: 5},
			{name: "filtered second page", filter: actors.AuditFilter{ActorID: "u1", Page: 2, Limit: 2}, wantIDs: []string{"a1"}, wantTotal: 3},
			{name: "unknown actor", filter: actors.AuditFilter{ActorID: "nobody", Page: 1, Limit: 10}, wantIDs: []string{}, wantTotal: 0},
			{name: "empty range", filter: actors.AuditFilter{From: base.Add(sec), To: base.Add(sec), Page: 1, Limit: 10}, wantIDs: []string{}, wantTotal: 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := s.ListAudit(ctx, tt.filter)
				require.NoError(t, err)
				assert.Equal(t, tt.wantIDs, auditIDs(got))
				assert.Equal(t, tt.wantTotal, total)
			})
		}
	})
}

// ------------------------------------------------------------ lifecycle
