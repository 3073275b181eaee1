package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// runOutbound sends text messages through the API to customers who wrote
// first, with the in-process queue and, when the broker answers, RabbitMQ;
// then runs a bare amqp091 publish-with-confirms/consume loop on the same
// broker.
func runOutbound(ctx context.Context, env *Env, res *Result) error {
	customers := 1000
	if env.Opts.Quick {
		customers = 200
	}
	pacing := []string{"WHATSAPP_MPS=10000", "WHATSAPP_PAIR_BURST=1000", "WHATSAPP_PAIR_INTERVAL=0s", "SEND_WORKERS=64"}
	variants := []struct {
		name string
		env  []string
	}{{name: "in-process queue"}}
	if env.Opts.Target != "" {
		variants[0].name = "target"
	}
	rabbit := env.Opts.Target == "" && reachable(env.Opts.RabbitURL)
	queue := "bench.outbound." + strconv.FormatInt(time.Now().UnixNano(), 36)
	if rabbit {
		variants = append(variants, struct {
			name string
			env  []string
		}{name: "RabbitMQ", env: []string{"RABBITMQ_URL=" + env.Opts.RabbitURL, "RABBITMQ_QUEUE=" + queue}})
	} else if env.Opts.Target == "" {
		res.Notes = append(res.Notes, "RabbitMQ at "+redact(env.Opts.RabbitURL)+" is unreachable: the RabbitMQ variant and its peer are skipped")
	}
	var rabbitE2E float64
	for k, v := range variants {
		g, err := env.startEngineOwnSandbox(ctx, append(pacing, v.env...)...)
		if err != nil {
			return err
		}
		api, e2e, err := outboundRun(ctx, env, g, v.name, customers)
		var steps []Run
		var skipped []string
		if err == nil {
			steps, skipped, err = outboundSteps(ctx, env, g, v.name, customers, e2e.Rate, k == 0)
		}
		if len(skipped) > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: steps %s not offered in --quick: above 1,000/s and more than twice the saturation run's %s sends/s end to end, they cannot be held and their backlog would outlast the quick run", v.name, strings.Join(skipped, ", "), num(e2e.Rate)))
		}
		if env.Opts.Quick && k > 0 && len(env.Opts.Steps) > 0 {
			res.Notes = append(res.Notes, v.name+": no fixed-rate steps in --quick (the in-process queue's steps stand for both)")
		}
		_ = g.Stop()
		if err != nil {
			return fmt.Errorf("outbound %s: %w", v.name, err)
		}
		res.Runs = append(res.Runs, api, e2e)
		res.Runs = append(res.Runs, steps...)
		if res.CPU == nil {
			res.CPU = &CPULine{Op: "send (accepted, sent, its 3 status callbacks applied)", TargetUs: 250,
				Note: "saturation is the API run's CPU per accepted send (its callbacks partly after the measurement)"}
		}
		if k == 0 && g.Child() {
			res.CPU.Note += "; " + sandboxNote(g)
			res.Notes = append(res.Notes, sandboxNote(g)+sandboxCPUs(append([]Run{api}, steps...)))
		}
		for _, st := range steps {
			res.CPU.Figures = append(res.CPU.Figures, cpuFigure(v.name+" "+stepLabel(int(st.Offered)), st))
		}
		if api.EngineCPUPerOp > 0 {
			res.CPU.Figures = append(res.CPU.Figures, cpuFigure(v.name+" saturation", api))
		}
		if v.name == "RabbitMQ" {
			rabbitE2E = e2e.Rate
			res.Comparisons = append(res.Comparisons, compare("end-to-end sends with RabbitMQ", e2e.Rate, 5000, "/s", false))
		} else {
			res.Comparisons = append(res.Comparisons, compare("end-to-end sends, "+v.name, e2e.Rate, 5000, "/s", false))
		}
		if env.Opts.Target != "" {
			res.Notes = append(res.Notes, "against --target the queue is whatever the target is configured with; end-to-end needs --sandbox")
		}
	}
	if rabbit {
		peer, err := bareAMQPLoop(ctx, env, env.Opts.RabbitURL, queue+".peer")
		if err != nil {
			res.Notes = append(res.Notes, "bare amqp091 loop failed: "+err.Error())
		} else {
			res.Runs = append(res.Runs, peer)
			res.Comparisons = append(res.Comparisons, compare("engine end-to-end (RabbitMQ) vs bare amqp091 confirm+consume loop (0.7× wanted for the queue stage)", rabbitE2E/max(peer.Rate, 1), 0.7, "×", false))
			res.Notes = append(res.Notes, "the engine's figure is the whole pipeline (API, actor, store, queue, sender, sandbox), so it bounds the queue stage's ratio from below")
		}
		if err := deleteQueues(env.Opts.RabbitURL, append(engineQueues(queue), queue+".peer")...); err != nil {
			res.Notes = append(res.Notes, err.Error())
		}
	}
	return nil
}

// outboundRun opens `customers` conversations with an inbound webhook each,
// sends text messages through the API for warm-up + duration, then waits
// until the sandbox has sent every accepted message. It returns the API
// accept run and the end-to-end run.
func outboundRun(ctx context.Context, env *Env, g *engine, name string, customers int) (Run, Run, error) {
	token, err := g.login(ctx)
	if err != nil {
		return Run{}, Run{}, err
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	base := 500_000 // customers apart from ingest's
	for i := range customers {
		if err := g.postWebhook(ctx, textWebhook(base+i, runID, int64(i), "hello, I have a question")); err != nil {
			return Run{}, Run{}, fmt.Errorf("open conversation %d: %w", i, err)
		}
	}
	if err := waitConversations(ctx, g, token, customers); err != nil {
		return Run{}, Run{}, err
	}
	sent := &sentCounter{marker: "bench-" + runID + "-"}
	if g.SandboxURL != "" {
		_ = g.do(ctx, http.MethodDelete, g.SandboxURL+"/sandbox/whatsapp/sent", "", nil, http.StatusNoContent, nil)
	}
	pollCtx, stopPoll := context.WithCancel(ctx)
	var polling sync.WaitGroup
	if g.SandboxURL != "" {
		polling.Add(1)
		go func() { defer polling.Done(); sent.poll(pollCtx, g) }()
	}
	var accepted atomic.Int64
	start := time.Now()
	api := env.loadWithCPU(ctx, g, loadSpec{Name: name + ": API accept", Rate: env.Opts.Rate, Op: func(ctx context.Context, i int64) error {
		body := fmt.Appendf(nil, `{"to":"+%s","phoneNumberId":"`+benchPhoneNumberID+`","type":"text","text":{"body":"%s%d thanks for writing, your order ships today"}}`, waID(base+int(i%int64(customers))), sent.marker, i)
		if err := g.do(ctx, http.MethodPost, g.URL+"/api/whatsapp/messages", token, body, http.StatusAccepted, nil); err != nil {
			return err
		}
		accepted.Add(1)
		return nil
	}})
	e2e := Run{Name: name + ": end to end (sandbox sent)"}
	if g.SandboxURL == "" {
		stopPoll()
		polling.Wait()
		return api, e2e, nil
	}
	want := accepted.Load()
	deadline := time.Now().Add(2 * time.Minute)
	last, lastAt := int64(0), time.Now()
	for ctx.Err() == nil {
		n := sent.count()
		if n >= want {
			break
		}
		if n != last {
			last, lastAt = n, time.Now()
		}
		if time.Since(lastAt) > 15*time.Second || time.Now().After(deadline) {
			e2e.Errors = want - n
			break
		}
		fmt.Fprintf(env.Progress, "  %-28s drain   sandbox sent %d of %d\n", name, n, want)
		time.Sleep(time.Second)
	}
	stopPoll()
	polling.Wait()
	e2e.Ops, e2e.Series = sent.count(), sent.series(start.Add(env.Opts.Warmup))
	e2e.Seconds = sent.span().Seconds()
	if e2e.Seconds > 0 {
		e2e.Rate = float64(e2e.Ops) / e2e.Seconds
	}
	e2e.Extra = map[string]float64{"accepted": float64(want), "pollMisses": float64(sent.misses.Load())}
	return api, e2e, nil
}

// waitConversations waits until the engine lists at least n conversations.
func waitConversations(ctx context.Context, g *engine, token string, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var out struct {
			Data struct {
				Total int `json:"total"`
			} `json:"data"`
		}
		err := g.do(ctx, http.MethodGet, g.URL+"/api/whatsapp/conversations?limit=1", token, nil, http.StatusOK, &out)
		if err == nil && out.Data.Total >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %d conversations: have %d after a minute (%v)", n, out.Data.Total, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sentCounter counts the bench's messages in the sandbox's sent log. The
// log keeps only its newest entries, so it is polled often, each time for
// the entries after the last one seen (?after=), and the bench's sequence
// numbers are collected as they appear. Asking for the new entries only
// keeps the polling cheap: listing the whole log (10,000 entries) every
// second cost the engine, which serves the sandbox, a noticeable share of
// its CPU and held the sandbox's log while it copied.
type sentCounter struct {
	marker string
	// every is the polling interval (250 ms when zero).
	every  time.Duration
	mu     sync.Mutex
	seen   map[int64]time.Time
	after  uint64
	misses atomic.Int64
}

func (s *sentCounter) poll(ctx context.Context, g *engine) {
	every := s.every
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.once(ctx, g)
		select {
		case <-ctx.Done():
			s.once(context.Background(), g)
			return
		case <-t.C:
		}
	}
}

func (s *sentCounter) once(ctx context.Context, g *engine) {
	var out struct {
		Items []struct {
			Body json.RawMessage `json:"body"`
			At   time.Time       `json:"at"`
			Seq  uint64          `json:"seq"`
		} `json:"items"`
	}
	s.mu.Lock()
	after := s.after
	s.mu.Unlock()
	if err := g.do(ctx, http.MethodGet, g.SandboxURL+"/sandbox/whatsapp/sent?after="+strconv.FormatUint(after, 10), "", nil, http.StatusOK, &out); err != nil {
		if ctx.Err() == nil {
			s.misses.Add(1)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[int64]time.Time{}
	}
	for _, it := range out.Items {
		s.after = max(s.after, it.Seq)
		b := string(it.Body)
		k := strings.Index(b, s.marker)
		if k < 0 {
			continue
		}
		digits := b[k+len(s.marker):]
		end := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(digits)
		}
		if seq, err := strconv.ParseInt(digits[:end], 10, 64); err == nil {
			if _, ok := s.seen[seq]; !ok {
				s.seen[seq] = it.At
			}
		}
	}
}

func (s *sentCounter) count() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.seen))
}

// span is the time from the first to the last send seen.
func (s *sentCounter) span() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first, last time.Time
	for _, at := range s.seen {
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	return last.Sub(first)
}

// series counts the sends per second from zero, the end of the warm-up
// (earlier seconds are negative, as in the load's own series).
func (s *sentCounter) series(zero time.Time) []Bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[int]int64{}
	lo, hi := 0, -1
	for _, at := range s.seen {
		sec := int(math.Floor(at.Sub(zero).Seconds()))
		counts[sec]++
		if hi < lo {
			lo, hi = sec, sec
		}
		lo, hi = min(lo, sec), max(hi, sec)
	}
	var buckets []Bucket
	for sec := lo; sec <= hi; sec++ {
		buckets = append(buckets, Bucket{Second: sec, Ops: counts[sec]})
	}
	return buckets
}

// reachable reports whether the broker of an amqp URL accepts TCP.
func reachable(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Host
	if u.Port() == "" {
		host += ":5672"
	}
	c, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(bad URL)"
	}
	return u.Redacted()
}

// bareAMQPLoop publishes persistent messages with confirms to a durable
// queue and consumes them with manual acks, on the same broker: the op is
// one publish confirmed; the rate reported is messages consumed per second.
func bareAMQPLoop(ctx context.Context, env *Env, raw, queue string) (Run, error) {
	conn, err := amqp.Dial(raw)
	if err != nil {
		return Run{}, fmt.Errorf("bare amqp loop: dial: %w", err)
	}
	defer conn.Close()
	pub, err := conn.Channel()
	if err != nil {
		return Run{}, fmt.Errorf("bare amqp loop: %w", err)
	}
	if _, err := pub.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		return Run{}, fmt.Errorf("bare amqp loop: declare %s: %w", queue, err)
	}
	if err := pub.Confirm(false); err != nil {
		return Run{}, fmt.Errorf("bare amqp loop: confirm mode: %w", err)
	}
	sub, err := conn.Channel()
	if err != nil {
		return Run{}, fmt.Errorf("bare amqp loop: %w", err)
	}
	if err := sub.Qos(256, 0, false); err != nil {
		return Run{}, fmt.Errorf("bare amqp loop: qos: %w", err)
	}
	deliveries, err := sub.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		return Run{}, fmt.Errorf("bare amqp loop: consume: %w", err)
	}
	var consumed atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range deliveries {
			_ = d.Ack(false)
			consumed.Add(1)
		}
	}()
	body := []byte(`{"messageId":"0123456789abcdef01234567","conversationId":"0123456789abcdef01234567","to":"4917000000001","type":"text","text":{"body":"thanks for writing, your order ships today"},"attempt":1,"priority":5}`)
	var c0 int64
	var t0 time.Time
	run := env.load(ctx, loadSpec{Name: "bare amqp091 confirm+consume", Rate: env.Opts.Rate,
		OnMeasure: func() { c0, t0 = consumed.Load(), time.Now() },
		Op: func(ctx context.Context, _ int64) error {
			conf, err := pub.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false,
				amqp.Publishing{ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: body})
			if err != nil {
				return err
			}
			ok, err := conf.WaitContext(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("publish nacked")
			}
			return nil
		}})
	consumedRate := float64(consumed.Load()-c0) / time.Since(t0).Seconds()
	run.Extra = map[string]float64{"publishConfirmedPerSec": run.Rate, "consumedPerSec": consumedRate}
	run.Rate = min(run.Rate, consumedRate)
	_ = sub.Close()
	<-done
	return run, nil
}

// engineQueues are the queues the engine declares for RABBITMQ_QUEUE=name
// with the default delay tiers (see package rabbitqueue).
func engineQueues(name string) []string {
	qs := []string{name, name + ".dead"}
	for _, ms := range []int{1000, 5000, 15000, 60000, 300000, 900000, 3600000} {
		qs = append(qs, name+".retry."+strconv.Itoa(ms))
	}
	return qs
}

// deleteQueues removes queues the bench (or its engine) declared; a queue
// that does not exist is not an error.
func deleteQueues(raw string, queues ...string) error {
	conn, err := amqp.Dial(raw)
	if err != nil {
		return fmt.Errorf("delete bench queues: %w", err)
	}
	defer conn.Close()
	for _, q := range queues {
		ch, err := conn.Channel() // a failed delete closes its channel
		if err != nil {
			return fmt.Errorf("delete bench queues: %w", err)
		}
		_, err = ch.QueueDelete(q, false, false, false)
		_ = ch.Close()
		var ae *amqp.Error
		if err != nil && !(errors.As(err, &ae) && ae.Code == amqp.NotFound) {
			return fmt.Errorf("delete bench queue %s: %w", q, err)
		}
	}
	return nil
}
