package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is one scenario's report, written as <date>-<scenario>.json.
type Result struct {
	Scenario    string       `json:"scenario"`
	What        string       `json:"what"`
	Date        time.Time    `json:"date"`
	Machine     Machine      `json:"machine"`
	Options     Options      `json:"options"`
	Runs        []Run        `json:"runs"`
	Comparisons []Comparison `json:"comparisons"`
	Notes       []string     `json:"notes,omitempty"`
	// CPU is the scenario's line "engine CPU µs per operation" of the
	// summary, next to its target (nil: the summary says it has none).
	CPU   *CPULine `json:"engineCpu,omitempty"`
	Error string   `json:"error,omitempty"`
}

// CPULine is a scenario's engine CPU per operation at each of its runs that
// has one (fixed-rate steps and saturation), set against the target.
type CPULine struct {
	// Op names the operation: "webhook", "send (3 status callbacks applied)".
	Op string `json:"op"`
	// TargetUs is the most CPU per operation the target allows at every
	// figure, in µs; 0: no per-operation target (Note says what stands for it).
	TargetUs float64     `json:"targetUs,omitempty"`
	Figures  []CPUFigure `json:"figures"`
	Note     string      `json:"note,omitempty"`
}

// CPUFigure is one run's CPU per operation.
type CPUFigure struct {
	Label   string  `json:"label"`
	UsPerOp float64 `json:"usPerOp"`
	// Offered is the step's fixed rate (0: saturation, a closed loop).
	Offered float64 `json:"offeredPerSec,omitempty"`
	Rate    float64 `json:"achievedPerSec"`
	// Held reports whether a fixed-rate step kept its rate (nil: saturation).
	Held *bool `json:"held,omitempty"`
}

// Met reports whether every figure is within the target (false without one).
func (l *CPULine) Met() bool {
	if l.TargetUs <= 0 || len(l.Figures) == 0 {
		return false
	}
	for _, f := range l.Figures {
		if f.UsPerOp > l.TargetUs {
			return false
		}
	}
	return true
}

// String writes the line: "engine CPU µs per webhook: @200/s 310 (held),
// saturation 88 (6,100/s); target ≤ 80 µs at every step: NOT met (worst
// 310 µs, 3.88× the target)".
func (l *CPULine) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "engine CPU µs per %s: ", l.Op)
	worst := 0.0
	for i, f := range l.Figures {
		if i > 0 {
			b.WriteString(", ")
		}
		worst = max(worst, f.UsPerOp)
		switch {
		case f.Held == nil:
			fmt.Fprintf(&b, "%s %s (%s/s)", f.Label, num(f.UsPerOp), num(f.Rate))
		case *f.Held:
			fmt.Fprintf(&b, "%s %s (held)", f.Label, num(f.UsPerOp))
		default:
			fmt.Fprintf(&b, "%s %s (NOT held: %s/s of %s/s)", f.Label, num(f.UsPerOp), num(f.Rate), num(f.Offered))
		}
	}
	if len(l.Figures) == 0 {
		b.WriteString("not measured")
	}
	switch {
	case l.TargetUs > 0 && len(l.Figures) > 0:
		verdict := "met"
		if !l.Met() {
			verdict = fmt.Sprintf("NOT met (worst %s µs, %.2f× the target)", num(worst), worst/l.TargetUs)
		}
		fmt.Fprintf(&b, "; target ≤ %s µs at every step: %s", num(l.TargetUs), verdict)
	case l.TargetUs > 0:
		fmt.Fprintf(&b, "; target ≤ %s µs", num(l.TargetUs))
	}
	if l.Note != "" {
		b.WriteString("; " + l.Note)
	}
	return b.String()
}

// cpuFigure is run's figure for a CPU line: the engine child's CPU per
// operation, or (in-process runs) the process's, from extra cpuUsPerOp.
func cpuFigure(label string, run Run) CPUFigure {
	us := run.EngineCPUPerOp
	if us == 0 {
		us = run.Extra["cpuUsPerOp"]
	}
	f := CPUFigure{Label: label, UsPerOp: us, Rate: run.Rate, Offered: run.Offered}
	if run.Offered > 0 {
		held := run.Held
		f.Held = &held
	}
	return f
}

// Run is one measured load (the engine, or a peer) of a scenario.
type Run struct {
	Name string `json:"name"`
	// Ops and Errors are counted over the measurement (after warm-up).
	Ops     int64   `json:"ops"`
	Errors  int64   `json:"errors"`
	Seconds float64 `json:"seconds"`
	// Rate is Ops per second of measurement.
	Rate    float64 `json:"rate"`
	Latency Summary `json:"latency"`
	// EngineCPUPerOp is the engine process's CPU time (user+system) per
	// operation, in microseconds; zero when the engine is not a child.
	EngineCPUPerOp float64 `json:"engineCpuPerOpUs,omitempty"`
	// EngineCPUCores is the engine's CPU time over wall time.
	EngineCPUCores float64 `json:"engineCpuCores,omitempty"`
	// Offered is a fixed-rate step's rate (ops/s; 0 for other runs), and
	// Held whether the step kept it (see steps.go).
	Offered float64 `json:"offeredPerSec,omitempty"`
	Held    bool    `json:"held,omitempty"`
	// FirstError is the first failure seen, warm-up included.
	FirstError string             `json:"firstError,omitempty"`
	Series     []Bucket           `json:"series,omitempty"`
	Extra      map[string]float64 `json:"extra,omitempty"`
}

// Summary is a latency distribution in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"meanMs"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	P999  float64 `json:"p999Ms"`
	Max   float64 `json:"maxMs"`
}

// Bucket is one second of a run.
type Bucket struct {
	// Second counts from the start of the measurement (negative: warm-up).
	Second int     `json:"second"`
	Ops    int64   `json:"ops"`
	Errors int64   `json:"errors"`
	P50    float64 `json:"p50Ms"`
	P99    float64 `json:"p99Ms"`
}

// Comparison is a figure set against its target or a peer of the same run.
type Comparison struct {
	What string `json:"what"`
	// Got and Want are in Unit; Ratio is Got/Want (or Want/Got when lower
	// is better, so a ratio ≥ 1 always meets the target).
	Got         float64 `json:"got"`
	Want        float64 `json:"want"`
	Unit        string  `json:"unit"`
	LowerBetter bool    `json:"lowerBetter,omitempty"`
	Ratio       float64 `json:"ratio"`
	Met         bool    `json:"met"`
}

// compare builds a comparison of got against want.
func compare(what string, got, want float64, unit string, lowerBetter bool) Comparison {
	c := Comparison{What: what, Got: got, Want: want, Unit: unit, LowerBetter: lowerBetter}
	switch {
	case lowerBetter:
		c.Met = got <= want
		if got > 0 {
			c.Ratio = want / got
		}
	default:
		c.Met = got >= want
		if want > 0 {
			c.Ratio = got / want
		}
	}
	return c
}

// String says the comparison plainly: "ingest rate: target ≥ 5000/s, got
// 2100/s: 0.42× (NOT met)". A comparison that is itself a ratio between
// two runs ("×") gives no second ratio.
func (c Comparison) String() string {
	op := "≥"
	if c.LowerBetter {
		op = "≤"
	}
	verdict := "met"
	if !c.Met {
		verdict = "NOT met"
	}
	if c.Unit == "×" || c.Ratio == 0 {
		return fmt.Sprintf("%s: target %s %s%s, got %s%s (%s)", c.What, op, num(c.Want), c.Unit, num(c.Got), c.Unit, verdict)
	}
	return fmt.Sprintf("%s: target %s %s%s, got %s%s: %.2f× (%s)", c.What, op, num(c.Want), c.Unit, num(c.Got), c.Unit, c.Ratio, verdict)
}

// num prints a figure with sensible precision.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// summarize reads a histogram of microseconds into a Summary in ms.
func summarize(h *hdrhistogram.Histogram) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	ms := func(us int64) float64 { return float64(us) / 1e3 }
	return Summary{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1e3,
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// writeJSON writes r to path.
func writeJSON(path string, r Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result %s: %w", r.Scenario, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result %s: %w", path, err)
	}
	return nil
}

// readJSON reads a result written by writeJSON.
func readJSON(path string) (Result, error) {
	var r Result
	b, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("read result %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("decode result %s: %w", path, err)
	}
	return r, nil
}
