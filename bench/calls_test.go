package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallsScenarioPlacesEveryCallOnce runs the calls scenario briefly
// against an engine child (both queues when RabbitMQ answers): calls
// complete with their callbacks applied, every accepted call closes, and
// the engine's Exotel sandbox placed each exactly once. No figure is
// checked.
func TestCallsScenarioPlacesEveryCallOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the engine: not in -short")
	}
	env := &Env{Opts: Options{Duration: 2 * time.Second, Warmup: time.Second, Conns: 4, Quick: true,
		RabbitURL: "amqp://guest:guest@127.0.0.1:5672/"}, Progress: testWriter{t}, Tmp: t.TempDir()}
	var res Result
	require.NoError(t, runCalls(t.Context(), env, &res))
	variants := 1
	if reachable(env.Opts.RabbitURL) {
		variants = 2
	}
	require.Len(t, res.Runs, 2*variants, "an initiate→202 and an initiate→closed run per queue")
	for i := 0; i < len(res.Runs); i += 2 {
		accept, closed := res.Runs[i], res.Runs[i+1]
		assert.Contains(t, accept.Name, "initiate→202")
		assert.Positive(t, accept.Ops, accept.Name)
		assert.Zero(t, accept.Errors, "%s: %s", accept.Name, accept.FirstError)
		assert.Positive(t, closed.Ops, closed.Name)
		assert.Zero(t, closed.Errors, "%s: %s", closed.Name, closed.FirstError)
		x := closed.Extra
		require.NotNil(t, x, closed.Name)
		assert.Positive(t, x["completed"], closed.Name)
		assert.Equal(t, x["accepted"], x["completed"], "%s: every accepted call completed with its talk time", closed.Name)
		assert.Zero(t, x["unclosed"], closed.Name)
		assert.Equal(t, x["accepted"], x["placed"], "%s: the sandbox placed as many calls as were accepted", closed.Name)
		assert.Zero(t, x["placedTwice"], closed.Name)
		assert.Zero(t, x["acceptedNotPlaced"], closed.Name)
		assert.Zero(t, x["placedNotAccepted"], closed.Name)
		assert.Positive(t, closed.EngineCPUPerOp, closed.Name)
	}
	require.Len(t, res.Comparisons, variants)
	for _, c := range res.Comparisons {
		assert.True(t, c.Met, c.String())
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestComparePlacementsFindsCallsPlacedTwiceMissingAndForeign(t *testing.T) {
	items := []sandboxPlacement{{Seq: 1, CustomField: "a"}, {Seq: 2, CustomField: "b"}, {Seq: 3, CustomField: "a"}, {Seq: 4, CustomField: "x"}}
	c := comparePlacements(items, map[string]bool{"a": true, "b": true, "c": true, "d": false})
	assert.Equal(t, placedCheck{placed: 4, listed: 4, twice: 1, notPlaced: 1, foreign: 1, expected: 3}, c)
	assert.Equal(t, 3, c.wrong())
	assert.Empty(t, c.partialNote())

	ok := comparePlacements(items[:2], map[string]bool{"a": true, "b": true})
	assert.Zero(t, ok.wrong())

	// The log dropped its oldest entries: the missing ones are not counted
	// as not placed, but the total must match.
	partial := comparePlacements([]sandboxPlacement{{Seq: 9, CustomField: "i"}, {Seq: 10, CustomField: "j"}}, map[string]bool{
		"a": true, "b": true, "c": true, "d": true, "e": true, "f": true, "g": true, "h": true, "i": true, "j": true})
	assert.Zero(t, partial.wrong())
	assert.Contains(t, partial.partialNote(), "newest 2 of 10")
	partial.expected = 9
	assert.Equal(t, 1, partial.wrong(), "one more placement than calls the engine placed")
}

func TestCallTrackerClosesOnTheTerminalFrameAndFallsBackToPolling(t *testing.T) {
	tr := newCallTracker()
	tr.accept("c1")
	tr.frame([]byte(`{"type":"call.updated","data":{"id":"c1","status":"ringing","state":"active"}}`))
	assert.Equal(t, []string{"c1"}, tr.open(), "a live status does not close the call")
	tr.frame([]byte(`{"type":"call.updated","data":{"id":"c1","status":"completed","state":"closed","durationSec":3,"exotelSid":"s1"}}`))
	v, err := tr.waitClosed(t.Context(), nil, "", "c1")
	require.NoError(t, err)
	assert.Equal(t, "completed", v.Status)
	assert.Empty(t, tr.open())

	// A frame seen before the 202 is kept for the caller.
	tr.frame([]byte(`{"type":"call.updated","data":{"id":"c2","status":"busy","state":"closed"}}`))
	tr.accept("c2")
	assert.Empty(t, tr.open())

	// No frame: the caller asks GET /api/calls/{id}.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/api/calls/c3", r.URL.Path)
		_, _ = w.Write([]byte(`{"status":"success","data":{"call":{"id":"c3","status":"completed","state":"closed","durationSec":2,"exotelSid":"s3"}}}`))
	}))
	t.Cleanup(srv.Close)
	tr.accept("c3")
	g := &engine{URL: srv.URL, Client: newClient(1)}
	assert.Equal(t, 0, tr.drain(t.Context(), g, "token", 10*time.Second))
	st := tr.stats()
	assert.Equal(t, callStats{accepted: 3, closed: 3, completed: 2, placed: 2, byPoll: 1}, st)
	assert.Equal(t, map[string]bool{"c1": true, "c2": false, "c3": true}, tr.acceptedIDs())
}
