// Package inbox applies durably accepted webhook bodies to conversation
// actors.
//
// Guarantees: an entry leaves the inbox only after every message and status
// in it was applied (persisted) by its conversation actor; until then it is
// retried, so a crash after the webhook's 200 loses nothing. Entries are
// dispatched oldest first and, within a batch, in body order; each
// conversation applies what it receives in that order, so per-conversation
// order follows arrival order. Applying twice is harmless: conversations drop
// duplicate wamids and statuses only move forward.
package inbox

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// MaxAttempts is how many times an entry is tried before it is set aside:
// kept in the inbox (never deleted) but no longer dispatched, with an error
// log and the engine_inbox_stuck_total metric, for a person to look at.
const MaxAttempts = 20

// Parser decodes a webhook body.
type Parser func(body []byte) (actors.WebhookBatch, error)

// Dispatcher drains the inbox.
type Dispatcher struct {
	store     actors.InboxStore
	parse     Parser
	directory conversation.Directory
	log       *zap.Logger
	wake      chan struct{}
	batch     int
	timeout   time.Duration

	applied  prometheus.Counter
	failures prometheus.Counter
	stuck    prometheus.Counter
	metaErrs *prometheus.CounterVec
	lag      prometheus.Histogram
}

// New returns a Dispatcher; reg may be nil.
func New(store actors.InboxStore, parse Parser, directory conversation.Directory, log *zap.Logger, reg prometheus.Registerer) *Dispatcher {
	d := &Dispatcher{store: store, parse: parse, directory: directory, log: log.With(zap.String("component", "inbox")),
		wake: make(chan struct{}, 1), batch: 256, timeout: 15 * time.Second,
		applied:  prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_inbox_applied_total", Help: "Webhook bodies fully applied."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_inbox_failures_total", Help: "Webhook body applications that will be retried."}),
		stuck:    prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_inbox_stuck_total", Help: "Webhook bodies set aside after too many failed attempts."}),
		metaErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_webhook_errors_total", Help: "Value-level errors[] WhatsApp reported in webhooks, by code."}, []string{"code"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "engine_inbox_lag_seconds", Help: "Time from webhook acceptance to application.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
	if reg != nil {
		reg.MustRegister(d.applied, d.failures, d.stuck, d.metaErrs, d.lag)
	}
	return d
}

// Notify wakes the dispatcher: new entries were appended.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx ends. It polls every second as well, so entries
// left by a crash or a failed attempt are retried.
func (d *Dispatcher) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		n, err := d.drainOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			d.log.Warn("inbox dispatch failed; will retry", zap.Duration("backoff", backoff), zap.Error(err))
		case n == d.batch:
			backoff = 0
			continue // more waiting
		default:
			backoff = 0
		}
		wait := time.Second
		if backoff > 0 {
			wait = backoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-time.After(wait):
		}
	}
}

type job struct {
	entry   int
	reply   conversation.Reply
	waMsgID string
}

// drainOnce applies one batch of pending entries and returns how many it
// read.
func (d *Dispatcher) drainOnce(ctx context.Context) (int, error) {
	entries, err := d.store.PendingInbox(ctx, d.batch)
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return 0, nil
	}
	var jobs []job
	bad := make([]bool, len(entries))
	for i, e := range entries {
		if e.Attempts >= MaxAttempts {
			bad[i] = true
			continue
		}
		b, err := d.parse(e.Body)
		if err != nil {
			// Signed by Meta but not a WhatsApp body: nothing to apply.
			d.log.Error("inbox entry is not a WhatsApp webhook; setting it aside", zap.String("entry", e.ID), zap.Error(err))
			continue
		}
		for _, m := range b.Messages {
			if m.PhoneNumberID == "" || m.WaID == "" {
				d.log.Warn("message without business number or wa_id; not routable", zap.String("wa_message_id", m.WaMessageID))
				continue
			}
			key := conversation.Key{PhoneNumberID: m.PhoneNumberID, WaID: m.WaID}
			jobs = append(jobs, job{entry: i, reply: d.directory.Request(key, conversation.Inbound{Msg: m}, d.timeout), waMsgID: m.WaMessageID})
		}
		for _, s := range b.Statuses {
			if s.PhoneNumberID == "" || s.RecipientID == "" {
				d.log.Warn("status without business number or recipient; not routable", zap.String("wa_message_id", s.WaMessageID))
				continue
			}
			key := conversation.Key{PhoneNumberID: s.PhoneNumberID, WaID: s.RecipientID}
			jobs = append(jobs, job{entry: i, reply: d.directory.Request(key, conversation.StatusChanged{Update: s}, d.timeout), waMsgID: s.WaMessageID})
		}
		for _, we := range b.Errors {
			d.metaErrs.WithLabelValues(strconv.Itoa(we.Code)).Inc()
			d.log.Warn("webhook reports an error", zap.String("phone_number_id", we.PhoneNumberID), zap.Int("code", we.Code), zap.String("title", we.Title))
		}
	}
	for _, j := range jobs {
		r, err := j.reply.Result()
		if err == nil {
			if res, ok := r.(conversation.Result); ok && res.Err != nil {
				err = res.Err
			}
		}
		if err != nil {
			bad[j.entry] = true
			d.log.Warn("apply webhook item", zap.String("wa_message_id", j.waMsgID), zap.Error(err))
		}
	}
	var done []string
	stuck := 0
	for _, e := range entries {
		if e.Attempts >= MaxAttempts {
			stuck++
		}
	}
	now := time.Now()
	for i, e := range entries {
		if !bad[i] {
			done = append(done, e.ID)
			d.lag.Observe(now.Sub(e.ReceivedAt).Seconds())
			continue
		}
		if e.Attempts >= MaxAttempts {
			continue
		}
		d.failures.Inc()
		if e.Attempts+1 == MaxAttempts {
			d.stuck.Inc()
			d.log.Error("webhook body failed too often; kept in the inbox but set aside", zap.String("entry", e.ID), zap.Int("attempts", e.Attempts+1))
		}
		if err := d.store.RecordInboxAttempt(ctx, e.ID); err != nil {
			return len(entries), err
		}
	}
	if len(done) > 0 {
		if err := d.store.MarkInboxDone(ctx, done); err != nil {
			return len(entries), err
		}
		d.applied.Add(float64(len(done)))
	}
	if len(done)+stuck < len(entries) {
		return len(entries), errors.New("some webhook items could not be applied")
	}
	if stuck == len(entries) {
		return 0, nil
	}
	return len(entries), nil
}
