package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/assignment"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/actors/inbox"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/cluster"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/gateway/agentsocket"
	"github.com/wacc/engine/gateway/app"
	"github.com/wacc/engine/gateway/audit"
	"github.com/wacc/engine/gateway/auth"
	"github.com/wacc/engine/gateway/outbound/sender"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
	"github.com/wacc/engine/gateway/template"
	"github.com/wacc/engine/gateway/webhook"
	"github.com/wacc/engine/supervisors"
)

// engineStore is everything the engine keeps durably.
type engineStore interface {
	actors.Store
	actors.ConversationsStore
	actors.OutboundStore
	actors.PricingStore
	actors.WebhookErrorStore
	actors.TemplateStore
	actors.MediaStore
	actors.CallStore
	actors.EpochStore
}

// conversationEngine is the actor side of the engine: the actor system, the
// conversation host, the assigner, the use cases shared by the agent
// sessions and the gateway, agent sessions, the inbox dispatcher and the
// timer sweeper.
type conversationEngine struct {
	log    *zap.Logger
	system *actor.ActorSystem
	events *actors.Bus
	host   *supervisors.Host
	// dir reaches conversations: the host, or with CLUSTER_PROVIDER the
	// cluster's Directory (the owner node's host, wherever it is).
	dir conversation.Directory
	// node is this engine's cluster member; nil without CLUSTER_PROVIDER.
	node *cluster.Node
	// shared carries socket events and presence between nodes through
	// Redis; nil when the engine runs alone.
	shared     *clusterEvents
	assigner   *assignment.Assigner
	app        *app.App
	hub        *agentsession.Hub
	sockets    *agentsocket.Server
	dispatcher *inbox.Dispatcher
	sweeper    *conversation.Sweeper
	// rehydration is nil when REHYDRATE_ON_START is off, and in a cluster.
	rehydration *rehydration
	// pauses are Meta's pauses and operator alerts, shared with the sender.
	pauses *sender.Pauses
	// templates is the template registry as the gateway sees it; nil (an
	// untyped nil) without a business account.
	templates gateway.Templates
	// media fetches inbound media and readies ours for sends; nil without
	// a byte store.
	media *mediaFlow
}

// actorInputs are what the actor side is built on.
type actorInputs struct {
	store       engineStore
	revocations app.Revocations
	// refusals audits tokens the agent sessions refuse.
	refusals agentsession.Refusals
	outbox   actors.OutboundPublisher
	// shaper is the sender's, which late failures pause too.
	shaper sender.Shaper
	// templates is the template registry; nil without a business account.
	templates *template.Registry
	// blobs keeps media bytes and client fetches and uploads them; without
	// blobs inbound media are not fetched and sends of our media refused.
	blobs  mediabytes.Blobs
	client *whatsapp.Client
	// fence fences every conversation activation with an epoch from the
	// store (conversation.Deps.Epochs): set when the engine runs in a
	// cluster, where two nodes may hold one conversation; off on one node,
	// where it would cost a write per activation.
	fence bool
	// redis is the shared Redis (nil without REDIS_URL): in a cluster,
	// socket events and presence go through it.
	redis redis.UniversalClient
}

// startConversations builds the actor side, bottom-up: the conversation
// host, the assigner, the use cases (app, on the host), then the agent
// sessions that call them. The gateway is handed the same app.
func startConversations(ctx context.Context, cfg configs.Config, in actorInputs, log *zap.Logger, reg prometheus.Registerer) (*conversationEngine, error) {
	store, revocations, refusals, outbox, shaper := in.store, in.revocations, in.refusals, in.outbox, in.shaper
	slogger := slog.New(zapslog.NewHandler(log.Core(), zapslog.WithName("protoactor")))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slogger }))
	ce := &conversationEngine{log: log, system: system}
	// The template registry under the interfaces of its three users; all
	// nil (not a typed nil) without a business account.
	var (
		tmplFailures conversation.TemplateRegistry
		tmplEvents   inbox.TemplateEvents
	)
	if in.templates != nil {
		tmplFailures, tmplEvents, ce.templates = in.templates, in.templates, in.templates
	}
	// Built bottom-up, each part complete when constructed: the event bus
	// first, the conversations publishing to it, the assigner (reaching
	// conversations through the host) and the hub subscribing to it at
	// their construction, the use cases on the host, the hub calling them.
	events := actors.NewBus()
	ce.events = events
	// Events this node missed: its sockets reconnect, and resume or
	// reload (ce.hub is set before the relay runs).
	lost := func() { ce.hub.DisconnectAll(agentsession.CloseTryAgainLater, agentsession.ReasonEventsLost) }
	ce.shared = newClusterEvents(cfg, in.redis, events, lost, log, reg)
	// One Pauses for the sender (errors answered to a send) and the
	// conversations (errors reported later in a failed status): the same
	// pauses on the same shaper, the same operator alerts.
	ce.pauses = sender.NewPauses(sender.PausesOptions{Shaper: shaper, NumberPause: cfg.NumberPause, RecipientPause: cfg.RecipientPause,
		Users: store, Notifications: store, Publisher: events, Log: log, Registry: reg})
	if in.blobs != nil {
		ce.media = newMediaFlow(cfg, store, in.blobs, in.client, events, log, reg)
	}
	deps := &conversation.Deps{
		Store:     store,
		Publisher: events,
		Outbox:    outbox,
		Pauser:    ce.pauses,
		Pricing:   store,
		Messages:  store,
		Templates: tmplFailures,
		Config: conversation.Config{Window: cfg.ServiceWindow, Warning: cfg.WindowWarning, IdleTimeout: cfg.ActorIdleTimeout,
			IOTimeout: 5 * time.Second},
		Log: log,
	}
	fenced := prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_fenced_writes_total",
		Help: "Conversation writes refused because a newer activation of the conversation holds its epoch (the stale actor stopped)."})
	retired := prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_retired_commands_total",
		Help: "Conversation commands refused as stale, unapplied, because they reached an activation that was retiring (after a refused write, or all of this node's after it downed itself); the caller delivers them again."})
	reg.MustRegister(fenced, retired)
	deps.FencedWrite, deps.RetiredCommand = fenced.Inc, retired.Inc
	if ce.shared != nil {
		// A command's events are in the Redis stream before its answer: a
		// webhook deleted from the inbox has reached every node's sockets
		// even if this node dies next.
		deps.FlushEvents = ce.shared.relay.Flush
	}
	if in.fence {
		deps.Epochs = store
	}
	if ce.media != nil {
		deps.Media, deps.MediaSends = ce.media.fetcher, ce.media.prep
	}
	ce.host = supervisors.NewHost(system, deps, cfg.ConversationShards, log)
	host := ce.host
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "engine_conversations_parked_total",
		Help: "Conversations parked after their actor exhausted its restart budget (alert on any increase)."},
		func() float64 { return float64(host.Parked()) }))
	ce.dir = ce.host
	if cfg.Clustered() {
		node, err := startClusterNode(ctx, cfg, ce.host, log, reg)
		if err != nil {
			ce.host.Stop(ctx)
			system.Shutdown()
			return nil, err
		}
		ce.node, ce.dir = node, node.Directory()
	}
	ce.assigner = assignment.Start(system, assignment.Options{Store: store, Directory: ce.dir, Events: ce.shared.assignerEvents(events),
		MaxOpen: cfg.AgentMaxOpen, Log: log})
	ce.app = app.New(app.Deps{
		Users: store, Families: store, Revocations: revocations,
		Issuer:        auth.NewIssuer([]byte(cfg.JWTSecret), []byte(cfg.JWTRefreshSecret), cfg.JWTExpiresIn, time.Now),
		RefreshTTL:    cfg.JWTRefreshExpiresIn,
		Conversations: store, Directory: ce.dir, Media: store, Log: log,
	})
	ce.hub = agentsession.NewHub(system, ce.shared.hubOptions(agentsession.Options{Log: log, Commands: ce.app, Refusals: refusals,
		Grace: cfg.SocketAuthGrace}, events, ce.assigner, in.redis, cfg, log))
	ce.sockets = agentsocket.New(agentsocket.Options{Log: log, Hub: ce.hub, BufferSize: cfg.SocketBuffer,
		MaxFramesPerSecond: float64(cfg.SocketMaxFrames), FrameBurst: cfg.SocketFrameBurst, MaxSocketsPerUser: cfg.SocketsPerUser})
	// In a cluster the inbox is shared: this node claims the entries it
	// works on under a lease, in a name of its own for this start, so a
	// dead node's entries are taken over by the others.
	var (
		inboxNode string
		serving   func() bool
	)
	if ce.node != nil {
		inboxNode, serving = "node-"+ce.node.Address()+"-"+actors.NewID(), ce.node.Serving
	}
	ce.dispatcher = inbox.New(inbox.Options{Store: store, Parse: webhook.Parse, Directory: ce.dir, WebhookErrors: store, Templates: tmplEvents,
		Log: log, Registry: reg, NodeID: inboxNode, Serving: serving})
	ce.sweeper = &conversation.Sweeper{Store: store, Directory: ce.dir, Log: log}
	// Rehydration brings back this node's conversations into its own host;
	// in a cluster most of them belong to other nodes: not done there.
	if cfg.RehydrateOnStart && !cfg.Clustered() {
		ce.rehydration = newRehydration(ce.host, store, cfg.RehydrateMax, log, reg)
	}
	return ce, nil
}

// gatewayEngine is what the gateway needs of the actor side.
func (ce *conversationEngine) gatewayEngine(store engineStore, deadLetters actors.DeadLetters) *gateway.Engine {
	return &gateway.Engine{
		Reads: store, Directory: ce.dir, Inbox: ce.dispatcher, WakeInbox: ce.dispatcher.Notify, Accepted: ce.dispatcher.Accept,
		Sockets: socketsAdapter{ce}, Loads: ce.assigner, Idempotency: store, Requeue: store, DeadLetters: deadLetters,
		Reports: store, Templates: ce.templates,
	}
}

// stop closes sockets, stops the conversations, then the actor system.
func (ce *conversationEngine) stop(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := ce.sockets.Shutdown(ctx); err != nil {
		ce.log.Warn("agent sockets did not all close in time; their sessions end on their own", zap.Error(err))
	}
	if ce.node != nil {
		// Leave first, so the others own this node's conversations from
		// now on; its queued send outcomes are delivered before it goes.
		ce.node.Stop(ctx)
	}
	ce.host.Stop(ctx)
	ce.assigner.Stop()
	ce.system.Shutdown()
}

// socketsAdapter joins the socket server and the hub into gateway.Sockets.
type socketsAdapter struct{ ce *conversationEngine }

func (a socketsAdapter) Serve(w http.ResponseWriter, r *http.Request, user actors.User, expiresAt time.Time, clientIP string) {
	a.ce.sockets.Serve(w, r, user, expiresAt, clientIP)
}

func (a socketsAdapter) DisconnectUser(userID string, code int, reason string) {
	a.ce.hub.DisconnectUser(userID, code, reason)
}

// Online is cluster-wide with CLUSTER_EVENTS: a socket on any node.
func (a socketsAdapter) Online(userID string) bool {
	if c := a.ce.shared; c != nil {
		return a.ce.hub.Online(userID) || c.presence.Online(userID)
	}
	return a.ce.hub.Online(userID)
}

// socketRefusals audits the tokens agent sessions refuse on open sockets
// through the aggregator the gateway audits its refused tokens with (place
// "ws", as a refused upgrade).
type socketRefusals struct{ r *audit.Refusals }

func (s socketRefusals) Refused(userID string, src agentsession.Source, reason string) {
	s.r.Refused(actors.AuditRecord{ActorID: userID, Resource: "ws", IP: src.IP, UserAgent: src.UserAgent, At: time.Now().UTC()}, reason)
}

// startClusterNode joins the cluster of CLUSTER_PROVIDER, within
// CONNECT_TIMEOUT.
func startClusterNode(ctx context.Context, cfg configs.Config, host *supervisors.Host, log *zap.Logger, reg prometheus.Registerer) (*cluster.Node, error) {
	node, err := cluster.NewNode(cluster.Config{Provider: cfg.ClusterProvider, EtcdEndpoints: cfg.ClusterEtcdEndpoints, Seeds: cfg.ClusterSeeds,
		Bind: cfg.ClusterBind, AutoManagedPort: cfg.ClusterAutoManagedPort, Name: cfg.ClusterName, AttemptTimeout: cfg.ClusterAttemptTimeout,
		LeaseTTL: cfg.ClusterLeaseTTL}, host, log, reg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := node.Start(ctx); err != nil {
		return nil, err
	}
	return node, nil
}
