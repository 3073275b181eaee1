package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/configs"
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

// outbound is the send side: the queue, the sender, and the built-in
// sandbox when no Cloud API token is configured.
type outbound struct {
	cfg       configs.Config
	log       *zap.Logger
	queue     outboundQueue
	inProcess bool
	client    *whatsapp.Client
	shaper    *whatsapp.Shaper
	sender    *sender.Sender

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
		q, err := rabbitqueue.New(ctx, cfg.RabbitMQURL, rabbitqueue.Options{Name: cfg.RabbitMQQueue, Prefetch: cfg.SendWorkers, MaxAttempts: cfg.SendMaxAttempts}, log)
		if err != nil {
			return nil, fmt.Errorf("connect to rabbitmq: %w", err)
		}
		o.queue, o.desc = q, "queue=rabbitmq"
	} else {
		o.queue = memqueue.New(memqueue.Options{Prefetch: cfg.SendWorkers, MaxAttempts: cfg.SendMaxAttempts, Logger: log})
		o.inProcess, o.desc = true, "queue=in-process"
	}
	apiURL, token := cfg.WhatsAppAPIURL, cfg.WhatsAppAccessToken
	if token == "" {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(cfg.SandboxPort)))
		if err != nil {
			_ = o.queue.Close()
			return nil, fmt.Errorf("listen for the WhatsApp sandbox on SANDBOX_PORT %d: %w", cfg.SandboxPort, err)
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

// startSender builds the sender once the conversation directory exists.
func (o *outbound) startSender(store engineStore, ce *conversationEngine, reg prometheus.Registerer) {
	o.sender = sender.New(sender.Options{Consumer: o.queue, Client: o.client, Shaper: o.shaper, Store: store, Directory: ce.host, Log: o.log, Registry: reg,
		NumberPause: o.cfg.NumberPause, RecipientPause: o.cfg.RecipientPause})
}

// recover re-publishes outbound messages still queued in the store. The
// in-process queue forgets its jobs when the process ends; the store does
// not, so nothing accepted is lost across a restart.
func (o *outbound) recover(ctx context.Context, store engineStore) error {
	if !o.inProcess {
		return nil
	}
	ms, err := store.QueuedOutbound(ctx, 1_000_000)
	if err != nil {
		return fmt.Errorf("recover queued sends: %w", err)
	}
	convs := map[string]actors.Conversation{}
	for _, m := range ms {
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
		if err := o.queue.Publish(ctx, job); err != nil {
			return fmt.Errorf("recover queued send %s: %w", m.ID, err)
		}
	}
	if len(ms) > 0 {
		o.log.Info("queued sends recovered from the store", zap.Int("count", len(ms)))
	}
	return nil
}

// serveSandbox runs the sandbox until ctx ends, posting its callbacks to
// the engine at engineAddr.
func (o *outbound) serveSandbox(ctx context.Context, engineAddr net.Addr, appSecret string) error {
	if o.sandboxLn == nil {
		return nil
	}
	_, port, _ := net.SplitHostPort(engineAddr.String())
	sb := cloudapi.New(cloudapi.Options{Log: o.log, WebhookURL: "http://127.0.0.1:" + port + "/api/whatsapp/webhook", AppSecret: appSecret,
		StatusDelay: o.cfg.SandboxStatusDelay})
	o.sandbox.Store(sb)
	srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- sb.Run(ctx) }()
	go func() { errc <- srv.Serve(o.sandboxLn) }()
	o.log.Info("whatsapp sandbox listening", zap.String("addr", o.sandboxLn.Addr().String()))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	for i := 0; i < 2; i++ {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
			o.log.Warn("sandbox stopped", zap.Error(err))
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
