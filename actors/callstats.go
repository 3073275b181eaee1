package actors

import "time"

// CallStatsDay is one day of a CallStatsQuery grouped by day: its key
// (YYYY-MM-DD in the query's Location) and the instants [From, To) it
// covers, clipped to the query's [From, To).
type CallStatsDay struct {
	Key  string
	From time.Time
	To   time.Time
}

// StatsLocation is q.Location, or UTC when nil.
func (q CallStatsQuery) StatsLocation() *time.Location {
	if q.Location == nil {
		return time.UTC
	}
	return q.Location
}

// DayOf returns the day of q that holds t: from its local midnight to the
// next one in q's Location, clipped to [q.From, q.To). Across a DST change a
// day lasts 23 or 25 hours; where a zone skips midnight, the day starts at
// its first instant. The stores group calls by these boundaries, so no
// store needs time-zone functions of its own.
func (q CallStatsQuery) DayOf(t time.Time) CallStatsDay {
	loc := q.StatsLocation()
	local := t.In(loc)
	y, m, d := local.Date()
	day := CallStatsDay{Key: local.Format(time.DateOnly), From: startOfDay(y, m, d, loc), To: startOfDay(y, m, d+1, loc)}
	if day.From.Before(q.From) {
		day.From = q.From
	}
	if day.To.After(q.To) {
		day.To = q.To
	}
	return day
}

// startOfDay is the first instant of the local day y-m-d in loc (d may be
// out of range; time.Date normalises it).
func startOfDay(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	want := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // the normalised date
	if t.Year() != want.Year() || t.YearDay() != want.YearDay() {
		// Midnight does not exist that day (the clocks jump from 23:59:59 to
		// 01:00): time.Date answered an instant of the day before, which
		// ends at the transition, the day's first instant.
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end
		}
	}
	return t
}

// NewCallStatsRow is the row of key with no calls: every status of
// CallStatuses counted 0.
func NewCallStatsRow(key string) CallStatsRow {
	r := CallStatsRow{Key: key, ByStatus: make(map[string]int, len(CallStatuses))}
	for _, st := range CallStatuses {
		r.ByStatus[st] = 0
	}
	return r
}

// Add counts n calls of status, answered of them answered with talkSec of
// talk time between them. Call Finish after the last Add.
func (r *CallStatsRow) Add(status string, n, answered int, talkSec int64) {
	r.ByStatus[status] += n
	r.Total += n
	r.Answered += answered
	r.TalkSec += talkSec
}

// Finish derives AnswerRate and MeanTalkSec from the counts (0 without
// calls, resp. without answered calls).
func (r *CallStatsRow) Finish() {
	r.AnswerRate, r.MeanTalkSec = 0, 0
	if r.Total > 0 {
		r.AnswerRate = float64(r.Answered) / float64(r.Total)
	}
	if r.Answered > 0 {
		r.MeanTalkSec = float64(r.TalkSec) / float64(r.Answered)
	}
}
