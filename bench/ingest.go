package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	// benchPhoneNumberID is the business number the bench's customers write to.
	benchPhoneNumberID = "106540352242922"
	// ingestConversations is how many distinct customers ingest spreads over.
	ingestConversations = 100_000
)

// ingestText pads the message so the signed body is about 1.5 KB, as a
// customer's longer message is.
var ingestText = strings.Repeat("Hello, I ordered a pair of shoes last week and the tracking page has not moved since Monday. ", 11)[:1000]

// waID is the WhatsApp id of the i-th bench customer. It ends in 9 so
// that the sandbox never injects a fault for it (faults are keyed on the
// last four digits 0001 to 0008).
func waID(i int) string { return "4917" + fmt.Sprintf("%07d", i) + "9" }

// textWebhook is the body Meta posts for one inbound text message of
// customer i, with wamid unique to (run, seq).
func textWebhook(i int, run string, seq int64, text string) []byte {
	w := waID(i)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"%s"},"contacts":[{"profile":{"name":"Bench Customer %d"},"wa_id":"%s"}],"messages":[{"from":"%s","id":"wamid.HBgNNDkxNzAwMDAwMDAwMBUCABIYIDNBQ0IwQzBBNj%s%d","timestamp":"%s","type":"text","text":{"body":%q}}]},"field":"messages"}]}]}`,
		benchPhoneNumberID, i, w, w, run, seq, ts, text)
}

// runIngest posts signed webhooks to the engine (at saturation, then at
// each fixed-rate step), with each SQLite driver asked for, then the same
// load to a bare handler that only verifies the HMAC, and to the Express
// peers.
func runIngest(ctx context.Context, env *Env, res *Result) error {
	convs := ingestConversations
	if env.Opts.Quick {
		convs = 10_000
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	body0 := textWebhook(0, runID, 0, ingestText)
	res.Notes = append(res.Notes, fmt.Sprintf("%d-byte text webhooks over %d conversations, %d keep-alive clients; 200 only after the inbox write", len(body0), convs, env.Opts.Conns))
	// post posts the i-th webhook of the run rid (wamids are unique to it).
	post := func(target *engine, rid string) func(ctx context.Context, i int64) error {
		return func(ctx context.Context, i int64) error {
			return target.postWebhook(ctx, textWebhook(int(i%int64(convs)), rid, i, ingestText))
		}
	}
	var ours Run
	var secret string
	var byDriver []driverRuns
	for k, d := range env.sqliteVariants() {
		g, err := env.startEngineTagged(ctx, d.tags)
		if err != nil {
			return err
		}
		label := "engine webhook" + d.suffix
		rid := runID + d.name
		sat := env.loadWithCPU(ctx, g, loadSpec{Name: label, Rate: env.Opts.Rate, Op: post(g, rid)})
		steps := env.ingestSteps(ctx, g, label, rid, func(r string) func(context.Context, int64) error { return post(g, r) })
		if err := g.Stop(); err != nil {
			res.Notes = append(res.Notes, err.Error())
		}
		res.Runs = append(res.Runs, sat)
		res.Runs = append(res.Runs, steps...)
		line := cpuLine("webhook (accepted and processed)"+d.suffix, 80, sat, steps)
		if k == 0 {
			ours, secret = sat, g.AppSecret
			res.CPU = line
		} else {
			res.Notes = append(res.Notes, line.String())
		}
		byDriver = append(byDriver, driverRuns{variant: d, saturation: sat, steps: steps})
	}
	compareDrivers(res, "ingest", "webhook", byDriver)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// The floor: a bare net/http handler verifying the same HMAC, in a
	// child process, at saturation and at the same fixed-rate steps.
	bare, err := env.startBarePeer(ctx, secret)
	if err != nil {
		return err
	}
	peer := env.loadWithCPU(ctx, bare, loadSpec{Name: "bare net/http HMAC", Rate: env.Opts.Rate, Op: post(bare, runID)})
	floor := env.ingestSteps(ctx, bare, "bare net/http HMAC", runID+"bare", func(r string) func(context.Context, int64) error { return post(bare, r) })
	if err := bare.Stop(); err != nil {
		res.Notes = append(res.Notes, "bare net/http HMAC: "+err.Error())
	}
	res.Runs = append(res.Runs, peer)
	res.Runs = append(res.Runs, floor...)
	if res.CPU != nil {
		res.CPU.Note = "floor (a bare Go net/http HMAC handler, its own process, no storage): " + floorFigures(floor, peer)
	}

	res.Comparisons = append(res.Comparisons,
		compare("ingest rate", ours.Rate, 5000, "/s", false),
		compare("ingest p99", ours.Latency.P99, 50, "ms", true),
		compare("ingest rate vs bare net/http handler (0.5× wanted)", ours.Rate/max(peer.Rate, 1), 0.5, "×", false),
	)
	res.Notes = append(res.Notes, "the bare handler runs as a child process of the bench like the engine (this executable, command "+childBareWebhook+"); its CPU columns are its own process's, the floor any Go server pays per request on this machine at each rate",
		"engine CPU per webhook counts everything the engine child did over the measurement (accepting, the inbox write, applying each message through its conversation actor, timers) ÷ the webhooks accepted in it; the fixed-rate steps run on the same engine after the saturation run, once it has settled, over the same conversations (already created)")

	env.runExpressPeers(ctx, res, ours, secret, func(t *engine) func(context.Context, int64) error { return post(t, runID) })
	return nil
}

// runExpressPeers measures the same load against the Express peers, each a
// Node child installed with npm into the cache folder, and says plainly
// how the engine compares. Without npm, or when the install fails, it
// appends a note and measures nothing.
func (e *Env) runExpressPeers(ctx context.Context, res *Result, ours Run, secret string, post func(*engine) func(context.Context, int64) error) {
	dir, err := e.installNodePeers(ctx)
	switch {
	case errors.Is(err, errNoNPM):
		res.Notes = append(res.Notes, "Express peers (hello-world, HMAC + better-sqlite3) skipped: npm is not on PATH; install Node 20 and npm to measure them")
		return
	case err != nil:
		res.Notes = append(res.Notes, "Express peers (hello-world, HMAC + better-sqlite3) skipped: "+err.Error())
		return
	}
	for _, p := range expressPeers {
		if ctx.Err() != nil {
			return
		}
		np, err := e.startNodePeer(ctx, dir, p.Script, secret)
		if err != nil {
			res.Notes = append(res.Notes, p.Name+" skipped: "+err.Error())
			continue
		}
		run := e.loadWithCPU(ctx, np, loadSpec{Name: p.Name, Rate: e.Opts.Rate, Op: post(np)})
		res.Runs = append(res.Runs, run)
		res.Notes = append(res.Notes, fmt.Sprintf("ingest rate vs %s: engine %s/s ÷ %s/s = %.2f× (measured beside, no target); p99 %s ms vs %s ms",
			p.Name, num(ours.Rate), num(run.Rate), ours.Rate/max(run.Rate, 1), num(ours.Latency.P99), num(run.Latency.P99)))
		if len(e.Opts.Steps) > 0 && ctx.Err() == nil {
			// The lowest step on the peer too: what any server costs per
			// request on this machine at a modest rate (wake-ups and system
			// calls no batching amortises), beside the engine's step.
			low := e.Opts.Steps[0]
			step := e.loadWithCPU(ctx, np, loadSpec{Name: p.Name + " " + stepLabel(low), Rate: low,
				Warmup: e.stepWarmup(), Measure: e.Opts.StepDuration, Op: post(np)})
			step.Offered = float64(low)
			res.Runs = append(res.Runs, step)
			res.Notes = append(res.Notes, fmt.Sprintf("%s at %d/s: %s µs of CPU per request (the engine's steps are above; the floor a server pays per request at this rate on this machine)",
				p.Name, low, num(step.EngineCPUPerOp)))
		}
		if err := np.Stop(); err != nil {
			res.Notes = append(res.Notes, p.Name+": "+err.Error())
		}
	}
	res.Notes = append(res.Notes, "Express peers: one Node process each (no cluster), started from "+dir+"; their engine CPU columns are the Node process's CPU")
}

// floorFigures writes the bare peer's CPU per request at each step and at
// saturation: "@200/s 610, @1000/s 180, saturation 95 µs".
func floorFigures(steps []Run, saturation Run) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, stepLabel(int(s.Offered))+" "+num(s.EngineCPUPerOp))
	}
	parts = append(parts, "saturation "+num(saturation.EngineCPUPerOp))
	return strings.Join(parts, ", ") + " µs"
}
