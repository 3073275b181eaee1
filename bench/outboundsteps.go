package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Outbound's fixed-rate steps (see steps.go). A step's operation is a send
// accepted by the API, sent to the sandbox and with its status callbacks
// applied by the engine (the message reads "read"). The sends are paced at
// the step's rate for a warm-up and the measurement; the engine's CPU over
// the measurement (steady state: the callbacks of earlier sends are applied
// while later ones are sent) is divided by the sends of the measurement that
// completed. After the load the bench waits for the sandbox to have sent
// every accepted send and reads each conversation's newest messages through
// the API (outside the measurement) until every measured send reads "read".

// stepCallbackLag is how long after a step's measurement its sends may still
// be waiting for their callbacks for the step to count as held (the sandbox
// posts sent, delivered and read about 300 ms apart).
const stepCallbackLag = 5 * time.Second

// outboundSteps runs the fixed-rate steps on g, whose conversations
// outboundRun opened.
//
// With --quick, only the first variant (the in-process queue) runs steps,
// and steps above 1,000/s and twice the saturation run's end-to-end rate
// are not offered (they cannot be held, and draining their backlog would take
// longer than the quick run has); skipped says which were left out.
func outboundSteps(ctx context.Context, env *Env, g *engine, name string, customers int, saturation float64, first bool) (runs []Run, skipped []string, err error) {
	if len(env.Opts.Steps) == 0 || g.SandboxURL == "" || (env.Opts.Quick && !first) {
		return nil, nil, nil
	}
	token, err := g.login(ctx)
	if err != nil {
		return nil, nil, err
	}
	convs, err := conversationsByWaID(ctx, g, token)
	if err != nil {
		return nil, nil, err
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, rate := range env.Opts.Steps {
		if ctx.Err() != nil {
			break
		}
		if env.Opts.Quick && saturation > 0 && rate > 1000 && float64(rate) > 2*saturation {
			skipped = append(skipped, stepLabel(rate))
			continue
		}
		run, err := outboundStep(ctx, env, g, token, name, customers, rate, convs, runID)
		if err != nil {
			return runs, skipped, err
		}
		runs = append(runs, run)
	}
	return runs, skipped, nil
}

func outboundStep(ctx context.Context, env *Env, g *engine, token, name string, customers, rate int, convs map[string]string, runID string) (Run, error) {
	base := 500_000 // outboundRun's customers
	marker := fmt.Sprintf("bench-%ss%d-", runID, rate)
	_ = g.do(ctx, http.MethodDelete, g.SandboxURL+"/sandbox/whatsapp/sent", "", nil, http.StatusNoContent, nil)
	idle := env.settle(ctx, g)
	// Polled once a second: the log keeps the newest 10,000 sends, more
	// than a second of the highest step.
	sent := &sentCounter{marker: marker, every: time.Second}
	pollCtx, stopPoll := context.WithCancel(ctx)
	var polling sync.WaitGroup
	polling.Add(1)
	go func() { defer polling.Done(); sent.poll(pollCtx, g) }()
	defer func() { stopPoll(); polling.Wait() }()

	var mu sync.Mutex
	accepted := map[int64]time.Time{}
	var start, t0 time.Time
	api := env.loadWithCPU(ctx, g, loadSpec{Name: name + ": send " + stepLabel(rate), Rate: rate,
		Warmup: env.stepWarmup(), Measure: env.Opts.StepDuration,
		OnStart:   func(t time.Time) { start = t },
		OnMeasure: func() { t0 = time.Now() },
		Op: func(ctx context.Context, i int64) error {
			body := fmt.Appendf(nil, `{"to":"+%s","phoneNumberId":"`+benchPhoneNumberID+`","type":"text","text":{"body":"%s%d thanks for writing, your order ships today"}}`, waID(base+int(i%int64(customers))), marker, i)
			if err := g.do(ctx, http.MethodPost, g.URL+"/api/whatsapp/messages", token, body, http.StatusAccepted, nil); err != nil {
				return err
			}
			mu.Lock()
			accepted[i] = time.Now()
			mu.Unlock()
			return nil
		}})
	t1 := t0.Add(time.Duration(api.Seconds * float64(time.Second)))
	usedUs := api.EngineCPUPerOp * float64(api.Ops)
	mu.Lock()
	measured := map[int64]bool{}
	for i, at := range accepted {
		if !at.Before(t0) && !at.After(t1) {
			measured[i] = true
		}
	}
	total := int64(len(accepted))
	mu.Unlock()

	// Every accepted send reaches the sandbox, and then every measured send
	// reads "read", within the callback lag a held step may have after its
	// measurement (plus 2 s for the reading back): a step that needs
	// longer is not held, and waiting longer would not change that; its
	// sends completed by then are counted.
	deadline := t1.Add(stepCallbackLag + 2*time.Second)
	for ctx.Err() == nil && sent.count() < total && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	read := map[int64]bool{}
	var lag time.Duration
	for ctx.Err() == nil {
		missing := map[string]bool{}
		for i := range measured {
			if !read[i] {
				missing[convs[waID(base+int(i%int64(customers)))]] = true
			}
		}
		if len(missing) == 0 {
			lag = time.Since(t1)
			break
		}
		late := time.Now().After(deadline)
		got, err := readSends(ctx, g, token, missing, marker, start.Add(-time.Second))
		if err != nil {
			return Run{}, fmt.Errorf("step %s: read the messages back: %w", stepLabel(rate), err)
		}
		for i := range got {
			read[i] = true
		}
		if late { // one last reading after the deadline
			lag = time.Since(t1)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The provider's log: sends of the measurement, latency from when each
	// was due to when the sandbox accepted it, and sends in the window.
	hist := newHist()
	var completed, sentInWindow int64
	sent.mu.Lock()
	for i := range measured {
		at, ok := sent.seen[i]
		if ok && read[i] {
			completed++
			due := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
			_ = hist.RecordValue(min(max(at.Sub(due).Microseconds(), histMin), histMax))
		}
	}
	for _, at := range sent.seen {
		if !at.Before(t0) && !at.After(t1) {
			sentInWindow++
		}
	}
	sent.mu.Unlock()

	run := Run{Name: fmt.Sprintf("%s: %s end to end (callbacks applied)", name, stepLabel(rate)), Offered: float64(rate),
		Ops: completed, Errors: api.Errors, Seconds: api.Seconds, Latency: summarize(hist), Series: api.Series, FirstError: api.FirstError,
		EngineCPUCores: api.EngineCPUCores}
	if run.Seconds > 0 {
		run.Rate = min(float64(completed), float64(sentInWindow)) / run.Seconds
	}
	if completed > 0 && usedUs > 0 {
		run.EngineCPUPerOp = usedUs / float64(completed)
	}
	sandboxUs, ownSandbox := api.Extra[sandboxCPUKey]
	run.Held = api.Errors == 0 && run.Rate >= heldShare*float64(rate) && completed == int64(len(measured)) && lag <= stepCallbackLag
	run.Extra = map[string]float64{
		"acceptedPerSec": api.Rate, "acceptP99Ms": api.Latency.P99, "sentInWindowPerSec": float64(sentInWindow) / max(run.Seconds, 1e-9),
		"measuredSends": float64(len(measured)), "callbacksApplied": float64(len(read)), "callbackLagS": lag.Seconds(),
		"settledCores": idle, "pollMisses": float64(sent.misses.Load()),
	}
	if ownSandbox && completed > 0 {
		// Per completed send, as the engine's figure.
		run.Extra[sandboxCPUKey] = sandboxUs * float64(api.Ops) / float64(completed)
	}
	if !run.Held {
		run.Name += fmt.Sprintf(" (NOT held: %s/s)", num(run.Rate))
	}
	return run, nil
}

// conversationsByWaID lists the engine's conversations: wa_id → id.
func conversationsByWaID(ctx context.Context, g *engine, token string) (map[string]string, error) {
	out := map[string]string{}
	for page := 1; ; page++ {
		var resp struct {
			Data struct {
				Items []struct {
					ID   string `json:"id"`
					WaID string `json:"waId"`
				} `json:"items"`
				Total int `json:"total"`
			} `json:"data"`
		}
		if err := g.do(ctx, http.MethodGet, fmt.Sprintf("%s/api/whatsapp/conversations?limit=100&page=%d", g.URL, page), token, nil, http.StatusOK, &resp); err != nil {
			return nil, fmt.Errorf("list conversations: %w", err)
		}
		for _, c := range resp.Data.Items {
			out[c.WaID] = c.ID
		}
		if len(resp.Data.Items) == 0 || len(out) >= resp.Data.Total {
			return out, nil
		}
	}
}

// readSends pages each conversation's messages newest first back to since
// and returns the bench sends (text starting with marker) that read "read".
func readSends(ctx context.Context, g *engine, token string, convIDs map[string]bool, marker string, since time.Time) (map[int64]bool, error) {
	var mu sync.Mutex
	read := map[int64]bool{}
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(8)
	for id := range convIDs {
		if id == "" {
			continue
		}
		eg.Go(func() error {
			before := ""
			for {
				var resp struct {
					Data struct {
						Items []struct {
							Text      string    `json:"text"`
							Status    string    `json:"status"`
							CreatedAt time.Time `json:"createdAt"`
						} `json:"items"`
						NextCursor string `json:"nextCursor"`
					} `json:"data"`
				}
				u := g.URL + "/api/whatsapp/conversations/" + id + "/messages?limit=100"
				if before != "" {
					u += "&before=" + url.QueryEscape(before)
				}
				if err := g.do(ctx, http.MethodGet, u, token, nil, http.StatusOK, &resp); err != nil {
					return err
				}
				older := false
				for _, m := range resp.Data.Items {
					if m.CreatedAt.Before(since) {
						older = true
						continue
					}
					rest, ok := strings.CutPrefix(m.Text, marker)
					if !ok || m.Status != "read" {
						continue
					}
					end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
					if end < 0 {
						end = len(rest)
					}
					if seq, err := strconv.ParseInt(rest[:end], 10, 64); err == nil {
						mu.Lock()
						read[seq] = true
						mu.Unlock()
					}
				}
				if older || resp.Data.NextCursor == "" {
					return nil
				}
				before = resp.Data.NextCursor
			}
		})
	}
	return read, eg.Wait()
}
