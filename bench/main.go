package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wacc/engine/bench/sockets"
)

func main() {
	if sockets.ServeEchoChild() { // the sockets scenario's echo peer, run as a child of this binary
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const usage = `usage: go run . run [scenario...] [flags]
       go run . list

scenarios (all when none is named): %s
`

// run parses args and runs the named command.
func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(out, usage, strings.Join(scenarioIDs(), ", "))
		return errors.New("no command")
	}
	switch args[0] {
	case "list":
		for _, s := range registry {
			fmt.Fprintf(out, "%-11s %s\n", s.ID, s.What)
		}
		return nil
	case childActorsSQLite:
		return runChildActorsSQLite(ctx, args[1:], out)
	case childBareWebhook:
		return runChildBareWebhook(ctx, args[1:])
	case "run":
		opts, ids, err := parseRunFlags(args[1:])
		if err != nil {
			return err
		}
		return runScenarios(ctx, opts, ids, out)
	default:
		fmt.Fprintf(out, usage, strings.Join(scenarioIDs(), ", "))
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// Options are the flags of bench run.
type Options struct {
	Target     string `json:"target,omitempty"`
	SandboxURL string `json:"sandboxUrl,omitempty"`
	// ExotelSandboxURL is the target's Exotel sandbox (calls).
	ExotelSandboxURL string        `json:"exotelSandboxUrl,omitempty"`
	AppSecret        string        `json:"-"`
	AdminEmail       string        `json:"-"`
	AdminPassword    string        `json:"-"`
	Duration         time.Duration `json:"duration"`
	Warmup           time.Duration `json:"warmup"`
	Rate             int           `json:"rate,omitempty"`
	Conns            int           `json:"conns"`
	Quick            bool          `json:"quick"`
	Out              string        `json:"-"`
	RabbitURL        string        `json:"rabbitUrl,omitempty"`
	// MongoURI is the activation peer's server (default: FerretDB embedded
	// in the bench); not written to the report, it may hold a password.
	MongoURI string `json:"-"`
	// Steps are the fixed rates (ops/s) of the ingest and outbound steps,
	// each measured for StepDuration after a short warm-up.
	Steps        []int         `json:"steps,omitempty"`
	StepDuration time.Duration `json:"stepDuration,omitempty"`
	// EngineTags are build tags of the engine child (go build -tags).
	EngineTags string `json:"engineTags,omitempty"`
	// SQLiteDrivers is modernc (the default build), cgo (mattn/go-sqlite3:
	// -tags sqlite_cgo,sqlite_fts5) or both, side by side in ingest and in
	// actors' SQLite variant.
	SQLiteDrivers string `json:"sqliteDrivers,omitempty"`
	// SandboxInEngine has the outbound scenario's engine serve its
	// built-in WhatsApp sandbox (its CPU then counts as the engine's)
	// instead of running cmd/sandbox as a process of its own.
	SandboxInEngine bool `json:"sandboxInEngine,omitempty"`
}

// parseRunFlags reads the flags of bench run; flags and scenario ids may be
// interleaved.
func parseRunFlags(args []string) (Options, []string, error) {
	var o Options
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&o.Target, "target", "", "base URL of a running engine (default: start one as a child process)")
	fs.StringVar(&o.SandboxURL, "sandbox", "", "base URL of the target's sandbox, to count end-to-end sends (outbound)")
	fs.StringVar(&o.ExotelSandboxURL, "exotel-sandbox", "", "base URL of the target's Exotel sandbox, to check each call was placed once (calls)")
	fs.StringVar(&o.AppSecret, "app-secret", os.Getenv("WHATSAPP_APP_SECRET"), "the target's WHATSAPP_APP_SECRET (signs webhooks)")
	fs.StringVar(&o.AdminEmail, "admin-email", os.Getenv("ADMIN_EMAIL"), "an admin's email on the target")
	fs.StringVar(&o.AdminPassword, "admin-password", os.Getenv("ADMIN_PASSWORD"), "that admin's password")
	fs.DurationVar(&o.Duration, "duration", 0, "measurement per run (default 20s, 5s with --quick)")
	fs.IntVar(&o.Rate, "rate", 0, "operations per second offered per run (0: as fast as the clients go)")
	fs.IntVar(&o.Conns, "conns", 64, "concurrent keep-alive clients (or requests in flight)")
	fs.BoolVar(&o.Quick, "quick", false, "small populations and short runs: every scenario well under two minutes")
	fs.StringVar(&o.Out, "out", "results", "directory the results are written to")
	fs.StringVar(&o.RabbitURL, "rabbitmq", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ for the outbound scenario (skipped when unreachable)")
	fs.StringVar(&o.MongoURI, "mongo", "", "MongoDB URI of the activation scenario's FindOne peer (default: FerretDB embedded in the bench)")
	steps := fs.String("steps", "200,1000,5000", "fixed rates (ops/s) of the ingest and outbound steps, comma-separated; none for no steps")
	fs.DurationVar(&o.StepDuration, "step-duration", 0, "measurement per fixed-rate step (default 10s, 2s with --quick)")
	fs.StringVar(&o.EngineTags, "engine-tags", "", "build tags of the engine child, e.g. sqlite_cgo,sqlite_fts5")
	fs.StringVar(&o.SQLiteDrivers, "sqlite-drivers", "modernc", "SQLite driver of ingest and actors' SQLite variant: modernc, cgo (mattn/go-sqlite3) or both side by side")
	fs.BoolVar(&o.SandboxInEngine, "sandbox-in-engine", false, "outbound: the engine serves its built-in WhatsApp sandbox (the old way: its CPU counts as the engine's) instead of cmd/sandbox in a process of its own")
	var ids []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return o, nil, err
		}
		args = fs.Args()
		if len(args) > 0 {
			ids = append(ids, args[0])
			args = args[1:]
		}
	}
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
		if o.Quick {
			o.Duration = 5 * time.Second
		}
	}
	var err error
	if o.Steps, err = parseSteps(*steps); err != nil {
		return o, nil, err
	}
	if o.StepDuration <= 0 {
		o.StepDuration = 10 * time.Second
		if o.Quick {
			o.StepDuration = 2 * time.Second
		}
	}
	switch o.SQLiteDrivers {
	case "modernc", "cgo", "both":
	default:
		return o, nil, fmt.Errorf("--sqlite-drivers is modernc, cgo or both, got %q", o.SQLiteDrivers)
	}
	o.Warmup = 5 * time.Second
	if o.Quick {
		o.Warmup = time.Second
	}
	if o.Conns < 1 {
		return o, nil, fmt.Errorf("--conns must be at least 1, got %d", o.Conns)
	}
	if o.Target != "" && (o.AppSecret == "" || o.AdminEmail == "" || o.AdminPassword == "") {
		return o, nil, errors.New("--target needs --app-secret, --admin-email and --admin-password (or WHATSAPP_APP_SECRET, ADMIN_EMAIL, ADMIN_PASSWORD)")
	}
	for _, id := range ids {
		if lookup(id) == nil {
			return o, nil, fmt.Errorf("unknown scenario %q (have %s)", id, strings.Join(scenarioIDs(), ", "))
		}
	}
	return o, ids, nil
}

// parseSteps reads "200,1000,5000" (or "none", or "").
func parseSteps(v string) ([]int, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "none" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--steps: %q is not a rate (a positive integer)", f)
		}
		out = append(out, n)
	}
	return out, nil
}
