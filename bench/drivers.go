package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wacc/engine/persistence/sqlitestore"
)

// The SQLite driver side by side.
//
// persistence/sqlitestore opens modernc.org/sqlite (pure Go) by default and
// mattn/go-sqlite3 (cgo) when built with cgoSQLiteTags. With
// --sqlite-drivers both, ingest runs an engine child of each build (its
// saturation run and its steps), and actors runs its SQLite variant with
// each, in a child process: this bench for modernc, and this bench built
// with the tags for cgo (the variant is in-process, so the driver is the
// bench binary's; with one driver it runs in this process as before).

// cgoSQLiteTags select mattn/go-sqlite3 in persistence/sqlitestore
// (sqlite_fts5 is mattn's tag for FTS5, which the customer search needs).
const cgoSQLiteTags = "sqlite_cgo,sqlite_fts5"

// sqliteVariant is one build of the engine's SQLite driver.
type sqliteVariant struct {
	name   string // "modernc" or "cgo"
	suffix string // appended to run names: "" or " [cgo sqlite]"
	tags   string // engine build tags
}

// sqliteVariants are the drivers --sqlite-drivers asks for, the default
// first when both are.
func (e *Env) sqliteVariants() []sqliteVariant {
	modernc := sqliteVariant{name: "modernc", tags: e.Opts.EngineTags}
	cgo := sqliteVariant{name: "cgo", suffix: " [mattn/go-sqlite3 cgo]", tags: joinTags(e.Opts.EngineTags, cgoSQLiteTags)}
	switch e.Opts.SQLiteDrivers {
	case "cgo":
		return []sqliteVariant{cgo}
	case "both":
		modernc.suffix = " [modernc]"
		return []sqliteVariant{modernc, cgo}
	default:
		return []sqliteVariant{modernc}
	}
}

func joinTags(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

// driverRuns are one driver's runs of a scenario.
type driverRuns struct {
	variant    sqliteVariant
	saturation Run
	steps      []Run
}

// compareDrivers adds, when two drivers ran, a note setting the cgo build's
// figures beside modernc's: rate and CPU per operation at saturation and
// at each step.
func compareDrivers(res *Result, scenario, op string, runs []driverRuns) {
	if len(runs) != 2 {
		return
	}
	m, c := runs[0], runs[1]
	cpu := func(r Run) float64 {
		if r.EngineCPUPerOp > 0 {
			return r.EngineCPUPerOp
		}
		return r.Extra["cpuUsPerOp"]
	}
	parts := []string{fmt.Sprintf("saturation %s/s vs %s/s (%.2f×), CPU %s vs %s µs per %s",
		num(c.saturation.Rate), num(m.saturation.Rate), c.saturation.Rate/max(m.saturation.Rate, 1), num(cpu(c.saturation)), num(cpu(m.saturation)), op)}
	for i := range min(len(m.steps), len(c.steps)) {
		ms, cs := m.steps[i], c.steps[i]
		parts = append(parts, fmt.Sprintf("%s CPU %s vs %s µs per %s (achieved %s/s vs %s/s)",
			stepLabel(int(ms.Offered)), num(cpu(cs)), num(cpu(ms)), op, num(cs.Rate), num(ms.Rate)))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("SQLite driver, %s: mattn/go-sqlite3 (cgo, -tags %s) vs modernc.org/sqlite (pure Go), same invocation: %s",
		scenario, cgoSQLiteTags, strings.Join(parts, "; ")))
}

// actorsSQLite measures the actors scenario's SQLite variant with the
// driver of v: in this process when this binary has it, else in a child of
// the bench built with its tags.
func (e *Env) actorsSQLite(ctx context.Context, v sqliteVariant) (Run, error) {
	name := "conversation actor (SQLite)" + v.suffix
	want := "modernc.org/sqlite"
	if v.name == "cgo" {
		want = "github.com/mattn/go-sqlite3"
	}
	// Side by side, both run in a fresh child process, so that neither
	// inherits the heap and goroutines of the scenario's earlier runs.
	both := e.Opts.SQLiteDrivers == "both"
	if sqlitestore.Driver() == want && !both {
		return actorsSQLiteHere(ctx, e, name)
	}
	var bin string
	var err error
	if sqlitestore.Driver() == want {
		bin, err = os.Executable()
	} else {
		bin, err = e.buildBench(ctx, v.tags)
	}
	if err != nil {
		return Run{}, err
	}
	args := []string{childActorsSQLite, "--name", name, "--conns", fmt.Sprint(e.Opts.Conns),
		"--duration", e.Opts.Duration.String(), "--warmup", e.Opts.Warmup.String(), "--tmp", e.Tmp}
	cmd := exec.CommandContext(ctx, bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return Run{}, err
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return Run{}, fmt.Errorf("start the %s bench child: %w", v.name, err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		fmt.Fprintln(e.Progress, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		return Run{}, fmt.Errorf("the %s bench child: %w", v.name, err)
	}
	var run Run
	if err := json.Unmarshal([]byte(out.String()), &run); err != nil {
		return Run{}, fmt.Errorf("the %s bench child's run: %w", v.name, err)
	}
	if (run.Extra["driverCgo"] == 1) != (v.name == "cgo") {
		return Run{}, errors.New("the bench child did not run on " + want)
	}
	return run, nil
}

// buildBench builds this bench with tags into the temporary directory.
func (e *Env) buildBench(ctx context.Context, tags string) (string, error) {
	key := "bench:" + tags
	if bin, ok := e.engineBins[key]; ok {
		return bin, nil
	}
	bin := filepath.Join(e.Tmp, "bench-"+strings.NewReplacer(",", "-").Replace(tags))
	fmt.Fprintf(e.Progress, "   building the bench -tags %s\n", tags)
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", tags, "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the bench -tags %s: %w: %s", tags, err, out)
	}
	if e.engineBins == nil {
		e.engineBins = map[string]string{}
	}
	e.engineBins[key] = bin
	return bin, nil
}

// childActorsSQLite is the hidden command a bench child built with other
// tags runs: the actors scenario's SQLite variant, its run as JSON on
// stdout, progress on stderr.
const childActorsSQLite = "child-actors-sqlite"

func runChildActorsSQLite(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(childActorsSQLite, flag.ContinueOnError)
	var o Options
	name := fs.String("name", "conversation actor (SQLite)", "run name")
	fs.IntVar(&o.Conns, "conns", 64, "requests in flight")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "measurement")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "warm-up")
	tmp := fs.String("tmp", os.TempDir(), "directory for the databases")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(*tmp, "child-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := &Env{Opts: o, Progress: os.Stderr, Tmp: dir}
	run, err := actorsSQLiteHere(ctx, env, *name)
	if err != nil {
		return err
	}
	if run.Extra == nil {
		run.Extra = map[string]float64{}
	}
	if sqlitestore.Driver() == "github.com/mattn/go-sqlite3" {
		run.Extra["driverCgo"] = 1
	}
	return json.NewEncoder(stdout).Encode(run)
}
