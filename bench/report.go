package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// writeSummary writes the Markdown summary of results.
func writeSummary(w io.Writer, results []Result) {
	if len(results) == 0 {
		return
	}
	m := results[0].Machine
	fmt.Fprintf(w, "# Bench %s\n\n", results[0].Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "%s, %d CPUs, GOMAXPROCS=%d, %s %s/%s, load average %s.\n", m.CPUModel, m.NumCPU, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, m.LoadAvg)
	fmt.Fprintf(w, "The load generator, the engine and any broker share this machine; compare ratios within one run, not figures across days.\n\n")
	fmt.Fprintln(w, "| scenario | run | ops/s | p50 ms | p99 ms | p99.9 ms | errors | engine CPU µs/op | engine cores | other |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range results {
		if len(r.Runs) == 0 {
			fmt.Fprintf(w, "| %s | (no run) | | | | | | | | |\n", r.Scenario)
		}
		for _, run := range r.Runs {
			cpu, cores := "", ""
			if run.EngineCPUPerOp > 0 {
				cpu, cores = num(run.EngineCPUPerOp), fmt.Sprintf("%.2f", run.EngineCPUCores)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |\n", r.Scenario, run.Name, num(run.Rate),
				num(run.Latency.P50), num(run.Latency.P99), num(run.Latency.P999), run.Errors, cpu, cores, extras(run.Extra))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Targets and peers")
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "- **%s** %s\n", r.Scenario, scenarioCPULine(r))
		for _, c := range r.Comparisons {
			fmt.Fprintf(w, "- **%s** %s\n", r.Scenario, c)
		}
		for _, run := range r.Runs {
			if run.FirstError != "" {
				fmt.Fprintf(w, "- **%s** %s: %d errors, the first: %s\n", r.Scenario, run.Name, run.Errors, run.FirstError)
			}
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- **%s** note: %s\n", r.Scenario, n)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "- **%s** FAILED: %s\n", r.Scenario, r.Error)
		}
	}
}

// writeSVG draws r's runs over time: latency p50 and p99 per second (top)
// and throughput per second (bottom), one colour per run.
func writeSVG(w io.Writer, r Result) error {
	const (
		width, height = 900, 560
		left, right   = 70, 180
		panelH        = 200
		top1, top2    = 40, 300
	)
	colours := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="15">%s — %s</text>`+"\n", left, esc(r.Scenario), esc(r.Date.Format("2006-01-02 15:04")))
	minS, maxS := 0, 1
	var maxLat, maxOps float64
	for _, run := range r.Runs {
		for _, bk := range run.Series {
			minS, maxS = min(minS, bk.Second), max(maxS, bk.Second)
			maxLat = math.Max(maxLat, bk.P99)
			maxOps = math.Max(maxOps, float64(bk.Ops))
		}
	}
	maxLat, maxOps = niceCeil(maxLat), niceCeil(maxOps)
	plotW := float64(width - left - right)
	x := func(s int) float64 { return left + plotW*float64(s-minS)/float64(maxS-minS) }
	panel := func(topY int, title string, maxV float64, unit string) {
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left, topY-6, esc(title))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="none" stroke="#999"/>`+"\n", left, topY, plotW, panelH)
		for i := 0; i <= 4; i++ {
			y := float64(topY+panelH) - float64(panelH)*float64(i)/4
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", left, y, left+plotW, y)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s%s</text>`+"\n", left-4, y+4, num(maxV*float64(i)/4), esc(unit))
		}
		if minS < 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#aaa" stroke-dasharray="4 3"/>`+"\n", x(0), topY, x(0), topY+panelH)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">seconds (0 = end of warm-up)</text>`+"\n", left+plotW/2, topY+panelH+16)
	}
	panel(top1, "latency per second: p99 (solid), p50 (dashed)", maxLat, "ms")
	panel(top2, "throughput per second", maxOps, "/s")
	y := func(topY int, v, maxV float64) float64 {
		if maxV <= 0 {
			return float64(topY + panelH)
		}
		return float64(topY+panelH) - float64(panelH)*v/maxV
	}
	for i, run := range r.Runs {
		if len(run.Series) == 0 {
			continue
		}
		c := colours[i%len(colours)]
		line := func(topY int, maxV float64, dash string, val func(Bucket) float64) {
			pts := make([]string, len(run.Series))
			for j, bk := range run.Series {
				pts[j] = fmt.Sprintf("%.1f,%.1f", x(bk.Second), y(topY, val(bk), maxV))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>`+"\n", c, dash, strings.Join(pts, " "))
		}
		if hasLatency(run.Series) {
			line(top1, maxLat, "", func(bk Bucket) float64 { return bk.P99 })
			line(top1, maxLat, ` stroke-dasharray="5 3"`, func(bk Bucket) float64 { return bk.P50 })
		}
		line(top2, maxOps, "", func(bk Bucket) float64 { return float64(bk.Ops) })
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", width-right+10, top1+i*18, c)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", width-right+26, top1+i*18+10, esc(run.Name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// hasLatency reports whether a series recorded any latency (an end-to-end
// count has none).
func hasLatency(s []Bucket) bool {
	for _, b := range s {
		if b.P99 > 0 {
			return true
		}
	}
	return false
}

// extras lists a run's extra figures as "k=v", sorted by key.
func extras(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + num(m[k])
	}
	return strings.Join(parts, " ")
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// scenarioCPULine is r's CPU line, or one made of its runs' CPU per
// operation (engine child, or the bench process's for in-process runs) for
// scenarios the issue sets no per-operation target for.
func scenarioCPULine(r Result) string {
	if r.CPU != nil {
		return r.CPU.String()
	}
	l := &CPULine{Op: "operation", Note: "no per-operation CPU target in the issue for this scenario"}
	for _, run := range r.Runs {
		if run.EngineCPUPerOp > 0 || run.Extra["cpuUsPerOp"] > 0 {
			l.Figures = append(l.Figures, cpuFigure(run.Name, run))
		}
	}
	if len(l.Figures) == 0 {
		return "engine CPU µs per operation: no CPU per operation measured in this scenario (see its comparisons)"
	}
	return l.String()
}
