package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/supervisors"
)

// rehydration brings back, in the background after start-up, the
// conversations that were in memory before the restart
// (REHYDRATE_ON_START, REHYDRATE_MAX). Start-up and /readyz do not wait for
// it: until a conversation is back, its first message activates it from
// the store as usual, and the host never runs two actors of one key.
type rehydration struct {
	host  *supervisors.Host
	store supervisors.OpenConversations
	limit int
	log   *zap.Logger
	// count and seconds are what the last rehydration spawned and took.
	count, seconds prometheus.Gauge
}

func newRehydration(host *supervisors.Host, store supervisors.OpenConversations, limit int, log *zap.Logger, reg prometheus.Registerer) *rehydration {
	r := &rehydration{host: host, store: store, limit: limit, log: log,
		count: prometheus.NewGauge(prometheus.GaugeOpts{Name: "engine_rehydrated_conversations",
			Help: "Conversation actors brought back into memory with their state at start-up."}),
		seconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "engine_rehydration_seconds",
			Help: "How long bringing conversations back into memory at start-up took."}),
	}
	reg.MustRegister(r.count, r.seconds)
	return r
}

// Run rehydrates once and returns. A failure is logged and not returned:
// the engine works without rehydration, only its first messages are slower.
func (r *rehydration) Run(ctx context.Context) error {
	res, err := r.host.Rehydrate(ctx, r.store, r.limit)
	r.count.Set(float64(res.Spawned))
	r.seconds.Set(res.Duration.Seconds())
	if err != nil && ctx.Err() == nil {
		r.log.Warn("rehydration stopped early; the other conversations activate on their next message",
			zap.Int("count", res.Spawned), zap.Duration("duration", res.Duration), zap.Error(err))
	}
	return nil
}
