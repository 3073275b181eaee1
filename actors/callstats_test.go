package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCallStatsDayOf(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		require.NoError(t, err, "time zone %s", name)
		return loc
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	wide := CallStatsQuery{From: utc("2000-01-01T00:00:00Z"), To: utc("2100-01-01T00:00:00Z")}
	in := func(loc *time.Location) CallStatsQuery { q := wide; q.Location = loc; return q }
	tests := []struct {
		name     string
		q        CallStatsQuery
		t        string
		key      string
		from, to string
	}{
		{name: "nil location is UTC", q: wide, t: "2025-03-09T23:59:59.999Z",
			key: "2025-03-09", from: "2025-03-09T00:00:00Z", to: "2025-03-10T00:00:00Z"},
		{name: "Kolkata midnight is 18:30 UTC the day before", q: in(load("Asia/Kolkata")), t: "2025-03-08T18:30:00Z",
			key: "2025-03-09", from: "2025-03-08T18:30:00Z", to: "2025-03-09T18:30:00Z"},
		{name: "New York spring forward: 23 hours", q: in(load("America/New_York")), t: "2025-03-09T12:00:00Z",
			key: "2025-03-09", from: "2025-03-09T05:00:00Z", to: "2025-03-10T04:00:00Z"},
		{name: "New York fall back: 25 hours", q: in(load("America/New_York")), t: "2025-11-02T12:00:00Z",
			key: "2025-11-02", from: "2025-11-02T04:00:00Z", to: "2025-11-03T05:00:00Z"},
		{name: "Santiago skips midnight: the day starts at 01:00", q: in(load("America/Santiago")), t: "2025-09-07T12:00:00Z",
			key: "2025-09-07", from: "2025-09-07T04:00:00Z", to: "2025-09-08T03:00:00Z"},
		{name: "the day before Santiago skips midnight ends at the jump", q: in(load("America/Santiago")), t: "2025-09-07T03:59:59Z",
			key: "2025-09-06", from: "2025-09-06T04:00:00Z", to: "2025-09-07T04:00:00Z"},
		{name: "clipped to the query", q: CallStatsQuery{From: utc("2025-03-09T10:00:00Z"), To: utc("2025-03-09T11:00:00Z")},
			t: "2025-03-09T10:30:00Z", key: "2025-03-09", from: "2025-03-09T10:00:00Z", to: "2025-03-09T11:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.q.DayOf(utc(tt.t))
			assert.Equal(t, tt.key, d.Key)
			assert.True(t, utc(tt.from).Equal(d.From), "from %s, want %s", d.From.UTC(), tt.from)
			assert.True(t, utc(tt.to).Equal(d.To), "to %s, want %s", d.To.UTC(), tt.to)
		})
	}
}
