package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	panics        prometheus.Counter
	rateLimited   *prometheus.CounterVec
	limiterErrors prometheus.Counter
	cacheLookups  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "engine_http_requests_total", Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "engine_http_request_duration_seconds", Help: "HTTP request latency by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "engine_http_panics_total", Help: "Handler panics recovered into 500 answers.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "engine_rate_limited_total", Help: "Requests refused by a rate limit, by scope.",
		}, []string{"scope"}),
		limiterErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "engine_rate_limiter_errors_total", Help: "Rate-limiter failures (requests let through).",
		}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "engine_cache_lookups_total", Help: "Read-cache lookups by cache and result (hit, miss, error).",
		}, []string{"cache", "result"}),
	}
	reg.MustRegister(m.requests, m.latency, m.panics, m.rateLimited, m.limiterErrors, m.cacheLookups)
	return m
}
