package sockets

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what a scenario measured.
type Result struct {
	Scenario, Variant string
	// Ops counts the measured operations (frames delivered, sockets opened).
	Ops        int64
	Duration   time.Duration
	Throughput float64 // Ops per second over Duration
	P50, P99   time.Duration
	P999, Max  time.Duration
	Errors     int64
	// Extra holds the scenario's other figures, named with their unit
	// (e.g. "rss_bytes_per_socket", "lost_frames").
	Extra  map[string]float64
	Series []Point
}

// Point is one interval of a scenario's measurement.
type Point struct {
	At         time.Duration // end of the interval, from the start of measurement
	Throughput float64       // operations per second in the interval
	P50, P99   time.Duration
}

// Histogram bounds in microseconds.
const (
	histMin     = 1
	histMax     = int64(5 * time.Minute / time.Microsecond)
	histSigFigs = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMin, histMax, histSigFigs)
}

// recorder collects latencies into a cumulative histogram and one per
// interval of the series. It is safe for concurrent use.
type recorder struct {
	mu      sync.Mutex
	total   *hdrhistogram.Histogram
	window  *hdrhistogram.Histogram
	start   time.Time
	lastCut time.Time
	series  []Point
}

func newRecorder(start time.Time) *recorder {
	return &recorder{total: newHistogram(), window: newHistogram(), start: start, lastCut: start}
}

// record adds one latency; values outside the histogram's range are clamped.
func (r *recorder) record(d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	r.mu.Lock()
	_ = r.total.RecordValue(us)
	_ = r.window.RecordValue(us)
	r.mu.Unlock()
}

// cut closes the current interval at now and appends its Point.
func (r *recorder) cut(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	secs := now.Sub(r.lastCut).Seconds()
	if secs <= 0 {
		return
	}
	p := Point{At: now.Sub(r.start), Throughput: float64(r.window.TotalCount()) / secs,
		P50: usDuration(r.window.ValueAtQuantile(50)), P99: usDuration(r.window.ValueAtQuantile(99))}
	r.series = append(r.series, p)
	r.window.Reset()
	r.lastCut = now
}

// fill copies count and percentiles of the cumulative histogram into res.
func (r *recorder) fill(res *Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Ops = r.total.TotalCount()
	res.P50 = usDuration(r.total.ValueAtQuantile(50))
	res.P99 = usDuration(r.total.ValueAtQuantile(99))
	res.P999 = usDuration(r.total.ValueAtQuantile(99.9))
	res.Max = usDuration(r.total.Max())
	res.Series = append([]Point(nil), r.series...)
}

func (r *recorder) count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total.TotalCount()
}

func (r *recorder) quantile(q float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return usDuration(r.total.ValueAtQuantile(q))
}

func usDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// markerPrefix starts the marker a measured message's text carries.
const markerPrefix = "bench~"

// formatMarker is the text of measured message seq sent at sent:
// "bench~<seq>~<unix nanoseconds>~".
func formatMarker(seq int64, sent time.Time) string {
	return markerPrefix + strconv.FormatInt(seq, 10) + "~" + strconv.FormatInt(sent.UnixNano(), 10) + "~"
}

// frame types the scenarios read.
var (
	typeMessageCreated = []byte(`"type":"message.created"`)
	typeAssigned       = []byte(`"type":"conversation.assigned"`)
	typeHello          = []byte(`"type":"hello"`)
)

// frameIs reports whether frame is of the type whose `"type":"..."` pair is
// typ. The engine writes the type first, so only the frame's head is
// searched.
func frameIs(frame, typ []byte) bool {
	head := frame
	if len(head) > 64 {
		head = head[:64]
	}
	return bytes.Contains(head, typ)
}

// parseMarker finds a marker in a message.created frame and returns its
// sequence number and send time; ok is false for any other frame and for a
// frame without a well-formed marker.
func parseMarker(frame []byte) (seq int64, sent time.Time, ok bool) {
	if !frameIs(frame, typeMessageCreated) {
		return 0, time.Time{}, false
	}
	i := bytes.Index(frame, []byte(markerPrefix))
	if i < 0 {
		return 0, time.Time{}, false
	}
	rest := frame[i+len(markerPrefix):]
	seq, rest, ok = parseField(rest)
	if !ok {
		return 0, time.Time{}, false
	}
	ns, _, ok := parseField(rest)
	if !ok {
		return 0, time.Time{}, false
	}
	return seq, time.Unix(0, ns), true
}

// parseField reads decimal digits up to a '~' and returns the value and
// what follows the '~'.
func parseField(b []byte) (int64, []byte, bool) {
	end := bytes.IndexByte(b, '~')
	if end <= 0 || end > 19 {
		return 0, nil, false
	}
	v, err := strconv.ParseInt(string(b[:end]), 10, 64)
	if err != nil || v < 0 {
		return 0, nil, false
	}
	return v, b[end+1:], true
}
