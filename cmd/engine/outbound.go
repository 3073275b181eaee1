package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/gateway/outbound/sender"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
	"github.com/wacc/engine/gateway/sandbox/cloudapi"
	"github.com/wacc/engine/persistence/memqueue"
	"github.com/wacc/engine/persistence/rabbitqueue"
)

// outboundQueue is the outbound queue with its lifecycle.
type outboundQueue interface {
	actors.OutboundPublisher
	actors.OutboundConsumer
	actors.DeadLetters
	Close() error
}

// outbound is the send side: the queue, the Cloud API client and shaper
// the sender uses (built by newSender), and the built-in
// sandbox when no Cloud API token is configured.
type outbound struct {
	cfg       configs.Config
	log       *zap.Logger
	queue     outboundQueue
	inProcess bool
	// rabbit is the queue when it is RabbitMQ, for /readyz.
	rabbit *rabbitqueue.Queue
	client *whatsapp.Client
	shaper *whatsapp.Shaper

	// sandboxLn is bound at start so the client knows where to send; the
	// sandbox is served once the engine's own address (its webhook) is
	// known.
	sandboxLn net.Listener
	sandbox   atomic.Pointer[cloudapi.Sandbox]
	desc      string
}

// openOutbound opens the queue and, without a token, binds the sandbox.
func openOutbound(ctx context.Context, cfg configs.Config, budget whatsapp.Budget, log *zap.Logger) (*outbound, error) {
	o := &outbound{cfg: cfg, log: log}
	if cfg.RabbitMQURL != "" {
		cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
		q, err := rabbitqueue.New(cctx, cfg.RabbitMQURL, rabbitqueue.Options{Name: cfg.RabbitMQQueue, Prefetch: cfg.SendWorkers, MaxAttempts: cfg.SendMaxAttempts}, log)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("connect to RABBITMQ_URL within CONNECT_TIMEOUT %s: %w", cfg.ConnectTimeout, err)
		}
		o.queue, o.rabbit, o.desc = q, q, "queue=rabbitmq"
	} else {
		o.queue = memqueue.New(memqueue.Options{Prefetch: cfg.SendWorkers, MaxAttempts: cfg.SendMaxAttempts, Logger: log})
		o.inProcess, o.desc = true, "queue=in-process"
	}
	apiURL, token := cfg.WhatsAppAPIURL, cfg.WhatsAppAccessToken
	if token == "" {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(cfg.SandboxPort)))
		if err != nil {
			_ = o.queue.Close()
			return nil, fmt.Errorf("listen for the WhatsApp sandbox on SANDBOX_PORT %d: %w", cfg.SandboxPort, listenCause(err))
		}
		o.sandboxLn = ln
		apiURL, token = "http://"+ln.Addr().String(), "sandbox-token"
		o.desc += " whatsapp=sandbox(" + ln.Addr().String() + ")"
	} else {
		o.desc += " whatsapp=" + apiURL
	}
	o.client = whatsapp.NewClient(whatsapp.ClientOptions{BaseURL: apiURL, Version: cfg.WhatsAppAPIVersion, AccessToken: token,
		IdleConns: cfg.SendWorkers})
	o.shaper = whatsapp.NewShaper(whatsapp.ShaperOptions{MPS: cfg.WhatsAppMPS, PairInterval: cfg.PairInterval, PairBurst: cfg.PairBurst, Limiter: budget})
	return o, nil
}

// newSender builds the sender of the queue's jobs: it needs the
// conversations' Directory, which is built after the queue (the
// conversations publish to it).
func (o *outbound) newSender(store engineStore, blobs mediabytes.Blobs, dir conversation.Directory, pauses *sender.Pauses, reg prometheus.Registerer) *sender.Sender {
	opts := sender.Options{Consumer: o.queue, Client: o.client, Shaper: o.shaper, Store: store, Directory: dir, Log: o.log, Registry: reg,
		NumberPause: o.cfg.NumberPause, RecipientPause: o.cfg.RecipientPause, Pauses: pauses}
	if blobs != nil {
		// Our media: upload jobs, and sends that wait for them.
		opts.Media, opts.Blobs, opts.Uploader, opts.Outbox = store, blobs, o.client, o.queue
	}
	return sender.New(opts)
}

// check is the readiness probe of the queue: RabbitMQ's live connection
// and a round trip to the broker; nil for the in-process queue.
func (o *outbound) check() *gateway.Check {
	if o.rabbit == nil {
		return nil
	}
	return &gateway.Check{Name: "rabbitmq", Ping: o.rabbit.Ping}
}

// rabbitBlockedGauge is engine_rabbitmq_blocked: 1 while RabbitMQ blocks
// the outbound queue's connection (connection.blocked, a memory or disk
// alarm), when sends answer 503 at once.
func rabbitBlockedGauge(q *rabbitqueue.Queue) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "engine_rabbitmq_blocked",
		Help: "1 while RabbitMQ blocks the outbound queue's publishing connection (memory or disk alarm), else 0."},
		func() float64 {
			if blocked, _ := q.Blocked(); blocked {
				return 1
			}
			return 0
		})
}

// staleQueued is how long a message may stay queued in the store before a
// start-up on a shared database (MongoDB) publishes it again: one queued
// that long was either never published (the process died between storing
// and publishing it) or is waiting out a backoff or a pause, and a second
// job for it is skipped by the sender once the first has sent it.
const staleQueued = 2 * time.Minute

// recover publishes again the outbound messages still queued in the store,
// so nothing accepted is lost across a crash. The in-process queue forgets
// its jobs when the process ends, so all of them. RabbitMQ keeps its jobs,
// but a crash between storing a message and publishing it leaves one the
// broker never had: with exclusive (the engine holds DATA_DIR, no other
// engine is sending) every queued message is published again, otherwise
// those queued longer than staleQueued. A message with two jobs is sent
// once: the sender skips a job whose message is no longer queued.
func (o *outbound) recover(ctx context.Context, store engineStore, exclusive bool) error {
	ms, err := store.QueuedOutbound(ctx, 1_000_000)
	if err != nil {
		return fmt.Errorf("recover queued sends: %w", err)
	}
	cutoff := time.Now().Add(-staleQueued)
	convs := map[string]actors.Conversation{}
	n := 0
	for _, m := range ms {
		if !o.inProcess && !exclusive && m.CreatedAt.After(cutoff) {
			continue
		}
		c, ok := convs[m.ConversationID]
		if !ok {
			if c, err = store.Conversation(ctx, m.ConversationID); err != nil {
				return fmt.Errorf("recover queued send %s: %w", m.ID, err)
			}
			convs[m.ConversationID] = c
		}
		prio := actors.PriorityReply
		if m.Type == "template" {
			prio = actors.PriorityBulk
		}
		job := actors.OutboundJob{MessageID: m.ID, ConversationID: c.ID, PhoneNumberID: c.PhoneNumberID, To: c.WaID, Priority: prio,
			Body: m.Raw, Attempt: 1, EnqueuedAt: m.CreatedAt}
		if m.Media != nil {
			// A send of our medium: its upload job may have been lost with
			// the queue (or died mid-upload); ask for one again unless the
			// medium is uploaded for this number (the sender skips an upload
			// that is done by then).
			job.MediaID = m.Media.ID
			if err := o.recoverUpload(ctx, store, job); err != nil {
				return fmt.Errorf("recover queued send %s: %w", m.ID, err)
			}
		}
		if err := o.queue.Publish(ctx, job); err != nil {
			return fmt.Errorf("recover queued send %s: %w", m.ID, err)
		}
		n++
	}
	if n > 0 {
		o.log.Info("queued sends published again from the store", zap.Int("count", n), zap.Bool("in_process", o.inProcess))
	}
	return nil
}

// recoverUpload publishes an upload job for the medium of the recovered
// send job, before it, unless the medium is uploaded fresh for its number
// or gone (the send then fails on its own).
func (o *outbound) recoverUpload(ctx context.Context, store engineStore, job actors.OutboundJob) error {
	med, err := store.Media(ctx, job.MediaID)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		return nil
	case err != nil:
		return err
	case sender.Fresh(med, job.PhoneNumberID, time.Now()):
		return nil
	}
	up := job
	up.Kind, up.Body = actors.JobMediaUpload, nil
	return o.queue.Publish(ctx, up)
}

// listenCause is the reason a listen failed ("address already in use"),
// without the repeated address.
func listenCause(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// serveSandbox runs the sandbox until ctx ends, posting its callbacks to
// the engine at engineAddr.
func (o *outbound) serveSandbox(ctx context.Context, engineAddr net.Addr, appSecret string) error {
	if o.sandboxLn == nil {
		return nil
	}
	_, port, _ := net.SplitHostPort(engineAddr.String())
	sb := cloudapi.New(cloudapi.Options{Log: o.log, WebhookURL: "http://127.0.0.1:" + port + "/api/whatsapp/webhook", AppSecret: appSecret,
		StatusDelay: o.cfg.SandboxStatusDelay, BusinessAccountID: o.cfg.SandboxWABAID, PricingModel: o.cfg.SandboxPricing,
		ServiceWindow: o.cfg.SandboxWindow, AssumeWindowOpen: o.cfg.SandboxAssumeWindow})
	o.sandbox.Store(sb)
	return serveSandbox(ctx, o.log, "whatsapp sandbox", o.sandboxLn, sb.Handler(), sb.Run)
}

// serveSandbox serves a built-in sandbox's handler on ln and runs its
// background work (run: its callbacks) until ctx ends, then shuts both
// down; their errors are logged, never fatal to the engine.
func serveSandbox(ctx context.Context, log *zap.Logger, name string, ln net.Listener, h http.Handler, run func(context.Context) error) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- run(ctx) }()
	go func() { errc <- srv.Serve(ln) }()
	log.Info(name+" listening", zap.String("addr", ln.Addr().String()))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	for i := 0; i < 2; i++ {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
			log.Warn(name+" stopped", zap.Error(err))
		}
	}
	return nil
}

func (o *outbound) close() {
	if o.sandboxLn != nil && o.sandbox.Load() == nil {
		_ = o.sandboxLn.Close()
	}
	if err := o.queue.Close(); err != nil {
		o.log.Warn("close outbound queue", zap.Error(err))
	}
}

// countingPublisher counts what the conversations publish to the queue:
// published (attempted) and confirmed (durably queued). Retries and dead
// letters are counted by the sender.
type countingPublisher struct {
	actors.OutboundPublisher
	published prometheus.Counter
	confirmed prometheus.Counter
}

func newCountingPublisher(p actors.OutboundPublisher, reg prometheus.Registerer) *countingPublisher {
	c := &countingPublisher{OutboundPublisher: p,
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_outbound_published_total", Help: "Sends published to the outbound queue."}),
		confirmed: prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_outbound_confirmed_total", Help: "Sends the outbound queue confirmed as durably queued."}),
	}
	reg.MustRegister(c.published, c.confirmed)
	return c
}

func (c *countingPublisher) Publish(ctx context.Context, job actors.OutboundJob) error {
	c.published.Inc()
	if err := c.OutboundPublisher.Publish(ctx, job); err != nil {
		return err
	}
	c.confirmed.Inc()
	return nil
}
