package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// RunCallStatistics is the contract suite of CallStore.CallStatistics,
// against one seeded store whose numbers were counted by hand (see
// statsSeed). Beyond the doc comments in package actors it pins down:
//
//   - Answered calls are completed with DurationSec > 0; TalkSec sums their
//     talk time only (a busy call carrying a duration adds nothing), so
//     MeanTalkSec is TalkSec/Answered. P90TalkSec is the ceil(0.9n)-th
//     smallest talk time of the n answered calls; 0 without any.
//   - Live calls (queued, ringing, in-progress) count in Total and in
//     AnswerRate's denominator.
//   - A day is a local calendar day of the Location (UTC when nil), 23 or 25
//     hours long across a DST change; selection is by the instants [From,
//     To) only, so a day cut by From or To counts only its calls inside.
//   - Groups exist only for keys with calls; Groups is empty, not nil,
//     without any. ByStatus always has every status of actors.CallStatuses.
//   - An unknown GroupBy is an error; From not before To selects nothing.
func RunCallStatistics(t *testing.T, open func(t *testing.T) actors.CallStore) {
	s := open(t)
	ctx := t.Context()
	for _, c := range statsSeed(t) {
		require.NoError(t, s.CreateCall(ctx, c), "seed %s", c.ID)
	}
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	newYork, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)

	from, to := statsAt(t, "2025-03-08T00:00:00Z"), statsAt(t, "2025-03-11T00:00:00Z")
	q := func(groupBy string, loc *time.Location, agent string) actors.CallStatsQuery {
		return actors.CallStatsQuery{From: from, To: to, AgentID: agent, GroupBy: groupBy, Location: loc}
	}
	// The rows every query of the whole range shares.
	totals := statsRow("", 22, 12, 2175, 181.25, 420, 12.0/22, "completed", 13, "busy", 2, "no-answer", 2,
		"failed", 1, "canceled", 1, "in-progress", 1, "ringing", 1, "queued", 1)
	agentA2 := statsRow("a2", 6, 3, 345, 115, 300, 0.5, "busy", 1, "completed", 3, "failed", 1, "ringing", 1)
	agentA3 := statsRow("a3", 6, 1, 90, 90, 90, 1.0/6, "completed", 2, "canceled", 1, "in-progress", 1, "busy", 1, "no-answer", 1)
	edges := actors.CallStatsQuery{From: statsAt(t, "2025-03-08T18:30:00Z"), To: statsAt(t, "2025-03-09T05:00:00Z")}
	edgesBy := func(groupBy string, loc *time.Location) actors.CallStatsQuery {
		e := edges
		e.GroupBy, e.Location = groupBy, loc
		return e
	}
	edgeTotals := statsRow("", 4, 1, 300, 300, 300, 0.25, "busy", 1, "completed", 2, "no-answer", 1)

	tests := []struct {
		name   string
		q      actors.CallStatsQuery
		totals actors.CallStatsRow
		groups []actors.CallStatsRow
	}{
		{name: "totals only", q: q("", nil, ""), totals: totals},
		{name: "by agent", q: q("agent", nil, ""), totals: totals, groups: []actors.CallStatsRow{
			statsRow("a1", 10, 8, 1740, 217.5, 600, 0.8, "completed", 8, "no-answer", 1, "queued", 1),
			agentA2,
			agentA3,
		}},
		{name: "by day in UTC (nil location)", q: q("day", nil, ""), totals: totals, groups: []actors.CallStatsRow{
			statsRow("2025-03-08", 6, 4, 720, 180, 300, 4.0/6, "completed", 4, "busy", 1, "no-answer", 1),
			statsRow("2025-03-09", 7, 3, 240, 80, 180, 3.0/7, "no-answer", 1, "completed", 4, "failed", 1, "canceled", 1),
			statsRow("2025-03-10", 9, 5, 1215, 243, 600, 5.0/9, "completed", 5, "in-progress", 1, "ringing", 1, "queued", 1, "busy", 1),
		}},
		{name: "by day in UTC (explicit)", q: q("day", time.UTC, ""), totals: totals, groups: []actors.CallStatsRow{
			statsRow("2025-03-08", 6, 4, 720, 180, 300, 4.0/6, "completed", 4, "busy", 1, "no-answer", 1),
			statsRow("2025-03-09", 7, 3, 240, 80, 180, 3.0/7, "no-answer", 1, "completed", 4, "failed", 1, "canceled", 1),
			statsRow("2025-03-10", 9, 5, 1215, 243, 600, 5.0/9, "completed", 5, "in-progress", 1, "ringing", 1, "queued", 1, "busy", 1),
		}},
		{name: "by day in Asia/Kolkata (+05:30)", q: q("day", kolkata, ""), totals: totals, groups: []actors.CallStatsRow{
			statsRow("2025-03-08", 4, 3, 420, 140, 240, 0.75, "completed", 3, "no-answer", 1),
			statsRow("2025-03-09", 8, 4, 540, 135, 300, 0.5, "busy", 1, "completed", 5, "no-answer", 1, "failed", 1),
			statsRow("2025-03-10", 8, 4, 1125, 281.25, 600, 0.5, "canceled", 1, "completed", 4, "in-progress", 1, "ringing", 1, "busy", 1),
			statsRow("2025-03-11", 2, 1, 90, 90, 90, 0.5, "queued", 1, "completed", 1),
		}},
		{name: "by day in America/New_York across the DST change", q: q("day", newYork, ""), totals: totals, groups: []actors.CallStatsRow{
			statsRow("2025-03-07", 1, 0, 0, 0, 0, 0, "no-answer", 1),
			statsRow("2025-03-08", 7, 4, 720, 180, 300, 4.0/7, "completed", 5, "busy", 1, "no-answer", 1),
			statsRow("2025-03-09", 6, 4, 840, 210, 600, 4.0/6, "completed", 4, "failed", 1, "canceled", 1),
			statsRow("2025-03-10", 8, 4, 615, 153.75, 420, 0.5, "completed", 4, "in-progress", 1, "ringing", 1, "queued", 1, "busy", 1),
		}},
		{name: "one agent by day in Asia/Kolkata", q: q("day", kolkata, "a2"), totals: statsRowKey("", agentA2), groups: []actors.CallStatsRow{
			statsRow("2025-03-09", 4, 2, 315, 157.5, 300, 0.5, "busy", 1, "completed", 2, "failed", 1),
			statsRow("2025-03-10", 2, 1, 30, 30, 30, 0.5, "completed", 1, "ringing", 1),
		}},
		{name: "one agent by agent", q: q("agent", nil, "a2"), totals: statsRowKey("", agentA2), groups: []actors.CallStatsRow{agentA2}},
		{name: "one agent, totals only", q: q("", nil, "a3"), totals: statsRowKey("", agentA3)},
		{name: "an agent without calls", q: q("day", nil, "a9"), totals: statsRow("", 0, 0, 0, 0, 0, 0)},
		{name: "[From, To) edges", q: edges, totals: edgeTotals},
		{name: "[From, To) edges by day in UTC", q: edgesBy("day", nil), totals: edgeTotals, groups: []actors.CallStatsRow{
			statsRow("2025-03-08", 2, 1, 300, 300, 300, 0.5, "busy", 1, "completed", 1),
			statsRow("2025-03-09", 2, 0, 0, 0, 0, 0, "no-answer", 1, "completed", 1),
		}},
		{name: "[From, To) edges by day in New York: the cut day counts only its calls inside", q: edgesBy("day", newYork),
			totals: edgeTotals, groups: []actors.CallStatsRow{statsRowKey("2025-03-08", edgeTotals)}},
		{name: "a range without calls", q: actors.CallStatsQuery{From: statsAt(t, "2024-01-01T00:00:00Z"), To: statsAt(t, "2025-01-01T00:00:00Z"), GroupBy: "day"},
			totals: statsRow("", 0, 0, 0, 0, 0, 0)},
		{name: "From equal to To", q: actors.CallStatsQuery{From: from, To: from, GroupBy: "agent"}, totals: statsRow("", 0, 0, 0, 0, 0, 0)},
		{name: "From after To", q: actors.CallStatsQuery{From: to, To: from}, totals: statsRow("", 0, 0, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CallStatistics(ctx, tt.q)
			require.NoError(t, err)
			assertStatsRow(t, tt.totals, got.Totals, "totals")
			require.NotNil(t, got.Groups, "groups are empty, not nil")
			require.Equal(t, statsKeys(tt.groups), statsKeys(got.Groups), "group keys, sorted")
			for i := range tt.groups {
				assertStatsRow(t, tt.groups[i], got.Groups[i], "group "+tt.groups[i].Key)
			}
		})
	}

	t.Run("unknown grouping", func(t *testing.T) {
		_, err := s.CallStatistics(ctx, q("week", nil, ""))
		require.Error(t, err)
	})
}

// statsSeed is the hand-counted data set. Each call's day in UTC, in
// Asia/Kolkata (UTC+05:30) and in America/New_York (EST UTC-5 until
// 2025-03-09T07:00Z, EDT UTC-4 after) is beside it. Answered calls
// (completed, talk > 0) and their talk times:
//
//	a1: c01 60, c02 120, c07 45, c10 600, c16 240, c17 180, c19 75, c21 420
//	a2: c04 300, c11 30, c18 15
//	a3: c15 90
//
// x1 and x2 lie just outside [2025-03-08T00:00Z, 2025-03-11T00:00Z).
func statsSeed(t *testing.T) []actors.Call {
	seed := []struct {
		id, agent, status string
		talk              int
		started           string // UTC day / Kolkata day / New York day
	}{
		{"x1", "a1", actors.CallCompleted, 999, "2025-03-07T23:59:59.999Z"},  // outside (KOL 08, NY 07)
		{"c22", "a3", actors.CallNoAnswer, 0, "2025-03-08T02:00:00Z"},        // 08 / 08 07:30 / 07 21:00 EST
		{"c01", "a1", actors.CallCompleted, 60, "2025-03-08T10:00:00Z"},      // 08 / 08 / 08 05:00
		{"c16", "a1", actors.CallCompleted, 240, "2025-03-08T12:00:00Z"},     // 08 / 08 / 08
		{"c02", "a1", actors.CallCompleted, 120, "2025-03-08T18:29:59.999Z"}, // 08 / 08 23:59:59.999 / 08
		{"c03", "a2", actors.CallBusy, 7, "2025-03-08T18:30:00Z"},            // 08 / 09 00:00 / 08; busy: its 7s are no talk
		{"c04", "a2", actors.CallCompleted, 300, "2025-03-08T23:30:00Z"},     // 08 / 09 / 08 18:30
		{"c05", "a1", actors.CallNoAnswer, 0, "2025-03-09T00:30:00Z"},        // 09 / 09 / 08 19:30
		{"c06", "a3", actors.CallCompleted, 0, "2025-03-09T04:59:59.999Z"},   // 09 / 09 / 08 23:59:59.999 EST; not answered
		{"c07", "a1", actors.CallCompleted, 45, "2025-03-09T05:00:00Z"},      // 09 / 09 / 09 00:00 EST
		{"c08", "a2", actors.CallFailed, 0, "2025-03-09T07:30:00Z"},          // 09 / 09 / 09 03:30 EDT
		{"c17", "a1", actors.CallCompleted, 180, "2025-03-09T12:00:00Z"},     // 09 / 09 17:30 / 09
		{"c18", "a2", actors.CallCompleted, 15, "2025-03-09T13:00:00Z"},      // 09 / 09 18:30 / 09
		{"c09", "a3", actors.CallCanceled, 0, "2025-03-09T20:00:00Z"},        // 09 / 10 01:30 / 09
		{"c10", "a1", actors.CallCompleted, 600, "2025-03-10T03:59:59.999Z"}, // 10 / 10 / 09 23:59:59.999 EDT
		{"c11", "a2", actors.CallCompleted, 30, "2025-03-10T04:00:00Z"},      // 10 / 10 / 10 00:00 EDT (23:00 the 9th at a fixed -5)
		{"c19", "a1", actors.CallCompleted, 75, "2025-03-10T08:00:00Z"},      // 10 / 10 / 10
		{"c20", "a3", actors.CallBusy, 0, "2025-03-10T09:00:00Z"},            // 10 / 10 / 10
		{"c21", "a1", actors.CallCompleted, 420, "2025-03-10T10:00:00Z"},     // 10 / 10 / 10
		{"c12", "a3", actors.CallInProgress, 0, "2025-03-10T12:00:00Z"},      // 10 / 10 / 10; live
		{"c13", "a2", actors.CallRinging, 0, "2025-03-10T18:29:59.999Z"},     // 10 / 10 23:59:59.999 / 10; live
		{"c14", "a1", actors.CallQueued, 0, "2025-03-10T18:30:00Z"},          // 10 / 11 00:00 / 10; live
		{"c15", "a3", actors.CallCompleted, 90, "2025-03-10T23:59:59.999Z"},  // 10 / 11 / 10
		{"x2", "a2", actors.CallCompleted, 999, "2025-03-11T00:00:00Z"},      // outside: To (NY 10)
	}
	out := make([]actors.Call, 0, len(seed))
	for _, c := range seed {
		started := statsAt(t, c.started)
		call := closedCall(c.id, c.agent, "cu-"+c.agent, started)
		call.Status, call.DurationSec = c.status, c.talk
		switch c.status {
		case actors.CallQueued:
			call.State = actors.StateNew
		case actors.CallRinging, actors.CallInProgress:
			call.State = actors.StateActive
		}
		out = append(out, call)
	}
	return out
}

func statsAt(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return at
}

// statsRow is an expected row; counts are status, n pairs, every other
// status counting 0.
func statsRow(key string, total, answered int, talk int64, mean float64, p90 int, rate float64, counts ...any) actors.CallStatsRow {
	r := actors.CallStatsRow{Key: key, Total: total, Answered: answered, TalkSec: talk, MeanTalkSec: mean,
		P90TalkSec: p90, AnswerRate: rate, ByStatus: map[string]int{}}
	for _, st := range actors.CallStatuses {
		r.ByStatus[st] = 0
	}
	for i := 0; i+1 < len(counts); i += 2 {
		r.ByStatus[counts[i].(string)] = counts[i+1].(int)
	}
	return r
}

// statsRowKey is r under another key.
func statsRowKey(key string, r actors.CallStatsRow) actors.CallStatsRow {
	r.Key = key
	return r
}

func statsKeys(rs []actors.CallStatsRow) []string {
	return idsOf(rs, func(r actors.CallStatsRow) string { return r.Key })
}

func assertStatsRow(t *testing.T, want, got actors.CallStatsRow, what string) {
	t.Helper()
	sum := 0
	for _, n := range want.ByStatus {
		sum += n
	}
	require.Equal(t, want.Total, sum, "%s: the expected counts add up", what)
	assert.Equal(t, want.Key, got.Key, "%s: key", what)
	assert.Equal(t, want.Total, got.Total, "%s: total", what)
	assert.Equal(t, want.ByStatus, got.ByStatus, "%s: by status", what)
	assert.Equal(t, want.Answered, got.Answered, "%s: answered", what)
	assert.Equal(t, want.TalkSec, got.TalkSec, "%s: talk", what)
	assert.Equal(t, want.P90TalkSec, got.P90TalkSec, "%s: p90", what)
	assert.InDelta(t, want.MeanTalkSec, got.MeanTalkSec, 1e-9, "%s: mean", what)
	assert.InDelta(t, want.AnswerRate, got.AnswerRate, 1e-9, "%s: answer rate", what)
}
