package mongostore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

// Call statistics use only what FerretDB v1.24 runs: two aggregations of
// $match (the range on startedAt, and agentId) and $group with $sum, one
// counting calls by agent, status and the derived field answered, one
// summing the derived talkSec of answered calls by agent (see callDoc), per
// query or per day; and, for each group with answered calls, the p90 as one
// find sorted by talkSec, skipping to the nearest rank. None ever brings
// calls into Go: the aggregations return a few documents per agent, the
// find one call.
//
// FerretDB has no time zone in its date operators, nor $bucket, $cond or
// percentiles, so days are cut in Go (actors.CallStatsQuery.DayOf,
// DST-correct): the first call at or after the start of the range (a find
// sorted on startedAt, limit 1) names its day, that day is aggregated, and
// the walk continues from the day's end; days without calls cost nothing.

// statsCount is one document of the counting aggregation: the calls of an
// agent in a status, answered (1) or not (0).
type statsCount struct {
	ID struct {
		Agent    string `bson:"a"`
		Status   string `bson:"s"`
		Answered int32  `bson:"ans"`
	} `bson:"_id"`
	N int64 `bson:"n"`
}

// statsTalk is one document of the talk-time aggregation: an agent's
// answered calls' talk time.
type statsTalk struct {
	Agent string `bson:"_id"`
	Talk  int64  `bson:"talk"`
}

// CallStatistics counts the calls with StartedAt in [q.From, q.To) (of
// q.AgentID when set): counts by status, answered calls, talk time and its
// mean and p90 over answered calls, for the totals and for each agent or
// day (q.GroupBy), groups sorted by key. It is several reads, not one
// snapshot: a call saved meanwhile may be counted before its save by one
// read and after it by another.
func (s *Store) CallStatistics(ctx context.Context, q actors.CallStatsQuery) (actors.CallStats, error) {
	const op = "call statistics"
	stats := actors.CallStats{Totals: actors.NewCallStatsRow(""), Groups: []actors.CallStatsRow{}}
	if q.GroupBy != "" && q.GroupBy != "agent" && q.GroupBy != "day" {
		return actors.CallStats{}, fmt.Errorf("%s: unknown grouping %q (want agent, day or none)", op, q.GroupBy)
	}
	if !q.From.Before(q.To) {
		return stats, nil
	}
	var err error
	switch q.GroupBy {
	case "agent":
		stats.Groups, err = s.statsByAgent(ctx, q)
	case "day":
		stats.Groups, err = s.statsByDay(ctx, q)
	default:
		err = s.statsRow(ctx, statsFilter(q, q.From, q.To), &stats.Totals)
	}
	if err != nil {
		return actors.CallStats{}, classify(op, err)
	}
	if q.GroupBy != "" {
		// Every selected call is in exactly one group.
		for _, g := range stats.Groups {
			for status, n := range g.ByStatus {
				stats.Totals.ByStatus[status] += n
			}
			stats.Totals.Total += g.Total
			stats.Totals.Answered += g.Answered
			stats.Totals.TalkSec += g.TalkSec
		}
		if stats.Totals.P90TalkSec, err = s.p90(ctx, statsFilter(q, q.From, q.To), stats.Totals.Answered); err != nil {
			return actors.CallStats{}, classify(op, err)
		}
	}
	stats.Totals.Finish()
	return stats, nil
}

// statsFilter selects the calls of q started in [from, to).
func statsFilter(q actors.CallStatsQuery, from, to time.Time) bson.D {
	f := bson.D{}
	if q.AgentID != "" {
		f = append(f, bson.E{Key: "agentId", Value: q.AgentID})
	}
	return append(f, bson.E{Key: "startedAt", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lt", Value: to}}})
}

// statsCounts counts the calls filter selects per agent into rows (by
// agent id, created as needed): by status and answered with one
// aggregation, their talk time with another. Each $group has a single
// accumulator: FerretDB v1.24 feeds the documents of a group to the first
// accumulator only (they share one iterator), so a second one would sum
// nothing.
func (s *Store) statsCounts(ctx context.Context, filter bson.D, rows func(agent string) *actors.CallStatsRow) error {
	var counts []statsCount
	err := s.aggregate(ctx, &counts,
		bson.D{{Key: "$match", Value: filter}},
		bson.D{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: bson.D{{Key: "a", Value: "$agentId"}, {Key: "s", Value: "$status"}, {Key: "ans", Value: "$answered"}}},
			{Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}})
	if err != nil {
		return err
	}
	var talks []statsTalk
	err = s.aggregate(ctx, &talks,
		bson.D{{Key: "$match", Value: append(filter[:len(filter):len(filter)], bson.E{Key: "answered", Value: 1})}},
		bson.D{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: "$agentId"},
			{Key: "talk", Value: bson.D{{Key: "$sum", Value: "$talkSec"}}},
		}}})
	if err != nil {
		return err
	}
	for _, c := range counts {
		answered := 0
		if c.ID.Answered == 1 {
			answered = int(c.N)
		}
		rows(c.ID.Agent).Add(c.ID.Status, int(c.N), answered, 0)
	}
	for _, t := range talks {
		rows(t.Agent).TalkSec += t.Talk
	}
	return nil
}

// aggregate runs the pipeline on calls and decodes every result into out.
func (s *Store) aggregate(ctx context.Context, out any, stages ...bson.D) error {
	cur, err := s.calls.Aggregate(ctx, mongo.Pipeline(stages))
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}

// statsRow fills row with the counts and p90 of the calls filter selects
// and finishes it.
func (s *Store) statsRow(ctx context.Context, filter bson.D, row *actors.CallStatsRow) error {
	if err := s.statsCounts(ctx, filter, func(string) *actors.CallStatsRow { return row }); err != nil {
		return err
	}
	var err error
	if row.P90TalkSec, err = s.p90(ctx, filter, row.Answered); err != nil {
		return err
	}
	row.Finish()
	return nil
}

// statsByAgent is one row per agent with calls in q, sorted by agent id.
func (s *Store) statsByAgent(ctx context.Context, q actors.CallStatsQuery) ([]actors.CallStatsRow, error) {
	rows := map[string]*actors.CallStatsRow{}
	err := s.statsCounts(ctx, statsFilter(q, q.From, q.To), func(agent string) *actors.CallStatsRow {
		if rows[agent] == nil {
			r := actors.NewCallStatsRow(agent)
			rows[agent] = &r
		}
		return rows[agent]
	})
	if err != nil {
		return nil, err
	}
	out := make([]actors.CallStatsRow, 0, len(rows))
	for agent, r := range rows {
		var err error
		aq := q
		aq.AgentID = agent
		if r.P90TalkSec, err = s.p90(ctx, statsFilter(aq, q.From, q.To), r.Answered); err != nil {
			return nil, err
		}
		r.Finish()
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// statsByDay is one row per day of q's Location with calls in q, in order.
func (s *Store) statsByDay(ctx context.Context, q actors.CallStatsQuery) ([]actors.CallStatsRow, error) {
	out := []actors.CallStatsRow{}
	for lo := q.From; lo.Before(q.To); {
		first, err := findOne[struct {
			StartedAt time.Time `bson:"startedAt"`
		}](ctx, s.calls, statsFilter(q, lo, q.To),
			options.Find().SetSort(bson.D{{Key: "startedAt", Value: 1}}).SetProjection(bson.D{{Key: "startedAt", Value: 1}}))
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return nil, err
		}
		day := q.DayOf(first.StartedAt)
		row := actors.NewCallStatsRow(day.Key)
		if err := s.statsRow(ctx, statsFilter(q, day.From, day.To), &row); err != nil {
			return nil, fmt.Errorf("day %s: %w", day.Key, err)
		}
		if row.Total > 0 {
			out = append(out, row)
		}
		lo = day.To
	}
	return out, nil
}

// p90 is the talk time of nearest rank 90 among the n answered calls filter
// selects: the ceil(0.9n)-th smallest, read as the (n-ceil(0.9n)+1)-th
// largest so the sort keeps at most a tenth of them; 0 when n is 0 (or
// when calls changed since they were counted and fewer remain).
func (s *Store) p90(ctx context.Context, filter bson.D, n int) (int, error) {
	if n < 1 {
		return 0, nil
	}
	rank := (9*n + 9) / 10
	f := append(filter[:len(filter):len(filter)], bson.E{Key: "answered", Value: 1})
	d, err := findOne[struct {
		TalkSec int64 `bson:"talkSec"`
	}](ctx, s.calls, f, options.Find().
		SetSort(bson.D{{Key: "talkSec", Value: -1}}).
		SetSkip(int64(n-rank)).
		SetProjection(bson.D{{Key: "talkSec", Value: 1}}))
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return int(d.TalkSec), nil
}
