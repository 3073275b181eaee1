package cluster

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of one attempt to reach a conversation on another node
// (engine_cluster_remote_requests_total{outcome}).
const (
	outcomeAnswered    = "answered"
	outcomeUndelivered = "undelivered"
	outcomeTimeout     = "timeout"
	outcomeNoOwner     = "no_owner"
)

type metrics struct {
	members     prometheus.Gauge
	attempts    *prometheus.CounterVec
	downs       *prometheus.CounterVec
	sendsLost   prometheus.Counter
	sendsQueued prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "engine_cluster_members", Help: "Members of the cluster as this node sees them (itself included).",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "engine_cluster_remote_requests_total",
			Help: "Attempts to deliver a conversation command to another node, by outcome (answered, undelivered, timeout, no_owner).",
		}, []string{"outcome"}),
		downs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "engine_cluster_downs_total",
			Help: "Times this node downed itself (stopped its conversations and rejoined as a new member), by reason.",
		}, []string{"reason"}),
		sendsLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "engine_cluster_sends_lost_total",
			Help: "Fire-and-forget commands (send outcomes) given up after retrying for sendRetryFor, or refused by a full per-key queue.",
		}),
		sendsQueued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "engine_cluster_sends_queued", Help: "Fire-and-forget commands waiting for a remote owner.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.members, m.attempts, m.downs, m.sendsLost, m.sendsQueued)
	}
	return m
}
