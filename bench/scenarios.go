package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Scenario is one load scenario of the bench.
type Scenario struct {
	ID   string
	What string
	// Run measures the scenario and its peers, filling res.
	Run func(ctx context.Context, env *Env, res *Result) error
}

// registry lists the scenarios in the order `bench run` runs them.
var registry = []Scenario{
	{ID: "ingest", What: "signed webhooks accepted after the durable write, beside a bare HMAC-verifying net/http handler", Run: runIngest},
	{ID: "outbound", What: "sends through the API → queue → sender → sandbox, in-process queue and RabbitMQ, beside a bare amqp091 loop", Run: runOutbound},
	{ID: "actors", What: "conversation-actor message handling beside a bare protoactor actor and a Go channel ping-pong; spawn/stop churn", Run: runActors},
	{ID: "density", What: "live heap per idle conversation actor beside bare protoactor actors", Run: runDensity},
	{ID: "activation", What: "messages to conversations not in memory: cold activations/s and latency", Run: runActivation},
	{ID: "media", What: "1 MB image uploads through validation and storage (uploads/s, MB/s), beside a bare io.Copy-to-file handler", Run: runMedia},
	{ID: "calls", What: "calls through the API → call actor → exotel.outbound queue → sender → the engine's Exotel sandbox → its callbacks, in-process queue and RabbitMQ; each placed exactly once", Run: runCalls},
	{ID: "cluster", What: "inbound messages through the cluster's Directory: routed to another node against local (CPU µs, p50/p99), and 1 node against 3 nodes, all in this one process on this one machine", Run: runCluster},
}

func lookup(id string) *Scenario {
	for i := range registry {
		if registry[i].ID == id {
			return &registry[i]
		}
	}
	return nil
}

func scenarioIDs() []string {
	ids := make([]string, len(registry))
	for i, s := range registry {
		ids[i] = s.ID
	}
	return ids
}

// Env is what a scenario runs with.
type Env struct {
	Opts Options
	// Progress receives the live progress lines.
	Progress io.Writer
	// Tmp is a directory removed when the bench ends.
	Tmp string
	// engineBins are the engine binaries built so far, by build tags.
	engineBins map[string]string
}

// load runs spec with the options' warm-up and duration.
func (e *Env) load(ctx context.Context, spec loadSpec) Run {
	if spec.Warmup == 0 {
		spec.Warmup = e.Opts.Warmup
	}
	if spec.Measure == 0 {
		spec.Measure = e.Opts.Duration
	}
	if spec.Workers == 0 {
		spec.Workers = e.Opts.Conns
	}
	return runLoad(ctx, spec, e.Progress)
}

// runScenarios runs the scenarios named by ids (all when empty), writes
// each one's JSON and SVG and the summary, and prints the summary.
func runScenarios(ctx context.Context, opts Options, ids []string, out io.Writer) error {
	if len(ids) == 0 {
		ids = scenarioIDs()
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", opts.Out, err)
	}
	tmp, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return fmt.Errorf("create temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	env := &Env{Opts: opts, Progress: out, Tmp: tmp}
	date := time.Now()
	stamp := date.Format("2006-01-02T1504")
	machine := thisMachine()
	var results []Result
	var failed []string
	for _, id := range ids {
		s := lookup(id)
		fmt.Fprintf(out, "== %s: %s\n", s.ID, s.What)
		res := Result{Scenario: s.ID, What: s.What, Date: date, Machine: machine, Options: opts}
		began := time.Now()
		if err := s.Run(ctx, env, &res); err != nil {
			res.Error = err.Error()
			failed = append(failed, s.ID)
			fmt.Fprintf(out, "   %s failed: %v\n", s.ID, err)
		}
		for _, c := range res.Comparisons {
			fmt.Fprintf(out, "   %s\n", c)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(out, "   note: %s\n", n)
		}
		fmt.Fprintf(out, "   (%s took %s)\n", s.ID, time.Since(began).Round(time.Second))
		base := filepath.Join(opts.Out, stamp+"-"+s.ID)
		if err := writeJSON(base+".json", res); err != nil {
			return err
		}
		if err := writeSVGFile(base+".svg", res); err != nil {
			return err
		}
		results = append(results, res)
		if ctx.Err() != nil {
			break
		}
	}
	var sum strings.Builder
	writeSummary(&sum, results)
	path := filepath.Join(opts.Out, stamp+"-summary.md")
	if err := os.WriteFile(path, []byte(sum.String()), 0o644); err != nil {
		return fmt.Errorf("write summary %s: %w", path, err)
	}
	fmt.Fprintf(out, "\n%s\nwritten to %s\n", sum.String(), opts.Out)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failed) > 0 {
		return errors.New("scenarios failed to run: " + strings.Join(failed, ", "))
	}
	return nil
}

func writeSVGFile(path string, r Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write chart %s: %w", path, err)
	}
	if err := writeSVG(f, r); err != nil {
		_ = f.Close()
		return fmt.Errorf("write chart %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write chart %s: %w", path, err)
	}
	return nil
}
