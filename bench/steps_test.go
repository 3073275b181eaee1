package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRunFlagsReadsStepsAndDrivers(t *testing.T) {
	o, _, err := parseRunFlags([]string{"ingest"})
	require.NoError(t, err)
	assert.Equal(t, []int{200, 1000, 5000}, o.Steps)
	assert.Equal(t, 10*time.Second, o.StepDuration)
	assert.Equal(t, "modernc", o.SQLiteDrivers)

	o, _, err = parseRunFlags([]string{"--quick", "--steps", "300, 700", "--sqlite-drivers", "both", "ingest"})
	require.NoError(t, err)
	assert.Equal(t, []int{300, 700}, o.Steps)
	assert.Equal(t, 2*time.Second, o.StepDuration)
	assert.Equal(t, "both", o.SQLiteDrivers)

	o, _, err = parseRunFlags([]string{"--steps", "none"})
	require.NoError(t, err)
	assert.Empty(t, o.Steps)

	_, _, err = parseRunFlags([]string{"--steps", "200,fast"})
	require.ErrorContains(t, err, `"fast" is not a rate`)
	_, _, err = parseRunFlags([]string{"--steps", "0"})
	require.Error(t, err)
	_, _, err = parseRunFlags([]string{"--sqlite-drivers", "sqlite"})
	require.ErrorContains(t, err, "modernc, cgo or both")
}

func TestSQLiteVariantsBuildTheEngineWithTheCgoTags(t *testing.T) {
	e := &Env{Opts: Options{SQLiteDrivers: "both", EngineTags: "faults"}}
	v := e.sqliteVariants()
	require.Len(t, v, 2)
	assert.Equal(t, "faults", v[0].tags)
	assert.Equal(t, "faults,sqlite_cgo,sqlite_fts5", v[1].tags)
	assert.NotEqual(t, v[0].suffix, v[1].suffix, "the runs of the two drivers are told apart by name")

	e.Opts = Options{SQLiteDrivers: "cgo"}
	v = e.sqliteVariants()
	require.Len(t, v, 1)
	assert.Equal(t, "sqlite_cgo,sqlite_fts5", v[0].tags)
	e.Opts = Options{SQLiteDrivers: "modernc"}
	assert.Equal(t, []sqliteVariant{{name: "modernc"}}, e.sqliteVariants())
}

func TestCPULineSetsEveryStepAgainstTheTarget(t *testing.T) {
	steps := []Run{
		{Offered: 200, Held: true, Rate: 201, EngineCPUPerOp: 310},
		{Offered: 5000, Held: false, Rate: 3100, EngineCPUPerOp: 70},
	}
	sat := Run{Rate: 6100, EngineCPUPerOp: 60}
	l := cpuLine("webhook", 80, sat, steps)
	require.Len(t, l.Figures, 3)
	assert.False(t, l.Met())
	s := l.String()
	assert.Contains(t, s, "engine CPU µs per webhook: @200/s 310 (held)")
	assert.Contains(t, s, "@5000/s 70.0 (NOT held: 3100/s of 5000/s)")
	assert.Contains(t, s, "saturation 60.0 (6100/s)")
	assert.Contains(t, s, "target ≤ 80.0 µs at every step: NOT met (worst 310 µs, 3.88× the target)")

	l = cpuLine("webhook", 400, sat, steps)
	assert.True(t, l.Met())
	assert.Contains(t, l.String(), "at every step: met")

	// In-process runs carry their CPU per operation in extra.
	f := cpuFigure("no I/O", Run{Rate: 10, Extra: map[string]float64{"cpuUsPerOp": 12}})
	assert.InDelta(t, 12, f.UsPerOp, 0)
	assert.Nil(t, f.Held)
}

func TestSummaryHasACPULinePerScenario(t *testing.T) {
	withLine := sampleResult()
	withLine.CPU = cpuLine("webhook", 80, Run{Rate: 20, EngineCPUPerOp: 800}, nil)
	media := Result{Scenario: "media", Runs: []Run{{Name: "engine upload", Rate: 40, EngineCPUPerOp: 9000}}}
	density := Result{Scenario: "density", Runs: []Run{{Name: "conversation actors", Rate: 1000}}}
	var b strings.Builder
	writeSummary(&b, []Result{withLine, media, density})
	out := b.String()
	assert.Contains(t, out, "- **ingest** engine CPU µs per webhook: saturation 800 (20.0/s); target ≤ 80.0 µs at every step: NOT met")
	assert.Contains(t, out, "- **media** engine CPU µs per operation: engine upload 9000 (40.0/s); no per-operation CPU target")
	assert.Contains(t, out, "- **density** engine CPU µs per operation: no CPU per operation measured")
	assert.Contains(t, out, "ingest rate: target ≥ 5000/s", "the comparisons stay")
}
