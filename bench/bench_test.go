package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/gateway/webhook"
)

func TestSummarizeReadsPercentilesInMilliseconds(t *testing.T) {
	h := newHist()
	for v := int64(1); v <= 1000; v++ {
		require.NoError(t, h.RecordValue(v*1000)) // 1 ms .. 1000 ms in µs
	}
	s := summarize(h)
	assert.EqualValues(t, 1000, s.Count)
	assert.InDelta(t, 500, s.P50, 1)
	assert.InDelta(t, 990, s.P99, 1)
	assert.InDelta(t, 999, s.P999, 1)
	assert.InDelta(t, 1000, s.Max, 1)
	assert.InDelta(t, 500.5, s.Mean, 1)
	assert.Equal(t, Summary{}, summarize(newHist()), "an empty histogram summarizes to zeros")
}

func TestRecorderCountsOnlyTheMeasurementButKeepsTheWarmUpSeries(t *testing.T) {
	r := newRecorder(2)
	r.record(time.Millisecond, nil)
	r.record(time.Millisecond, errors.New("boom"))
	b := r.tick()
	assert.Equal(t, Bucket{Second: -2, Ops: 1, Errors: 1, P50: 1, P99: 1}, b)
	r.tick()
	r.startMeasuring()
	for range 9 {
		r.record(2*time.Millisecond, nil)
	}
	r.record(0, errors.New("second"))
	b = r.tick()
	assert.Equal(t, 0, b.Second)
	assert.EqualValues(t, 9, b.Ops)
	assert.EqualValues(t, 9, r.ops)
	assert.EqualValues(t, 1, r.errs)
	assert.EqualValues(t, 9, r.total.TotalCount())
	assert.Equal(t, "boom", r.firstErr)
	assert.Len(t, r.series, 3)
}

func TestRunLoadMeasuresOpsAndErrors(t *testing.T) {
	var progress bytes.Buffer
	run := runLoad(t.Context(), loadSpec{Name: "test", Workers: 4, Measure: 300 * time.Millisecond, Op: func(ctx context.Context, i int64) error {
		if i%10 == 0 {
			return errors.New("every tenth fails")
		}
		return nil
	}}, &progress)
	assert.Equal(t, "test", run.Name)
	assert.Positive(t, run.Ops)
	assert.Positive(t, run.Errors)
	assert.InDelta(t, float64(run.Ops)/9, float64(run.Errors), float64(run.Ops)/20+5, "one op in ten fails")
	assert.InDelta(t, 0.3, run.Seconds, 0.2)
	assert.InDelta(t, float64(run.Ops)/run.Seconds, run.Rate, 1)
	assert.Equal(t, "every tenth fails", run.FirstError)
}

func TestRunLoadPacesToTheRate(t *testing.T) {
	run := runLoad(t.Context(), loadSpec{Name: "paced", Workers: 8, Rate: 200, Measure: 500 * time.Millisecond,
		Op: func(context.Context, int64) error { return nil }}, io.Discard)
	assert.InDelta(t, 200, run.Rate, 60)
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name        string
		got, want   float64
		lowerBetter bool
		ratio       float64
		met         bool
		text        string
	}{
		{name: "rate under target", got: 2100, want: 5000, ratio: 0.42, text: "x: target ≥ 5000/s, got 2100/s: 0.42× (NOT met)"},
		{name: "rate over target", got: 6000, want: 5000, ratio: 1.2, met: true, text: "x: target ≥ 5000/s, got 6000/s: 1.20× (met)"},
		{name: "latency over target", got: 100, want: 50, lowerBetter: true, ratio: 0.5, text: "x: target ≤ 50.0/s, got 100/s: 0.50× (NOT met)"},
		{name: "zero latency meets", got: 0, want: 50, lowerBetter: true, ratio: 0, met: true, text: "x: target ≤ 50.0/s, got 0/s (met)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := compare("x", tc.got, tc.want, "/s", tc.lowerBetter)
			assert.InDelta(t, tc.ratio, c.Ratio, 1e-9)
			assert.Equal(t, tc.met, c.Met)
			assert.Equal(t, tc.text, c.String())
		})
	}
	assert.Equal(t, "r: target ≥ 0.5×, got 0.25× (NOT met)", compare("r", 0.25, 0.5, "×", false).String())
}

func sampleResult() Result {
	series := func(scale int64) []Bucket {
		var s []Bucket
		for sec := -2; sec < 5; sec++ {
			s = append(s, Bucket{Second: sec, Ops: scale * int64(sec+3), P50: float64(sec + 3), P99: float64(2 * (sec + 3))})
		}
		return s
	}
	return Result{
		Scenario: "ingest", What: "a <test> & more", Date: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
		Machine: Machine{GOMAXPROCS: 2, NumCPU: 2, CPUModel: "AMD EPYC", GoVersion: "go1.26"},
		Options: Options{Duration: 5 * time.Second, Warmup: time.Second, Conns: 64, Quick: true},
		Runs: []Run{
			{Name: "engine <webhook>", Ops: 100, Seconds: 5, Rate: 20, Latency: Summary{Count: 100, P50: 1, P99: 2}, EngineCPUPerOp: 800, EngineCPUCores: 1.1, Series: series(10)},
			{Name: "bare", Ops: 900, Seconds: 5, Rate: 180, Series: series(100), Extra: map[string]float64{"bytesPerActor": 597}},
		},
		Comparisons: []Comparison{compare("ingest rate", 20, 5000, "/s", false)},
		Notes:       []string{"a note"},
	}
}

func TestSVGIsValidXMLWithOnePointPerSecond(t *testing.T) {
	r := sampleResult()
	var b bytes.Buffer
	require.NoError(t, writeSVG(&b, r))
	dec := xml.NewDecoder(&b)
	polylines := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "the SVG is well-formed XML")
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "polyline" {
			continue
		}
		polylines++
		for _, a := range el.Attr {
			if a.Name.Local == "points" {
				assert.Len(t, strings.Fields(a.Value), 7, "one point per second of the series")
			}
		}
	}
	assert.Equal(t, 3*len(r.Runs), polylines, "p99, p50 and throughput per run")
}

func TestResultJSONRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	want := sampleResult()
	require.NoError(t, writeJSON(path, want))
	got, err := readJSON(path)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestSummaryListsEveryRunAndComparison(t *testing.T) {
	var b strings.Builder
	writeSummary(&b, []Result{sampleResult()})
	out := b.String()
	assert.Contains(t, out, "| ingest | engine <webhook> | 20.0 | 1 | 2 |")
	assert.Contains(t, out, "| 800 | 1.10 |")
	assert.Contains(t, out, "bytesPerActor=597")
	assert.Contains(t, out, "ingest rate: target ≥ 5000/s, got 20.0/s: 0.00× (NOT met)")
	assert.Contains(t, out, "GOMAXPROCS=2")
}

func TestParseStatCPU(t *testing.T) {
	stat := "4242 (engine (x)) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 31 0 0 20 0 12 0 1000 0 0"
	d, err := parseStatCPU(stat)
	require.NoError(t, err)
	assert.Equal(t, 2810*time.Millisecond, d)
	_, err = parseStatCPU("no parens")
	require.Error(t, err)
}

func TestParseRunFlags(t *testing.T) {
	o, ids, err := parseRunFlags([]string{"ingest", "--quick", "actors", "--conns", "8"})
	require.NoError(t, err)
	assert.Equal(t, []string{"ingest", "actors"}, ids)
	assert.True(t, o.Quick)
	assert.Equal(t, 8, o.Conns)
	assert.Equal(t, 5*time.Second, o.Duration)
	assert.Equal(t, time.Second, o.Warmup)

	_, _, err = parseRunFlags([]string{"nope"})
	require.ErrorContains(t, err, `unknown scenario "nope"`)
	t.Setenv("WHATSAPP_APP_SECRET", "")
	_, _, err = parseRunFlags([]string{"--target", "http://x", "--admin-email", "a@b.c", "--admin-password", "p"})
	require.ErrorContains(t, err, "--app-secret")
}

func TestTextWebhookIsARealTextMessageOfAboutOneAndAHalfKB(t *testing.T) {
	body := textWebhook(42, "run", 7, ingestText)
	assert.InDelta(t, 1500, len(body), 100)
	batch, err := webhook.Parse(body)
	require.NoError(t, err)
	require.Len(t, batch.Messages, 1)
	m := batch.Messages[0]
	assert.Equal(t, waID(42), m.WaID)
	assert.Equal(t, benchPhoneNumberID, m.PhoneNumberID)
	assert.Equal(t, ingestText, m.Text)
	other, err := webhook.Parse(textWebhook(42, "run", 8, ingestText))
	require.NoError(t, err)
	require.Len(t, other.Messages, 1)
	assert.NotEqual(t, m.WaMessageID, other.Messages[0].WaMessageID, "each seq has its own wamid")
	for _, i := range []int{0, 1, 5, 8, 12345} {
		assert.True(t, strings.HasSuffix(waID(i), "9"), "no sandbox fault for customer %d", i)
	}
}

func TestBareWebhookServerVerifiesTheSignature(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- serveBareWebhook(ctx, l, "secret") }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-served) })
	srv := &engine{URL: "http://" + l.Addr().String(), AppSecret: "secret", Client: newClient(1)}
	body := textWebhook(1, "run", 1, "hi")
	require.NoError(t, srv.postWebhook(t.Context(), body))
	srv.AppSecret = "wrong"
	require.ErrorContains(t, srv.postWebhook(t.Context(), body), "status 401")
}

func TestSentCounterSeriesIsPerSecondFromTheEndOfWarmUp(t *testing.T) {
	zero := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	s := &sentCounter{seen: map[int64]time.Time{
		1: zero.Add(-1500 * time.Millisecond), 2: zero.Add(100 * time.Millisecond), 3: zero.Add(900 * time.Millisecond), 4: zero.Add(2500 * time.Millisecond),
	}}
	assert.Equal(t, []Bucket{{Second: -2, Ops: 1}, {Second: -1}, {Second: 0, Ops: 2}, {Second: 1}, {Second: 2, Ops: 1}}, s.series(zero))
	assert.Equal(t, 4*time.Second, s.span())
	assert.EqualValues(t, 4, s.count())
}

func TestDeleteQueuesRemovesTheEngineTopologyAndIgnoresMissingQueues(t *testing.T) {
	const url = "amqp://guest:guest@127.0.0.1:5672/"
	if !reachable(url) {
		t.Skip("RabbitMQ at 127.0.0.1:5672 is not running: skipping the queue clean-up test")
	}
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	name := "bench.test." + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err = ch.QueueDeclare(name+".dead", true, false, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, deleteQueues(url, engineQueues(name)...), "missing queues are not an error")
	_, err = ch.QueueDeclarePassive(name+".dead", true, false, false, false, nil)
	require.Error(t, err, "the declared queue is gone")
}
