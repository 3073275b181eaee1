package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
