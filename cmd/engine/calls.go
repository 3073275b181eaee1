package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/gateway/outbound/callsender"
	exotelapi "github.com/wacc/engine/gateway/outbound/exotel"
	"github.com/wacc/engine/gateway/sandbox/exotel"
	"github.com/wacc/engine/persistence/memqueue"
	"github.com/wacc/engine/persistence/rabbitqueue"
	"github.com/wacc/engine/supervisors"
)

// engineCalls is the call side: the exotel.outbound queue, the Exotel
// client (or the built-in Exotel sandbox it talks to), the call actors and
// the sender of connect requests.
type engineCalls struct {
	cfg    configs.Config
	log    *zap.Logger
	queue  outboundQueue
	rabbit *rabbitqueue.Queue
	// secret is the callbacks' URL secret; callbackURL the StatusCallback
	// given to Exotel.
	secret      string
	callbackURL string
	apiURL      string
	apiKey      string
	apiToken    string

	sandboxLn net.Listener
	sandbox   atomic.Pointer[exotel.Sandbox]

	host   *supervisors.Calls
	sender *callsender.Sender
	store  actors.CallStore
	desc   string
}

// openCalls opens the queue of connect requests and, without an Exotel
// token, binds the Exotel sandbox on SANDBOX_EXOTEL_PORT of the loopback. enginePort is
// the API's port, where the sandbox posts its callbacks.
func openCalls(ctx context.Context, cfg configs.Config, enginePort int, log *zap.Logger) (*engineCalls, error) {
	c := &engineCalls{cfg: cfg, log: log.With(zap.String("component", "calls")), secret: cfg.ExotelWebhookSecret,
		apiURL: cfg.ExotelAPIURL, apiKey: cfg.ExotelAPIKey, apiToken: cfg.ExotelAPIToken}
	if c.secret == "" {
		c.secret = randomSecret()
	}
	if cfg.RabbitMQURL != "" {
		cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
		q, err := rabbitqueue.New(cctx, cfg.RabbitMQURL, rabbitqueue.Options{Name: cfg.RabbitMQCallQueue, Prefetch: cfg.CallWorkers, MaxAttempts: cfg.SendMaxAttempts}, log)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("connect to RABBITMQ_URL within CONNECT_TIMEOUT %s (queue %s): %w", cfg.ConnectTimeout, cfg.RabbitMQCallQueue, err)
		}
		c.queue, c.rabbit, c.desc = q, q, "calls=rabbitmq:"+cfg.RabbitMQCallQueue
	} else {
		c.queue = memqueue.New(memqueue.Options{Prefetch: cfg.CallWorkers, MaxAttempts: cfg.SendMaxAttempts, Logger: log})
		c.desc = "calls=in-process"
	}
	base := cfg.ExotelCallbackURL
	if cfg.ExotelSandboxRuns() {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(cfg.SandboxExotelPort)))
		if err != nil {
			_ = c.queue.Close()
			return nil, fmt.Errorf("listen for the Exotel sandbox on SANDBOX_EXOTEL_PORT %d: %w", cfg.SandboxExotelPort, listenCause(err))
		}
		c.sandboxLn = ln
		c.apiURL, c.apiKey, c.apiToken = "http://"+ln.Addr().String(), exotel.DefaultAPIKey, exotel.DefaultAPIToken
		c.desc += " exotel=sandbox(" + ln.Addr().String() + ")"
		if base == "" {
			base = fmt.Sprintf("http://127.0.0.1:%d", enginePort)
		}
	} else {
		c.desc += " exotel=" + cfg.ExotelAPIURL
	}
	c.callbackURL = base + "/api/calls/webhook?" + url.Values{"secret": {c.secret}}.Encode()
	return c, nil
}

// build makes the Exotel client, the call actors' host and the sender, on
// the actor system and event bus of the conversations.
func (c *engineCalls) build(store engineStore, system *actor.ActorSystem, events actors.Publisher, auditor call.Auditor, reg prometheus.Registerer) error {
	client, err := exotelapi.NewClient(exotelapi.Options{BaseURL: c.apiURL, AccountSID: c.cfg.ExotelSID, APIKey: c.apiKey, APIToken: c.apiToken,
		CallerID: c.cfg.ExotelCallerID, StatusCallback: c.callbackURL})
	if err != nil {
		return fmt.Errorf("exotel client (EXOTEL_API_URL, EXOTEL_SID, EXOTEL_CALLER_ID): %w", err)
	}
	deps := &call.Deps{Store: store, Publisher: events, Outbox: c.queue, Lookup: client, Audit: auditor, Log: c.log,
		Config: call.Config{Grace: c.cfg.CallExpiryGrace, QueueTTL: c.cfg.CallQueueTTL}}
	c.store = store
	c.host = supervisors.NewCalls(system, deps, c.log)
	if c.sender, err = callsender.New(callsender.Options{Consumer: c.queue, Client: client, Directory: c.host, Log: c.log, Registry: reg}); err != nil {
		return err
	}
	return nil
}

// rehydrate brings every live call back into memory, so its timers run and
// a new one's connect job is published again if it was lost.
func (c *engineCalls) rehydrate(ctx context.Context) error {
	n, err := c.host.Rehydrate(ctx, c.store)
	if err != nil && ctx.Err() == nil {
		c.log.Error("live calls not brought back; they come back on their next callback or job", zap.Error(err))
		return nil
	}
	if n > 0 {
		c.log.Info("live calls brought back into memory", zap.Int("count", n))
	}
	return nil
}

// withCallQueueCheck makes the "rabbitmq" readiness check also ping the
// calls' queue (one broker, one dependency to name); nil (in process)
// leaves checks as they are.
func withCallQueueCheck(checks []gateway.Check, q *rabbitqueue.Queue) []gateway.Check {
	if q == nil {
		return checks
	}
	for i, c := range checks {
		if c.Name == "rabbitmq" {
			sends := c.Ping
			checks[i].Ping = func(ctx context.Context) error {
				if err := sends(ctx); err != nil {
					return err
				}
				return q.Ping(ctx)
			}
			return checks
		}
	}
	return append(checks, gateway.Check{Name: "rabbitmq", Ping: q.Ping})
}

// gateway is what the /api/calls routes are built from.
func (c *engineCalls) gateway() *gateway.Calls {
	return &gateway.Calls{Store: c.store, Directory: c.host, WebhookSecret: c.secret, CallerID: c.cfg.ExotelCallerID,
		TimeLimit: int(c.cfg.CallTimeLimit / time.Second), TimeOut: int(c.cfg.CallRingTimeout / time.Second)}
}

// serveSandbox runs the Exotel sandbox until ctx ends.
func (c *engineCalls) serveSandbox(ctx context.Context) error {
	if c.sandboxLn == nil {
		return nil
	}
	sb := exotel.New(exotel.Options{Log: c.log, AccountSID: c.cfg.ExotelSID, APIKey: exotel.DefaultAPIKey, APIToken: exotel.DefaultAPIToken,
		ExoPhones: []string{c.cfg.ExotelCallerID}, RingDelay: c.cfg.SandboxExotelRingDelay, TalkDelay: c.cfg.SandboxExotelTalkDelay})
	c.sandbox.Store(sb)
	return serveSandbox(ctx, c.log, "exotel sandbox", c.sandboxLn, sb.Handler(), sb.Run)
}

// replayInterval is how often stored callbacks no actor applied yet (it did
// not answer in time, or the process died after the 200) are handed to
// their calls again.
const replayInterval = 15 * time.Second

// replayEvents hands every unapplied stored callback to its call, at start
// and then every replayInterval, until ctx ends. A callback applied twice
// changes nothing the second time.
func (c *engineCalls) replayEvents(ctx context.Context) error {
	t := time.NewTicker(replayInterval)
	defer t.Stop()
	for {
		evs, err := c.store.UnappliedCallEvents(ctx, 500)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("read unapplied call callbacks", zap.Error(err))
		}
		for _, ev := range evs {
			if time.Since(ev.ReceivedAt) < replayInterval/3 {
				continue // its request is probably still applying it
			}
			c.host.Send(ev.CallID, call.Callback{Event: ev})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *engineCalls) stop(timeout time.Duration) {
	if c.host != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		c.host.Stop(ctx)
		cancel()
	}
}

func (c *engineCalls) close() {
	if c.sandboxLn != nil && c.sandbox.Load() == nil {
		_ = c.sandboxLn.Close()
	}
	if err := c.queue.Close(); err != nil {
		c.log.Warn("close exotel queue", zap.Error(err))
	}
}

// deadLetterSet lists and re-drives the dead letters of both queues
// (WhatsApp sends and Exotel connect requests) as one: a job's MessageID is
// its message's or its call's id.
type deadLetterSet []actors.DeadLetters

func (s deadLetterSet) ListDeadLetters(ctx context.Context, limit int) ([]actors.DeadLetter, error) {
	var out []actors.DeadLetter
	for _, q := range s {
		dls, err := q.ListDeadLetters(ctx, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, dls...)
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s deadLetterSet) Redrive(ctx context.Context, ids []string) (int, error) {
	n := 0
	for _, q := range s {
		m, err := q.Redrive(ctx, ids)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
