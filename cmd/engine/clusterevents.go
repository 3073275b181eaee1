package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/actors/assignment"
	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/persistence/redisbus"
)

// clusterEvents shares agent-socket events and presence with the other
// nodes through Redis (CLUSTER_EVENTS with REDIS_URL): the relay carries
// the local bus's socket events through one Redis stream back to every
// node's hub and assigner, presence makes the assigner see agents online
// on any node. nil when the engine runs alone.
type clusterEvents struct {
	relay    *redisbus.Relay
	presence *redisbus.Presence
}

// newClusterEvents builds the relay on the local bus; nil without Redis or
// when the engine is neither in a cluster nor told CLUSTER_EVENTS.
// onLost is called when this node missed events (see redisbus.Options).
func newClusterEvents(cfg configs.Config, rdb redis.UniversalClient, local *actors.Bus, onLost func(), log *zap.Logger,
	reg prometheus.Registerer) *clusterEvents {
	if rdb == nil || !(cfg.ClusterEvents || cfg.Clustered()) {
		return nil
	}
	node := redisbus.NewNodeID()
	ev := &clusterEvents{relay: redisbus.New(rdb, local, redisbus.Options{Node: node, Prefix: cfg.RedisPrefix, OnLost: onLost, Log: log})}
	relay := ev.relay
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "engine_cluster_events_dropped_total",
		Help: "Socket events not relayed to the other nodes because the relay's queue was full (Redis down or too slow)."},
		func() float64 { return float64(relay.Dropped()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "engine_cluster_events_queued",
		Help: "Socket events waiting to be written to the Redis event stream."},
		func() float64 { return float64(relay.Queued()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "engine_cluster_events_lost_total",
		Help: "Events trimmed from the Redis event stream before this node read them (it stalled too long); its sockets were closed to resume."},
		func() float64 { return float64(relay.Lost()) }))
	log.Info("agent-socket events and presence shared through Redis", zap.String("node", node))
	return ev
}

// assignerEvents is where the assigner subscribes: every node's
// conversation events, and this node's agent requests.
func (c *clusterEvents) assignerEvents(local *actors.Bus) assignment.Events {
	if c == nil {
		return local
	}
	return c.relay
}

// hubOptions points the hub at every node's events, cluster presence
// (telling the assigner) and the stream's replay.
func (c *clusterEvents) hubOptions(opts agentsession.Options, local *actors.Bus, assigner *assignment.Assigner, rdb redis.UniversalClient,
	cfg configs.Config, log *zap.Logger) agentsession.Options {
	if c == nil {
		opts.Events, opts.Presence = local, assigner
		return opts
	}
	c.presence = redisbus.NewPresence(rdb, assigner, redisbus.PresenceOptions{Node: c.relayNode(), Prefix: cfg.RedisPrefix, Log: log})
	opts.Events, opts.Presence, opts.Replay = c.relay.Delivered(), c.presence, c.relay
	// A resume sends at most half a socket's buffer of missed frames.
	opts.MaxReplay = max(1, cfg.SocketBuffer/2)
	return opts
}

func (c *clusterEvents) relayNode() string { return c.relay.Node() }

// run runs the relay and presence until ctx ends.
func (c *clusterEvents) run(ctx context.Context, hub *agentsession.Hub) []func() error {
	return []func() error{
		func() error { return c.relay.Run(ctx) },
		func() error { return c.presence.Run(ctx, hub) },
	}
}
