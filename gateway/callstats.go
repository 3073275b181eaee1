package gateway

import (
	"net/http"
	"time"

	"github.com/wacc/engine/actors"
)

// maxStatsRange is the longest period one statistics request covers.
const maxStatsRange = 400 * 24 * time.Hour

// callStatsResponse is GET /api/calls/statistics: the totals of the calls
// started in [from, to), and the same counts per agent and per day (a day
// in tz), or only the grouping groupBy names.
type callStatsResponse struct {
	From    time.Time             `json:"from"`
	To      time.Time             `json:"to"`
	TZ      string                `json:"tz"`
	AgentID *string               `json:"agentId"`
	Totals  actors.CallStatsRow   `json:"totals"`
	ByAgent []actors.CallStatsRow `json:"byAgent,omitempty"`
	ByDay   []actors.CallStatsRow `json:"byDay,omitempty"`
}

func (s *Server) handleCallStatistics(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "from", "to", "agentId", "groupBy", "tz")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	ve := &validationError{}
	loc := time.UTC
	tz := "UTC"
	if v := q.get("tz"); v != "" {
		l, err := time.LoadLocation(v)
		if err != nil || len(v) > 64 || v == "Local" {
			ve.add("tz", "INVALID_TIMEZONE", "must be an IANA time zone name such as Asia/Kolkata")
		} else {
			loc, tz = l, v
		}
	}
	groupBy := q.get("groupBy")
	if groupBy != "" && groupBy != "agent" && groupBy != "day" {
		ve.add("groupBy", "INVALID_VALUE", "must be agent or day")
	}
	agentID := q.get("agentId")
	if len(agentID) > 64 {
		ve.add("agentId", "INVALID", "is not a user id")
	}
	now := s.now().UTC()
	to, toOK := statsBound(ve, q, "to", loc, true)
	if !toOK {
		to = now
	}
	from, fromOK := statsBound(ve, q, "from", loc, false)
	if !fromOK {
		from = to.Add(-7 * 24 * time.Hour)
	}
	if len(ve.fields) == 0 {
		switch {
		case !from.Before(to):
			ve.add("from", "INVALID_RANGE", "must be before to")
		case to.Sub(from) > maxStatsRange:
			ve.add("to", "RANGE_TOO_LONG", "the period may cover at most 400 days")
		}
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	ctx := r.Context()
	base := actors.CallStatsQuery{From: from, To: to, AgentID: agentID, Location: loc}
	out := callStatsResponse{From: from, To: to, TZ: tz}
	if agentID != "" {
		out.AgentID = &agentID
	}
	groupings := []string{"agent", "day"}
	if groupBy != "" {
		groupings = []string{groupBy}
	}
	for i, g := range groupings {
		qq := base
		qq.GroupBy = g
		st, err := s.calls.Store.CallStatistics(ctx, qq)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if i == 0 {
			out.Totals = st.Totals
		}
		groups := st.Groups
		if groups == nil {
			groups = []actors.CallStatsRow{}
		}
		if g == "agent" {
			out.ByAgent = groups
		} else {
			out.ByDay = groups
		}
	}
	writeData(w, http.StatusOK, out)
}

// statsBound reads from or to: an RFC 3339 time, or a day YYYY-MM-DD in loc
// (from: its first instant; to: the first instant of the next day, so the
// day is included). ok is false when absent or invalid.
func statsBound(ve *validationError, q query, k string, loc *time.Location, end bool) (time.Time, bool) {
	v, present := q[k]
	if !present || v == "" {
		return time.Time{}, false
	}
	if d, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		if end {
			d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		}
		return d.UTC(), true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		ve.add(k, "INVALID_TIME", "must be an RFC 3339 time such as 2026-01-02T15:04:05Z or a day such as 2026-01-02")
		return time.Time{}, false
	}
	return t.UTC(), true
}
