package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/wacc/engine/actors"
)

// Call statistics are one SQL query per call: the selection (sel: the
// calls of [From, To), or of one agent, with their group key k), then the
// counts per group and status (cnt) and the p90 of each group's answered
// talk times by nearest rank (the ceil(0.9*n)-th smallest, ceil(9n/10)
// being (9n+9)/10 in integers) from a row_number() window. The totals are
// the same groups over every selected call (g = 0), unioned with the
// per-key ones (g = 1).
//
// Days are not computed in SQL: SQLite knows no time zones. The store asks
// for the first and last StartedAt of the range (statsSpan), cuts that span
// into the days of the query's Location in Go (actors.CallStatsQuery.DayOf,
// DST-correct), and hands them over as one JSON array; SQL walks the days
// and, for each, reads its calls from calls_started (or
// calls_agent_started) by range, so no per-row time arithmetic happens and
// days without calls cost nothing but an index probe.
const (
	statsAnswered = `status = 'completed' AND duration_sec > 0`

	statsWith     = `WITH sel AS (`
	statsGroupsOf = `),
		grp AS (SELECT 1 AS g, k, status, duration_sec FROM sel
			UNION ALL SELECT 0, '', status, duration_sec FROM sel)`
	statsTotalsOf = `),
		grp AS (SELECT 0 AS g, k, status, duration_sec FROM sel)`
	statsTail = `,
		ans AS (SELECT g, k, duration_sec,
				row_number() OVER (PARTITION BY g, k ORDER BY duration_sec) AS rn,
				count(*) OVER (PARTITION BY g, k) AS n
			FROM grp WHERE ` + statsAnswered + `),
		p90 AS (SELECT g, k, duration_sec FROM ans WHERE rn = (9 * n + 9) / 10),
		cnt AS (SELECT g, k, status, count(*) AS n,
				sum(CASE WHEN ` + statsAnswered + ` THEN 1 ELSE 0 END) AS answered,
				sum(CASE WHEN ` + statsAnswered + ` THEN duration_sec ELSE 0 END) AS talk
			FROM grp GROUP BY g, k, status)
		SELECT cnt.g, cnt.k, cnt.status, cnt.n, cnt.answered, cnt.talk, coalesce(p90.duration_sec, 0)
		FROM cnt LEFT JOIN p90 ON p90.g = cnt.g AND p90.k = cnt.k`

	// Selections. Arguments: [agent,] from, to; by day: days JSON [, agent].
	selAll       = `SELECT '' AS k, status, duration_sec FROM calls INDEXED BY calls_started WHERE started_at >= ? AND started_at < ?`
	selAllAgent  = `SELECT '' AS k, status, duration_sec FROM calls INDEXED BY calls_agent_started WHERE agent_id = ? AND started_at >= ? AND started_at < ?`
	selAgents    = `SELECT agent_id AS k, status, duration_sec FROM calls INDEXED BY calls_started WHERE started_at >= ? AND started_at < ?`
	selAgentsOne = `SELECT agent_id AS k, status, duration_sec FROM calls INDEXED BY calls_agent_started WHERE agent_id = ? AND started_at >= ? AND started_at < ?`
	selDays      = `SELECT json_extract(d.value, '$.k') AS k, c.status, c.duration_sec
		FROM json_each(?) AS d CROSS JOIN calls AS c INDEXED BY calls_started
		WHERE c.started_at >= json_extract(d.value, '$.lo') AND c.started_at < json_extract(d.value, '$.hi')`
	selDaysAgent = `SELECT json_extract(d.value, '$.k') AS k, c.status, c.duration_sec
		FROM json_each(?) AS d CROSS JOIN calls AS c INDEXED BY calls_agent_started
		WHERE c.agent_id = ? AND c.started_at >= json_extract(d.value, '$.lo') AND c.started_at < json_extract(d.value, '$.hi')`

	qCallStatsTotals      = statsWith + selAll + statsTotalsOf + statsTail
	qCallStatsTotalsAgent = statsWith + selAllAgent + statsTotalsOf + statsTail
	qCallStatsByAgent     = statsWith + selAgents + statsGroupsOf + statsTail
	qCallStatsOfAgent     = statsWith + selAgentsOne + statsGroupsOf + statsTail
	qCallStatsByDay       = statsWith + selDays + statsGroupsOf + statsTail
	qCallStatsByDayAgent  = statsWith + selDaysAgent + statsGroupsOf + statsTail

	// The first and last StartedAt of the range: two index probes.
	qCallStatsSpan = `SELECT
		(SELECT min(started_at) FROM calls WHERE started_at >= ? AND started_at < ?),
		(SELECT max(started_at) FROM calls WHERE started_at >= ? AND started_at < ?)`
	qCallStatsSpanAgent = `SELECT
		(SELECT min(started_at) FROM calls WHERE agent_id = ? AND started_at >= ? AND started_at < ?),
		(SELECT max(started_at) FROM calls WHERE agent_id = ? AND started_at >= ? AND started_at < ?)`
)

// statsDay is one day of a by-day query, as SQL reads it from JSON.
type statsDay struct {
	Key string `json:"k"`
	Lo  int64  `json:"lo"`
	Hi  int64  `json:"hi"`
}

// CallStatistics counts the calls with StartedAt in [q.From, q.To) (of
// q.AgentID when set) in one read transaction: counts by status, answered
// calls, talk time and its mean and p90 over answered calls, for the
// totals and for each agent or day (q.GroupBy), groups sorted by key.
func (s *Store) CallStatistics(ctx context.Context, q actors.CallStatsQuery) (actors.CallStats, error) {
	const op = "call statistics"
	stats := actors.CallStats{Totals: actors.NewCallStatsRow(""), Groups: []actors.CallStatsRow{}}
	if q.GroupBy != "" && q.GroupBy != "agent" && q.GroupBy != "day" {
		return actors.CallStats{}, fmt.Errorf("%s: unknown grouping %q (want agent, day or none)", op, q.GroupBy)
	}
	if !q.From.Before(q.To) {
		return stats, nil
	}
	from, to := millis(q.From), millis(q.To)
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var query string
		var args []any
		switch {
		case q.GroupBy == "day":
			days, err := statsDays(ctx, tx, q)
			if err != nil || len(days) == 0 {
				return err
			}
			js, err := json.Marshal(days)
			if err != nil {
				return err
			}
			query, args = qCallStatsByDay, []any{string(js)}
			if q.AgentID != "" {
				query, args = qCallStatsByDayAgent, append(args, q.AgentID)
			}
		case q.GroupBy == "agent" && q.AgentID != "":
			query, args = qCallStatsOfAgent, []any{q.AgentID, from, to}
		case q.GroupBy == "agent":
			query, args = qCallStatsByAgent, []any{from, to}
		case q.AgentID != "":
			query, args = qCallStatsTotalsAgent, []any{q.AgentID, from, to}
		default:
			query, args = qCallStatsTotals, []any{from, to}
		}
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return mapErr(err)
		}
		return collectStats(rows, &stats)
	})
	if err != nil {
		return actors.CallStats{}, fmt.Errorf("%s: %w", op, err)
	}
	return stats, nil
}

// statsDays are the days of q (in its Location) from the first to the last
// call of the range; none when the range has no call.
func statsDays(ctx context.Context, tx *sql.Tx, q actors.CallStatsQuery) ([]statsDay, error) {
	from, to := millis(q.From), millis(q.To)
	var first, last sql.NullInt64
	var err error
	if q.AgentID == "" {
		err = tx.QueryRowContext(ctx, qCallStatsSpan, from, to, from, to).Scan(&first, &last)
	} else {
		err = tx.QueryRowContext(ctx, qCallStatsSpanAgent, q.AgentID, from, to, q.AgentID, from, to).Scan(&first, &last)
	}
	if err != nil || !first.Valid || !last.Valid {
		return nil, mapErr(err)
	}
	var days []statsDay
	for d := q.DayOf(fromMillis(first.Int64)); ; d = q.DayOf(d.To) {
		days = append(days, statsDay{Key: d.Key, Lo: millis(d.From), Hi: millis(d.To)})
		if millis(d.To) > last.Int64 {
			return days, nil
		}
	}
}

// collectStats reads the rows of a statistics query into stats: g 0 rows
// are the totals, g 1 rows the groups.
func collectStats(rows *sql.Rows, stats *actors.CallStats) error {
	defer rows.Close()
	groups := map[string]*actors.CallStatsRow{}
	for rows.Next() {
		var g, n, answered, p90 int
		var key, status string
		var talk int64
		if err := rows.Scan(&g, &key, &status, &n, &answered, &talk, &p90); err != nil {
			return mapErr(err)
		}
		row := &stats.Totals
		if g == 1 {
			if row = groups[key]; row == nil {
				r := actors.NewCallStatsRow(key)
				row, groups[key] = &r, &r
			}
		}
		row.Add(status, n, answered, talk)
		row.P90TalkSec = p90
	}
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	stats.Totals.Finish()
	for _, r := range groups {
		r.Finish()
		stats.Groups = append(stats.Groups, *r)
	}
	sort.Slice(stats.Groups, func(i, j int) bool { return stats.Groups[i].Key < stats.Groups[j].Key })
	return nil
}
