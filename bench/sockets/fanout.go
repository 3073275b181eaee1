package sockets

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// FanoutOptions shape the fanout scenario. Zero values take the defaults
// of DefaultFanoutOptions(false).
type FanoutOptions struct {
	// Agents is how many agent sockets are open (besides the supervisor's).
	Agents int
	// Users is how many agent accounts the sockets log in as, socket i as
	// user i%Users; each registration costs the engine an argon2id hash.
	// Zero means Agents (one socket per agent, as the issue specifies).
	Users int
	// Conversations is how many conversations the messages go to, round
	// robin; zero means Users. The engine's AGENT_MAX_OPEN must be at least
	// Conversations/Users for all of them to be assigned.
	Conversations int
	// Rate is the inbound messages per second during warm-up and
	// measurement.
	Rate int
	// Duration is the measured time, after Warmup.
	Duration, Warmup time.Duration
	// Senders is how many webhook posts may be in flight.
	Senders int
	// ConnectConcurrency is how many sockets are dialled at once.
	ConnectConcurrency int
	// EnginePID is the engine's process id, for its CPU time and RSS; 0
	// when unknown (not measured).
	EnginePID int
	// Drain bounds the wait for the last frames after the load stops.
	Drain time.Duration
}

// DefaultFanoutOptions are the figures, or the quick run's.
func DefaultFanoutOptions(quick bool) FanoutOptions {
	if quick {
		return FanoutOptions{Agents: 200, Rate: 500, Duration: 10 * time.Second, Warmup: 2 * time.Second,
			Senders: 64, ConnectConcurrency: 64, Drain: 5 * time.Second}
	}
	return FanoutOptions{Agents: 10000, Rate: 5000, Duration: 30 * time.Second, Warmup: 5 * time.Second,
		Senders: 256, ConnectConcurrency: 128, Drain: 10 * time.Second}
}

func (o FanoutOptions) withDefaults() FanoutOptions {
	d := DefaultFanoutOptions(false)
	if o.Agents <= 0 {
		o.Agents = d.Agents
	}
	if o.Users <= 0 || o.Users > o.Agents {
		o.Users = o.Agents
	}
	if o.Conversations <= 0 {
		o.Conversations = o.Users
	}
	if o.Rate <= 0 {
		o.Rate = d.Rate
	}
	if o.Duration <= 0 {
		o.Duration = d.Duration
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	}
	if o.Senders <= 0 {
		o.Senders = d.Senders
	}
	if o.ConnectConcurrency <= 0 {
		o.ConnectConcurrency = d.ConnectConcurrency
	}
	if o.Drain <= 0 {
		o.Drain = d.Drain
	}
	return o
}

// assignTimeout bounds the wait for the seeded conversations' assignment.
const assignTimeout = 60 * time.Second

// fanoutRun is one Fanout's shared state.
type fanoutRun struct {
	opts    FanoutOptions
	run     string
	digits  string
	variant string // "engine", "socket.io"

	userIndex map[string]int // user id → index, read-only once built
	convIndex map[string]int // wa_id → conversation index, read-only
	// socketsOf[u] is how many sockets user u holds.
	socketsOf []int
	// assignee[c] is 1 + the index of conversation c's assignee, 0 while
	// unknown.
	assignee []atomic.Int32
	assigned atomic.Int64

	// measureFrom is the UnixNano from which sent messages are measured;
	// MaxInt64 until the warm-up ends.
	measureFrom atomic.Int64
	frames      *recorder // every measured frame
	agentLat    *recorder
	supLat      *recorder
	webhookLat  *recorder
	// got[seq] counts the frames of message seq; posted[seq] is true when
	// its webhook was measured and answered 200.
	got    []atomic.Int32
	posted []atomic.Bool
	stray  atomic.Int64 // frames with a seq out of range

	webhookErrors atomic.Int64
	behind        atomic.Int64

	// send posts measured message seq, to conversation c, stamped with at,
	// and answers the HTTP status: a signed webhook to the engine, an
	// inject to the Socket.IO peer.
	send func(ctx context.Context, seq int64, c int, at time.Time) (int, error)
	// accept names what send posts in the figures ("webhook", "inject").
	accept string
	// pid is the server's process; probe reads its CPU time from the end
	// of the warm-up (nil before).
	pid   int
	probe *engineProbe
}

func (r *fanoutRun) waID(c int) string { return fmt.Sprintf("91%s%06d", r.digits, c) }

// fitFiles caps Agents (and Users, Conversations) to what the open files
// limit leaves for the sockets, the supervisor's and the senders'
// connections.
func (o FanoutOptions) fitFiles(extra map[string]float64, progress func(string)) (FanoutOptions, error) {
	fit := fitFileLimit(extra, o.Agents+1+o.Senders, 1, progress) - 1 - o.Senders
	if fit >= o.Agents {
		return o, nil
	}
	if fit < 1 {
		return o, ErrNoFiles
	}
	o.Agents = fit
	o.Users = min(o.Users, fit)
	o.Conversations = min(o.Conversations, o.Users*20)
	return o, nil
}

// newFanoutRun is the state of one run of opts; its send is set by the
// caller.
func newFanoutRun(opts FanoutOptions, variant, accept string) *fanoutRun {
	r := &fanoutRun{opts: opts, run: runID(), digits: runDigits(), variant: variant, accept: accept,
		socketsOf: make([]int, opts.Users), assignee: make([]atomic.Int32, opts.Conversations)}
	r.measureFrom.Store(int64(^uint64(0) >> 1))
	for i := 0; i < opts.Agents; i++ {
		r.socketsOf[i%opts.Users]++
	}
	total := int(float64(opts.Rate)*(opts.Warmup+opts.Duration).Seconds()) + opts.Rate + 1
	r.got = make([]atomic.Int32, total)
	r.posted = make([]atomic.Bool, total)
	return r
}

// fanoutDialer dials n sockets to the server at baseURL, from several
// loopback source addresses when n needs them (recorded in extra).
func fanoutDialer(baseURL string, n int, extra map[string]float64) *cyclingDialer {
	if k := sourceAddrsFor(hostOf(baseURL), n); k > 0 {
		addrs, _ := sourceAddrs(k)
		extra["source_addrs"] = float64(k)
		return newCyclingDialer(addrs, helloTimeout)
	}
	return newCyclingDialer(nil, helloTimeout)
}

// connect opens the supervisor's socket (0) and the agents' (1..Agents)
// on fl, tokenOf(i) being socket i's token, and records the connect rate
// and the failures in res.
func (r *fanoutRun) connect(ctx context.Context, res *Result, fl *fleet, tokenOf func(int) string, progress func(string)) error {
	n := r.opts.Agents + 1
	start := time.Now()
	stopTick := ticker(time.Second, func() {
		progress(fmt.Sprintf("fanout %s: connecting %d/%d sockets (%d failed)", r.variant, fl.opened.Load(), n, fl.failed.Load()))
	})
	err := fl.open(ctx, 0, n, r.opts.ConnectConcurrency, tokenOf, true, nil)
	stopTick()
	if err != nil {
		return err
	}
	res.Extra["connect_per_s"] = float64(fl.opened.Load()) / time.Since(start).Seconds()
	res.Extra["sockets_failed"] = float64(fl.failed.Load())
	if fl.failed.Load() > 0 {
		progress(fmt.Sprintf("fanout %s: %d sockets failed to open; last error: %s", r.variant, fl.failed.Load(), fl.lastError()))
	}
	return nil
}

// onFrame handles a frame of socket i; socket 0 is the supervisor's, socket
// i>0 belongs to user (i-1)%Users.
func (r *fanoutRun) onFrame(i int, frame []byte) {
	if seq, sent, ok := parseMarker(frame); ok {
		if sent.UnixNano() < r.measureFrom.Load() {
			return
		}
		lat := time.Since(sent)
		r.frames.record(lat)
		if i == 0 {
			r.supLat.record(lat)
		} else {
			r.agentLat.record(lat)
		}
		if seq < int64(len(r.got)) {
			r.got[seq].Add(1)
		} else {
			r.stray.Add(1)
		}
		return
	}
	if i == 0 || !frameIs(frame, typeAssigned) {
		return
	}
	var f struct {
		Data struct {
			WaID       string  `json:"waId"`
			AssigneeID *string `json:"assigneeId"`
		} `json:"data"`
	}
	if json.Unmarshal(frame, &f) != nil || f.Data.AssigneeID == nil {
		return
	}
	c, ok := r.convIndex[f.Data.WaID]
	if !ok {
		return
	}
	u, ok := r.userIndex[*f.Data.AssigneeID]
	if !ok {
		return
	}
	if r.assignee[c].Swap(int32(u+1)) == 0 {
		r.assigned.Add(1)
	}
}

// Fanout measures inbound messages pushed to agents' sockets: it registers
// the agents and a supervisor, opens their sockets, starts one conversation
// per Conversations (each auto-assigned to an online agent), then posts
// Rate signed text webhooks per second, round robin over the conversations,
// for Warmup+Duration. Latency is from just before a webhook is posted to
// the message.created frame on a socket, for every socket that receives it
// (the assignee's and the supervisor's).
//
// Result: Ops frames delivered, Throughput frames/s, percentiles of the
// frames' latency, Errors = webhook errors + sends the generator could not
// start on time + lost frames + sockets closed by the engine. Extra holds
// lost_frames, delivered_frames_per_s, sent_per_s, webhook_p99_ms,
// sockets_closed_by_server and the others listed in the README of the
// bench; the engine's CPU (engine_cpu_*) is counted from the end of the
// warm-up to the end of the drain.
func Fanout(ctx context.Context, t Target, opts FanoutOptions, progress func(string)) (Result, error) {
	progress = orNop(progress)
	opts = opts.withDefaults()
	res := Result{Scenario: "fanout", Variant: "engine", Extra: map[string]float64{}}
	wsURL, err := t.wsURL()
	if err != nil {
		return res, err
	}
	if opts, err = opts.fitFiles(res.Extra, progress); err != nil {
		return res, fmt.Errorf("fanout: %w", err)
	}
	client := newEngineClient(t, opts.Senders+16)
	defer client.close()

	r := newFanoutRun(opts, res.Variant, "webhook")
	r.userIndex, r.convIndex = map[string]int{}, map[string]int{}
	for c := 0; c < opts.Conversations; c++ {
		r.convIndex[r.waID(c)] = c
	}

	// Accounts.
	admin, err := client.login(ctx, t.AdminEmail, t.AdminPassword)
	if err != nil {
		return res, fmt.Errorf("fanout: %w", err)
	}
	agents, err := registerAgents(ctx, client, r.run, opts.Users, progress)
	if err != nil {
		return res, fmt.Errorf("fanout: %w", err)
	}
	for i, a := range agents {
		r.userIndex[a.ID] = i
	}
	supEmail, supPassword := fmt.Sprintf("bench-%s-supervisor@bench.example.com", r.run), "bench-password-"+r.run
	sup, err := client.register(ctx, supEmail, supPassword, "Bench supervisor")
	if err != nil {
		return res, fmt.Errorf("fanout: %w", err)
	}
	if err := client.setRole(ctx, admin.Token, sup.ID, "supervisor"); err != nil {
		return res, fmt.Errorf("fanout: %w", err)
	}
	// A role change ends the user's older tokens: log in again.
	if sup, err = client.login(ctx, supEmail, supPassword); err != nil {
		return res, fmt.Errorf("fanout: %w", err)
	}

	// Sockets: 0 is the supervisor's, i>0 agent (i-1)%Users.
	fl := newFleet(wsURL, socketClient(fanoutDialer(t.BaseURL, opts.Agents+1, res.Extra)), r.onFrame)
	defer fl.close()
	if err := r.connect(ctx, &res, fl, func(i int) string {
		if i == 0 {
			return sup.Token
		}
		return agents[(i-1)%opts.Users].Token
	}, progress); err != nil {
		return res, fmt.Errorf("fanout: %w", err)
	}

	// Conversations: one first message each, then wait for the assignments.
	seedStart := time.Now()
	seedErrs := r.post(ctx, client, opts.Conversations, opts.Senders, func(c int) []byte {
		return textBody(t.phoneNumberID(), r.waID(c), fmt.Sprintf("wamid.bench.%s.seed.%d", r.run, c), "hello from the bench", time.Now())
	})
	if seedErrs > 0 {
		progress(fmt.Sprintf("fanout: %d of %d first messages refused", seedErrs, opts.Conversations))
	}
	deadline := time.Now().Add(assignTimeout)
	for r.assigned.Load() < int64(opts.Conversations) && time.Now().Before(deadline) && ctx.Err() == nil {
		progress(fmt.Sprintf("fanout: %d/%d conversations assigned", r.assigned.Load(), opts.Conversations))
		sleepCtx(ctx, 500*time.Millisecond)
	}
	res.Extra["conversations"] = float64(opts.Conversations)
	res.Extra["conversations_assigned"] = float64(r.assigned.Load())
	res.Extra["seed_seconds"] = time.Since(seedStart).Seconds()
	if ctx.Err() != nil {
		return res, fmt.Errorf("fanout: %w", ctx.Err())
	}

	r.send = func(ctx context.Context, seq int64, c int, at time.Time) (int, error) {
		return client.webhook(ctx, textBody(t.phoneNumberID(), r.waID(c), fmt.Sprintf("wamid.bench.%s.%d", r.run, seq), formatMarker(seq, at), at))
	}
	r.measure(ctx, &res, fl, opts.EnginePID, progress)
	return res, nil
}

// measure runs the load, waits up to Drain for the frames still in flight
// and fills res with what the sockets received; pid is the server's
// process, for its CPU time (0: not measured).
func (r *fanoutRun) measure(ctx context.Context, res *Result, fl *fleet, pid int, progress func(string)) {
	opts := r.opts
	r.pid = pid
	sent := r.load(ctx, progress)
	drainEnd := time.Now().Add(opts.Drain)
	for time.Now().Before(drainEnd) && ctx.Err() == nil {
		if exp, _, _ := r.tally(); exp == r.frames.count() {
			break
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	expected, lost, dup := r.tally()
	r.frames.fill(res)
	res.Duration = opts.Duration
	res.Throughput = float64(res.Ops) / opts.Duration.Seconds()
	closed := fl.closedEarly.Load()
	res.Errors = r.webhookErrors.Load() + r.behind.Load() + lost + closed
	x := res.Extra
	x["agents"] = float64(opts.Agents)
	x["users"] = float64(opts.Users)
	x["supervisor_sockets"] = 1
	x["rate_target_per_s"] = float64(opts.Rate)
	x["sent"] = float64(sent)
	x["sent_per_s"] = float64(sent) / opts.Duration.Seconds()
	x["delivered_frames_per_s"] = res.Throughput
	x["expected_frames"] = float64(expected)
	x["lost_frames"] = float64(lost)
	x["duplicate_frames"] = float64(dup)
	x["stray_frames"] = float64(r.stray.Load())
	x[r.accept+"_errors"] = float64(r.webhookErrors.Load())
	x["sends_behind"] = float64(r.behind.Load())
	x["sockets_closed_by_server"] = float64(closed)
	x[r.accept+"_p50_ms"] = ms(r.webhookLat.quantile(50))
	x[r.accept+"_p99_ms"] = ms(r.webhookLat.quantile(99))
	x["agent_p99_ms"] = ms(r.agentLat.quantile(99))
	x["supervisor_p99_ms"] = ms(r.supLat.quantile(99))
	x["p999_ms"] = ms(res.P999)
	if r.probe != nil {
		r.probe.finish(x, res.Ops)
	}
	progress(fmt.Sprintf("%s %s: delivered %.0f frames/s, p99 %v, p999 %v, lost %d, errors %d", res.Scenario, res.Variant, res.Throughput, res.P99, res.P999, lost, res.Errors))
}

// load sends Rate messages per second for Warmup+Duration through r.send
// and returns how many measured ones were answered 200.
func (r *fanoutRun) load(ctx context.Context, progress func(string)) int64 {
	opts := r.opts
	start := time.Now()
	measureStart := start.Add(opts.Warmup)
	end := measureStart.Add(opts.Duration)
	r.frames = newRecorder(measureStart)
	r.agentLat = newRecorder(measureStart)
	r.supLat = newRecorder(measureStart)
	r.webhookLat = newRecorder(measureStart)
	r.measureFrom.Store(measureStart.UnixNano())

	var sentOK atomic.Int64
	jobs := make(chan int64, opts.Senders*4)
	var wg sync.WaitGroup
	for w := 0; w < opts.Senders; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobs {
				c := int(seq % int64(opts.Conversations))
				at := time.Now()
				status, err := r.send(ctx, seq, c, at)
				measured := !at.Before(measureStart)
				if err != nil || status != 200 {
					if measured && ctx.Err() == nil {
						r.webhookErrors.Add(1)
					}
					continue
				}
				if measured {
					r.webhookLat.record(time.Since(at))
					r.posted[seq].Store(true)
					sentOK.Add(1)
				}
			}
		}()
	}

	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	nextCut := measureStart.Add(time.Second)
	var issued int64
	lastFrames, lastSent := int64(0), int64(0)
	for {
		now := time.Now()
		if !now.Before(end) || ctx.Err() != nil {
			break
		}
		if r.probe == nil && !now.Before(measureStart) {
			r.probe = startProbe(r.pid)
		}
		due := int64(now.Sub(start).Seconds() * float64(opts.Rate))
		for ; issued < due && issued < int64(len(r.got)); issued++ {
			select {
			case jobs <- issued:
			default:
				if !now.Before(measureStart) {
					r.behind.Add(1)
				}
			}
		}
		if !now.Before(nextCut) {
			for _, rec := range []*recorder{r.frames, r.agentLat, r.supLat, r.webhookLat} {
				rec.cut(now)
			}
			n, sent := r.frames.count(), sentOK.Load()
			progress(fmt.Sprintf("fanout %s: t=%ds sent %d/s of %d/s, delivered %d frames/s, p99 %v, errors %d", r.variant,
				int(now.Sub(measureStart).Seconds()), sent-lastSent, opts.Rate, n-lastFrames, r.frames.quantile(99), r.webhookErrors.Load()+r.behind.Load()))
			lastFrames, lastSent = n, sent
			nextCut = nextCut.Add(time.Second)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	// The last interval, cut short by the end of the load or of ctx.
	if now := time.Now(); now.Sub(nextCut.Add(-time.Second)) > 100*time.Millisecond {
		for _, rec := range []*recorder{r.frames, r.agentLat, r.supLat, r.webhookLat} {
			rec.cut(now)
		}
	}
	return sentOK.Load()
}

// tally counts the frames measured messages should have produced (one per
// socket of the conversation's assignee and one for the supervisor), the
// ones missing and the ones received more than once.
func (r *fanoutRun) tally() (expected, lost, dup int64) {
	for seq := range r.posted {
		if !r.posted[seq].Load() {
			continue
		}
		want := int64(1)
		if a := r.assignee[seq%r.opts.Conversations].Load(); a > 0 {
			want += int64(r.socketsOf[a-1])
		}
		got := int64(r.got[seq].Load())
		expected += want
		if got < want {
			lost += want - got
		} else {
			dup += got - want
		}
	}
	return expected, lost, dup
}

// post sends n bodies with conc workers and returns how many failed.
func (r *fanoutRun) post(ctx context.Context, client *engineClient, n, conc int, body func(int) []byte) int64 {
	var failed atomic.Int64
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if st, err := client.webhook(ctx, body(i)); err != nil || st != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return failed.Load()
}

func hostOf(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ticker calls fn every interval until the returned stop is called; stop
// waits for a call in progress.
func ticker(interval time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return func() { close(done); <-finished }
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
