//go:build faults

package faults

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// outcome is what the tests of one line found.
type outcome struct {
	Line  int    `json:"line"`
	Title string `json:"title"`
	// Result is pass, fail, "not covered" or "n/a".
	Result string   `json:"result"`
	Tests  []string `json:"tests,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// Counts are a delivery test's buckets (lost, recovered, unexpected,
	// duplicated) and other figures (inputs tried, faults injected).
	Counts map[string]int `json:"counts,omitempty"`
	// Timings are in milliseconds (time to recover, time to 503...).
	Timings  map[string]float64 `json:"timingsMs,omitempty"`
	Duration float64            `json:"durationMs"`
}

// report collects the outcomes of every line's tests.
var report = struct {
	sync.Mutex
	byLine map[int]*outcome
}{byLine: map[int]*outcome{}}

// rec is the record of one line's test.
type rec struct {
	t *testing.T
	o *outcome
}

// covers marks t as the test of line n: its pass or fail (and counts and
// timings recorded through the returned rec) go to the report row of n.
func covers(t *testing.T, n int) *rec {
	t.Helper()
	start := time.Now()
	report.Lock()
	o, ok := report.byLine[n]
	if !ok {
		o = &outcome{Line: n, Title: titleOf(n), Result: "pass", Counts: map[string]int{}, Timings: map[string]float64{}}
		report.byLine[n] = o
	}
	o.Tests = append(o.Tests, t.Name())
	report.Unlock()
	t.Cleanup(func() {
		report.Lock()
		defer report.Unlock()
		if t.Failed() {
			o.Result = "fail"
		}
		if t.Skipped() && o.Result == "pass" {
			o.Result = "fail"
			o.Reason = "skipped: a fault test must run"
		}
		o.Duration += float64(time.Since(start).Microseconds()) / 1000
	})
	return &rec{t: t, o: o}
}

// count adds n to the named count of the line.
func (r *rec) count(name string, n int) {
	report.Lock()
	r.o.Counts[name] += n
	report.Unlock()
}

// timing records a duration of the line (the largest seen wins).
func (r *rec) timing(name string, d time.Duration) {
	ms := float64(d.Microseconds()) / 1000
	report.Lock()
	if ms > r.o.Timings[name] {
		r.o.Timings[name] = ms
	}
	report.Unlock()
}

func titleOf(n int) string {
	for _, l := range lines {
		if l.n == n {
			return l.title
		}
	}
	return fmt.Sprintf("line %d", n)
}

// uncovered says why a line has no test in this suite yet; every line of
// the list is either covered, listed here, or not applicable.
var uncovered = map[int]string{}

// writeReport writes faults-report.md and faults-report.json, one row per
// line of the list.
func writeReport() error {
	report.Lock()
	defer report.Unlock()
	var rows []outcome
	for _, l := range lines {
		if o, ok := report.byLine[l.n]; ok {
			sort.Strings(o.Tests)
			rows = append(rows, *o)
			continue
		}
		o := outcome{Line: l.n, Title: l.title, Result: "not covered", Reason: uncovered[l.n]}
		if l.na != "" {
			o.Result, o.Reason = "n/a", l.na
		}
		if o.Reason == "" {
			o.Reason = "no test yet"
		}
		rows = append(rows, o)
	}
	js, err := json.MarshalIndent(map[string]any{"generated": time.Now().UTC().Format(time.RFC3339), "lines": rows}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile("faults-report.json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	tally := map[string]int{}
	for _, r := range rows {
		tally[r.Result]++
	}
	fmt.Fprintf(&b, "# Fault and attack report\n\nWritten by `make test-faults` (cmd/engine/faults) on %s. One row per line of the reliability list.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%d pass, %d fail, %d not covered yet, %d not applicable.\n\n", tally["pass"], tally["fail"], tally["not covered"], tally["n/a"])
	b.WriteString("| line | attack or fault | result | counts | timings | tests or reason |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		detail := strings.Join(r.Tests, ", ")
		if detail == "" {
			detail = r.Reason
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", r.Line, mdEscape(r.Title), r.Result, kv(r.Counts, "%d"), kvf(r.Timings), mdEscape(detail))
	}
	return os.WriteFile("faults-report.md", []byte(b.String()), 0o644)
}

func kv(m map[string]int, f string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s "+f, k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func kvf(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f ms", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
