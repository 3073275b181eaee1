package sockets

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMarkerRoundTrip(t *testing.T) {
	sent := time.Unix(1790000000, 123456789)
	text := formatMarker(42, sent)
	frame := []byte(fmt.Sprintf(`{"type":"message.created","data":{"id":"m1","text":%q,"status":"received"}}`, text))
	seq, got, ok := parseMarker(frame)
	require.True(t, ok)
	assert.Equal(t, int64(42), seq)
	assert.True(t, sent.Equal(got), "%v != %v", sent, got)
}

func TestParseMarkerRejects(t *testing.T) {
	good := formatMarker(7, time.Unix(0, 99))
	for name, frame := range map[string]string{
		"notification carrying the text": `{"type":"notification","data":{"body":"` + good + `"}}`,
		"no marker":                      `{"type":"message.created","data":{"text":"hello"}}`,
		"seq not a number":               `{"type":"message.created","data":{"text":"bench~x1~99~"}}`,
		"missing time":                   `{"type":"message.created","data":{"text":"bench~1~"}}`,
		"empty seq":                      `{"type":"message.created","data":{"text":"bench~~99~"}}`,
		"negative":                       `{"type":"message.created","data":{"text":"bench~-1~99~"}}`,
		"too long":                       `{"type":"message.created","data":{"text":"bench~12345678901234567890~99~"}}`,
		"not json at all":                `bench~1~2~`,
	} {
		t.Run(name, func(t *testing.T) {
			_, _, ok := parseMarker([]byte(frame))
			assert.False(t, ok)
		})
	}
}

func TestFrameIsLooksAtTheTypeOnly(t *testing.T) {
	assert.True(t, frameIs([]byte(`{"type":"hello","data":{}}`), typeHello))
	assert.False(t, frameIs([]byte(`{"type":"pong","data":{}}`), typeHello))
	// The same text deep in the data is not the frame's type.
	deep := []byte(`{"type":"notification","data":{"body":"` + string(make([]byte, 80)) + `\"type\":\"hello\""}}`)
	assert.False(t, frameIs(deep, typeHello))
}

func TestRecorderPercentilesAndSeries(t *testing.T) {
	start := time.Unix(1000, 0)
	r := newRecorder(start)
	for i := 1; i <= 1000; i++ {
		r.record(time.Duration(i) * time.Millisecond)
	}
	r.cut(start.Add(2 * time.Second))
	r.record(time.Nanosecond) // clamped to the histogram's 1 µs
	r.record(time.Hour)       // clamped to its 5 min
	r.cut(start.Add(3 * time.Second))

	var res Result
	r.fill(&res)
	assert.Equal(t, int64(1002), res.Ops)
	assert.InDelta(t, 500*time.Millisecond, res.P50, float64(2*time.Millisecond))
	assert.InDelta(t, 990*time.Millisecond, res.P99, float64(5*time.Millisecond))
	assert.InDelta(t, 5*time.Minute, res.Max, float64(time.Second))
	require.Len(t, res.Series, 2)
	assert.Equal(t, 2*time.Second, res.Series[0].At)
	assert.InDelta(t, 500.0, res.Series[0].Throughput, 0.01, "1000 ops over 2 s")
	assert.InDelta(t, 990*time.Millisecond, res.Series[0].P99, float64(5*time.Millisecond))
	assert.Equal(t, 3*time.Second, res.Series[1].At)
	assert.InDelta(t, 2.0, res.Series[1].Throughput, 0.01)
	assert.Equal(t, time.Microsecond, res.Series[1].P50, "the window was reset at the first cut")
}
