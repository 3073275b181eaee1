package audit

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Appender stores a batch of audit records; actors.AuditStore satisfies it.
type Appender interface {
	AppendAudit(ctx context.Context, recs []actors.AuditRecord) error
}

// Options tune a Log.
type Options struct {
	// Capacity bounds the records held in memory.
	Capacity int
	// BatchSize is the most records written in one call.
	BatchSize int
	// FlushTimeout bounds the final flush when Run's context ends.
	FlushTimeout time.Duration
	// MaxBackoff caps the retry delay.
	MaxBackoff time.Duration
}

// Log buffers audit records and writes them to an Appender.
type Log struct {
	store Appender
	log   *zap.Logger
	opts  Options

	mu      sync.Mutex
	pending []actors.AuditRecord
	wake    chan struct{}

	buffered prometheus.Gauge
	written  prometheus.Counter
	retries  prometheus.Counter
	dropped  prometheus.Counter
}

// New returns a Log; call Run to start writing.
func New(store Appender, log *zap.Logger, reg prometheus.Registerer, opts Options) *Log {
	if opts.Capacity <= 0 {
		opts.Capacity = 100000
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = 5 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	l := &Log{
		store: store, log: log.With(zap.String("component", "auditlog")), opts: opts,
		wake:     make(chan struct{}, 1),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "engine_audit_buffered", Help: "Audit records waiting to be written."}),
		written:  prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_audit_written_total", Help: "Audit records written to the store."}),
		retries:  prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_audit_retries_total", Help: "Failed audit batch writes that will be retried."}),
		dropped:  prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_audit_dropped_total", Help: "Audit records dropped because the buffer was full."}),
	}
	if reg != nil {
		reg.MustRegister(l.buffered, l.written, l.retries, l.dropped)
	}
	return l
}

// Record queues rec for writing. It never blocks.
func (l *Log) Record(rec actors.AuditRecord) {
	l.mu.Lock()
	if len(l.pending) >= l.opts.Capacity {
		l.mu.Unlock()
		l.dropped.Inc()
		l.log.Error("audit buffer full; record dropped", zap.String("action", rec.Action), zap.String("request_id", rec.RequestID), zap.Int("capacity", l.opts.Capacity))
		return
	}
	l.pending = append(l.pending, rec)
	l.buffered.Set(float64(len(l.pending)))
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Pending returns how many records wait to be written.
func (l *Log) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// Run writes records until ctx ends, then flushes what is left within the
// flush timeout. It returns nil; records it could not flush are logged.
func (l *Log) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return l.flush()
			case <-time.After(backoff):
			}
		} else {
			select {
			case <-ctx.Done():
				return l.flush()
			case <-l.wake:
			}
		}
		if err := l.writeAll(ctx); err != nil {
			l.retries.Inc()
			backoff = min(max(2*backoff, 50*time.Millisecond), l.opts.MaxBackoff)
			l.log.Warn("audit write failed; will retry", zap.Int("pending", l.Pending()), zap.Duration("backoff", backoff), zap.Error(err))
			continue
		}
		backoff = 0
	}
}

// writeAll writes batches until the buffer is empty or a write fails. A
// failed batch stays at the head of the buffer.
func (l *Log) writeAll(ctx context.Context) error {
	for {
		l.mu.Lock()
		n := min(len(l.pending), l.opts.BatchSize)
		batch := append([]actors.AuditRecord(nil), l.pending[:n]...)
		l.mu.Unlock()
		if n == 0 {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := l.store.AppendAudit(wctx, batch)
		cancel()
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.pending = l.pending[n:]
		if len(l.pending) == 0 {
			l.pending = nil
		}
		l.buffered.Set(float64(len(l.pending)))
		l.mu.Unlock()
		l.written.Add(float64(n))
	}
}

func (l *Log) flush() error {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.FlushTimeout)
	defer cancel()
	for {
		err := l.writeAll(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			l.log.Error("audit records not flushed at shutdown", zap.Int("pending", l.Pending()), zap.Error(err))
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
