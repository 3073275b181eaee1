package audit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wacc/engine/actors"
)

// ActionAuthRefused is the action of the records Refusals writes.
const ActionAuthRefused = "auth.refused"

// Defaults of RefusalOptions.
const (
	DefaultRefusalWindow  = time.Minute
	DefaultRefusalMaxKeys = 10000
)

// Recorder takes audit records without blocking; *Log is one.
type Recorder interface {
	Record(rec actors.AuditRecord)
}

// RefusalOptions tune Refusals. Zero values take the defaults.
type RefusalOptions struct {
	// Window is how often the counts of repeated refusals are written.
	Window time.Duration
	// MaxKeys bounds the (source, place, reason) keys tracked at once.
	MaxKeys int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Refusals aggregates refused authentications (a bad, expired or revoked
// token, a bad webhook signature) before they reach the audit log, so that a
// flood of them cannot flood the log or memory.
//
// Refusals are counted per key: the client's address (the record's IP), the
// place (its Resource: "api", "ws", "webhook") and the reason. The first
// refusal of a key is recorded at once, with count 1. Later ones are only
// counted, and Flush (every Window while Run runs) writes one summary record
// per key that had some, carrying their count; a key with none for a whole
// window is forgotten, so its next refusal is again recorded at once. Every
// refusal is thus in exactly one record's count, and a key costs at most one
// record per window after its first.
//
// At most MaxKeys keys are tracked; refusals of new keys beyond that are
// counted together and written as one summary (IP "", reason "overflow") at
// the next Flush. Records carry ActionAuthRefused, actors.OutcomeDenied and
// the detail "reason=<reason> count=<n>".
//
// Refusals is safe for concurrent use; Refused never blocks on the store.
type Refusals struct {
	rec  Recorder
	opts RefusalOptions

	mu   sync.Mutex
	keys map[refusalKey]*refusalEntry
	// overflow counts refusals of untracked keys since the last Flush.
	overflow int64

	refused *prometheus.CounterVec
}

type refusalKey struct{ source, place, reason string }

type refusalEntry struct {
	// since is when the entry's current window began.
	since time.Time
	// count is the refusals since its last record.
	count int64
	// sample is the first of them, whose fields the summary carries.
	sample actors.AuditRecord
}

// NewRefusals returns an aggregator writing to rec; reg, when not nil,
// receives engine_auth_refused_total{place,reason}.
func NewRefusals(rec Recorder, reg prometheus.Registerer, opts RefusalOptions) *Refusals {
	if opts.Window <= 0 {
		opts.Window = DefaultRefusalWindow
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultRefusalMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Refusals{rec: rec, opts: opts, keys: map[refusalKey]*refusalEntry{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_auth_refused_total",
			Help: "Refused authentications (tokens, webhook signatures) by place and reason."}, []string{"place", "reason"})}
	if reg != nil {
		reg.MustRegister(r.refused)
	}
	return r
}

// Refused takes one refusal. rec names the source (IP), the place
// (Resource), and whatever else is known (user agent, request id); Action,
// Outcome and Detail are set here. reason is a short fixed word
// ("token_expired"): it is a metric label.
func (r *Refusals) Refused(rec actors.AuditRecord, reason string) {
	r.refused.WithLabelValues(rec.Resource, reason).Inc()
	k := refusalKey{source: rec.IP, place: rec.Resource, reason: reason}
	now := r.opts.Now()
	r.mu.Lock()
	if e, ok := r.keys[k]; ok {
		if e.count == 0 {
			e.sample = rec
		}
		e.count++
		r.mu.Unlock()
		return
	}
	if len(r.keys) >= r.opts.MaxKeys {
		r.overflow++
		r.mu.Unlock()
		return
	}
	r.keys[k] = &refusalEntry{since: now}
	r.mu.Unlock()
	r.rec.Record(refusalRecord(rec, reason, 1, now))
}

// Flush writes the summaries of the refusals counted since the last Flush
// and forgets the keys that had none for a whole window.
func (r *Refusals) Flush() {
	now := r.opts.Now()
	var out []actors.AuditRecord
	r.mu.Lock()
	for k, e := range r.keys {
		switch {
		case e.count > 0:
			sum := e.sample
			sum.At = time.Time{} // a summary is dated when it is written
			out = append(out, refusalRecord(sum, k.reason, e.count, now))
			e.count, e.since, e.sample = 0, now, actors.AuditRecord{}
		case now.Sub(e.since) >= r.opts.Window:
			delete(r.keys, k)
		}
	}
	if r.overflow > 0 {
		out = append(out, refusalRecord(actors.AuditRecord{Resource: "*"}, "overflow", r.overflow, now))
		r.overflow = 0
	}
	r.mu.Unlock()
	for _, rec := range out {
		r.rec.Record(rec)
	}
}

// Tracked returns how many keys are tracked.
func (r *Refusals) Tracked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

// Run flushes every Window until ctx ends, then flushes once more and
// returns nil.
func (r *Refusals) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.Window)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Flush()
			return nil
		case <-t.C:
			r.Flush()
		}
	}
}

func refusalRecord(rec actors.AuditRecord, reason string, count int64, now time.Time) actors.AuditRecord {
	rec.ID = actors.NewID()
	rec.Action = ActionAuthRefused
	rec.Outcome = actors.OutcomeDenied
	rec.Detail = fmt.Sprintf("reason=%s count=%d", reason, count)
	if rec.At.IsZero() {
		rec.At = now.UTC()
	}
	return rec
}
