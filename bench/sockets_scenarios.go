package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/wacc/engine/bench/sockets"
)

// The agent-socket scenarios live in bench/sockets; they are registered
// here so `bench run fanout sockets` runs them against the same kind of
// engine child as the other scenarios.
func init() {
	registry = append(registry,
		Scenario{ID: "fanout", What: "inbound messages pushed to their assigned agent's socket and a supervisor's; webhook-accept-to-frame latency", Run: runFanout},
		Scenario{ID: "sockets", What: "authenticated idle agent sockets one engine holds, beside a bare coder/websocket echo server", Run: runSockets},
	)
}

func socketTarget(g *engine) sockets.Target {
	return sockets.Target{BaseURL: g.URL, AppSecret: g.AppSecret, AdminEmail: g.Email, AdminPassword: g.Password}
}

func enginePID(g *engine) int {
	if g.cmd != nil && g.cmd.Process != nil {
		return g.cmd.Process.Pid
	}
	return 0
}

// toRun turns a sockets.Result into a Run of the report.
func toRun(r sockets.Result) Run {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	run := Run{Name: r.Scenario + " " + r.Variant, Ops: r.Ops, Errors: r.Errors, Seconds: r.Duration.Seconds(), Rate: r.Throughput,
		Latency: Summary{Count: r.Ops, P50: ms(r.P50), P99: ms(r.P99), P999: ms(r.P999), Max: ms(r.Max)}, Extra: r.Extra}
	if v, ok := r.Extra["engine_cpu_us_per_op"]; ok {
		run.EngineCPUPerOp = v
	}
	for i, p := range r.Series {
		run.Series = append(run.Series, Bucket{Second: i, Ops: int64(p.Throughput), P50: ms(p.P50), P99: ms(p.P99)})
	}
	return run
}

func progressTo(w io.Writer) func(string) {
	return func(s string) { fmt.Fprintln(w, "   "+s) }
}

func runFanout(ctx context.Context, env *Env, res *Result) error {
	opts := sockets.DefaultFanoutOptions(env.Opts.Quick)
	g, err := env.startEngine(ctx, fmt.Sprintf("AGENT_MAX_OPEN=%d", 1000000), "SOCKET_BUFFER=4096")
	if err != nil {
		return err
	}
	defer g.Stop()
	opts.EnginePID = enginePID(g)
	r, err := sockets.Fanout(ctx, socketTarget(g), opts, progressTo(env.Progress))
	if err != nil {
		return err
	}
	run := toRun(r)
	res.Runs = append(res.Runs, run)
	res.Comparisons = append(res.Comparisons,
		compare("fanout p99 webhook-accept-to-frame", run.Latency.P99, 10, "ms", true),
		compare("fanout p999 webhook-accept-to-frame", run.Latency.P999, 50, "ms", true),
	)
	res.Notes = append(res.Notes, fmt.Sprintf("%d agents, %d msgs/s offered", opts.Agents, opts.Rate), sockets.SocketIOSkipped)
	return nil
}

func runSockets(ctx context.Context, env *Env, res *Result) error {
	opts := sockets.DefaultSocketsOptions(env.Opts.Quick)
	g, err := env.startEngine(ctx)
	if err != nil {
		return err
	}
	defer g.Stop()
	opts.EnginePID = enginePID(g)
	r, err := sockets.Sockets(ctx, socketTarget(g), opts, progressTo(env.Progress))
	if err != nil {
		return err
	}
	ours := toRun(r)
	res.Runs = append(res.Runs, ours)
	_ = g.Stop()
	peer, err := sockets.EchoPeer(ctx, opts, progressTo(env.Progress))
	if err != nil {
		res.Notes = append(res.Notes, "echo peer: "+err.Error())
	} else {
		res.Runs = append(res.Runs, toRun(peer))
	}
	perSocket := ours.Extra["rss_bytes_per_socket"]
	res.Comparisons = append(res.Comparisons,
		compare("engine RSS per idle socket", perSocket/1024, 30, "KiB", true),
		compare("connect rate", ours.Extra["connect_per_s"], 5000, "/s", false),
	)
	if peer.Extra != nil && peer.Extra["rss_bytes_per_socket"] > 0 {
		res.Comparisons = append(res.Comparisons,
			compare("engine vs bare echo memory per socket (≤1.3× wanted)", perSocket/peer.Extra["rss_bytes_per_socket"], 1.3, "×", true))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%d sockets requested (open-files limit may cap it)", opts.Sockets), sockets.SocketIOSkipped)
	return nil
}
