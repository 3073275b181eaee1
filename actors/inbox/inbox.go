package inbox

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
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

// parkedRetry is how long an entry refused only by parked conversations
// waits before it is dispatched again.
const parkedRetry = 2 * time.Second

// Retries of a failed entry: the n-th waits retryBase doubled n-1 times,
// at most retryCap bases (30 s), so the MaxAttempts attempts of an entry
// span about 6.5 minutes, not the ~2 s that back-to-back rounds took. A
// conversation whose store writes are held up for a while (a uniqueness
// guard or write claim left by a frozen or killed node lasts up to ~10 s;
// a node taking over a conversation; a store failing over) must not burn
// an accepted webhook's attempts and have it set aside.
const (
	retryBase = 250 * time.Millisecond
	retryCap  = 120
)

// retryDelay is how long an entry waits after its n-th failed attempt.
func (d *Dispatcher) retryDelay(n int) time.Duration {
	return min(d.retry<<min(max(n-1, 0), 16), d.retry*retryCap)
}

// Parser decodes a webhook body.
type Parser func(body []byte) (actors.WebhookBatch, error)

// WebhookErrors keeps the value-level errors[] of webhooks for operators.
type WebhookErrors interface {
	AddWebhookErrors(ctx context.Context, rs []actors.WebhookErrorRecord) error
}

// Dispatcher drains the inbox.
type Dispatcher struct {
	store     actors.InboxStore
	errs      WebhookErrors
	parse     Parser
	directory conversation.Directory
	log       *zap.Logger
	wake      chan struct{}
	batch     int
	timeout   time.Duration
	// node owns the leases this dispatcher takes, lease is how long one
	// lasts, pollEvery how often the store is read whatever else happens
	// (see lease.go).
	node      string
	lease     time.Duration
	pollEvery time.Duration
	// holding: the dispatcher holds entries whose leases need renewing
	// (set by Run's goroutine, read by the renewer's).
	holding atomic.Bool
	// serving: see Options.Serving (nil: always).
	serving func() bool
	// retry: see Options.Retry.
	retry time.Duration
	// deferred are entries not read again before the time given: those
	// refused only by parked conversations, and failed ones waiting for
	// their retry (retryDelay) (Run's goroutine only).
	deferred map[string]time.Time
	// memory is the entries handed over by Accept, the entries taken and
	// not yet deleted, and the completions waiting for their DELETE (see
	// memory.go).
	memory

	applied  prometheus.Counter
	failures prometheus.Counter
	stuck    prometheus.Counter
	metaErrs *prometheus.CounterVec
	lag      prometheus.Histogram

	// templates applies template webhooks; nil leaves them unapplied.
	templates TemplateEvents
}

// Options are what a Dispatcher is built on.
type Options struct {
	Store     actors.InboxStore
	Parse     Parser
	Directory conversation.Directory
	// WebhookErrors keeps value-level webhook errors; nil drops them.
	WebhookErrors WebhookErrors
	// Templates gets the template webhooks of each entry, in body order,
	// before the entry's messages and statuses; an entry leaves the inbox
	// only once it applied them all. Nil leaves them in the batch's Other.
	Templates TemplateEvents
	// NodeID names this node in the leases of the entries it works on: a
	// random id per process start when several nodes share the store; ""
	// is single-node mode (the constant SingleNode; see lease.go).
	NodeID string
	// Lease is how long an entry stays this node's without renewal
	// (DefaultLease when 0): the longest a dead node's entries wait before
	// another node takes them over.
	Lease time.Duration
	// Serving reports whether this node serves conversations now (the
	// cluster node's Serving); nil: always. While it does not (a node that
	// downed itself: frozen, partitioned, unlisted), the dispatcher hands
	// nothing to the conversations, so it burns no attempt, renews no
	// lease and claims nothing, and what it accepts meanwhile is appended
	// without a lease: the nodes that serve take all of it over.
	Serving func() bool
	// Retry is the wait before a failed entry's first retry, doubled for
	// each next one up to 120 times itself (retryBase when 0: 250 ms, at
	// most 30 s).
	Retry time.Duration
	Log   *zap.Logger
	// Registry receives the metrics; nil registers none.
	Registry prometheus.Registerer
}

// New returns a Dispatcher.
func New(o Options) *Dispatcher {
	log, reg := o.Log, o.Registry
	if log == nil {
		log = zap.NewNop()
	}
	node, lease, pollEvery := o.NodeID, o.Lease, safetyPoll
	if lease <= 0 {
		lease = DefaultLease
	}
	if node == "" {
		node = SingleNode
	} else {
		// Other nodes' entries are taken over once their leases run out.
		pollEvery = min(safetyPoll, lease/2)
	}
	d := &Dispatcher{store: o.Store, errs: o.WebhookErrors, templates: o.Templates, parse: o.Parse, directory: o.Directory,
		log:  log.With(zap.String("component", "inbox"), zap.String("node", node)),
		wake: make(chan struct{}, 1), batch: dispatchBatch, timeout: 15 * time.Second, deferred: map[string]time.Time{},
		node: node, lease: lease, pollEvery: pollEvery, serving: o.Serving, retry: cmp.Or(o.Retry, retryBase),
		memory:   memory{poll: true, known: map[string]struct{}{}},
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

// Notify wakes the dispatcher: new entries were appended to the store
// (not handed over by Accept), so they are read back from it.
func (d *Dispatcher) Notify() {
	d.mu.Lock()
	d.poll = true
	d.mu.Unlock()
	d.signal()
}

func (d *Dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx ends.
//
// Entries come from memory (Accept) while everything goes well, and from
// the store (PendingInbox) at start, after a failure, a deferral or an
// overflow of the in-memory queue, until a read finds nothing it has not
// seen (see memory.go). Nothing wakes the dispatcher when there is nothing
// to do but the next due completion flush, deferral or retry, and a
// safety read every safetyPoll.
//
// Rounds overlap: a round's answers are awaited off Run's goroutine and
// the round is settled (its entries completed or retried) when the last
// comes, while further rounds are taken and handed out, up to
// maxInFlight entries in all. So the conversations work on several rounds
// while the dispatcher prepares the next, and one slow conversation (a
// write held up by another node, a takeover) delays only its own round's
// settling, not the webhooks behind it. Handing out stays in inbox order,
// and each conversation's mailbox keeps it, so per-conversation order is as
// with one round at a time.
func (d *Dispatcher) Run(ctx context.Context) error {
	defer d.flushOnExit()
	renewCtx, stopRenewing := context.WithCancel(ctx)
	var renewer sync.WaitGroup
	renewer.Go(func() { d.renewLeases(renewCtx) })
	defer renewer.Wait()
	defer stopRenewing()
	backoff := time.Duration(0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	lastPoll := time.Now()
	// answered receives each round once its answers are in (never
	// blocking: there are fewer rounds in flight than entries); inFlight
	// counts the entries of the rounds not yet settled.
	answered := make(chan *round, maxInFlight+dispatchBatch)
	var rounds, inFlight int
	settle := func(r *round) error {
		rounds--
		inFlight -= len(r.entries)
		return d.settle(ctx, r)
	}
	defer func() {
		// Stopping: the rounds in flight are settled (their answers come
		// within the dispatcher's timeout), so what was applied is
		// deleted by flushOnExit rather than applied again at start.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for ; rounds > 0; rounds-- {
			if err := d.settle(sctx, <-answered); err != nil {
				d.log.Debug("settling the rounds in flight on stop", zap.Error(err))
			}
		}
	}()
	for {
		if !d.servingNow() {
			// Settle what is in flight, then wait.
			for rounds > 0 {
				if ferr := settle(<-answered); ferr != nil {
					d.log.Warn("inbox dispatch failed; will retry", zap.Error(ferr))
				}
			}
			if !d.waitServing(ctx) {
				return nil
			}
			// Serving again: what this node held may have been taken
			// over meanwhile, and what it accepted is in the store.
			d.Notify()
			lastPoll = time.Now()
		}
		var err error
		// Settle the rounds whose answers are in.
		for settled := false; !settled; {
			select {
			case r := <-answered:
				if ferr := settle(r); err == nil {
					err = ferr
				}
			default:
				settled = true
			}
		}
		if time.Since(lastPoll) >= d.pollEvery || d.deferralsDue(time.Now()) {
			d.Notify()
		}
		dispatched := false
		if inFlight < maxInFlight {
			if d.polling() {
				lastPoll = time.Now()
			}
			next, derr := d.dispatch(ctx)
			if err == nil {
				err = derr
			}
			if next != nil {
				dispatched = true
				rounds++
				inFlight += len(next.entries)
				go func() {
					d.await(next)
					answered <- next
				}()
			}
		}
		d.holding.Store(d.holds())
		if ferr := d.flushDone(ctx, false); err == nil {
			err = ferr
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			d.log.Warn("inbox dispatch failed; will retry", zap.Duration("backoff", backoff), zap.Error(err))
		case dispatched:
			backoff = 0
			continue // take what came meanwhile at once
		default:
			backoff = 0
		}
		wait := d.idleWait(backoff, lastPoll)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case r := <-answered:
			if ferr := settle(r); ferr != nil {
				d.log.Warn("inbox dispatch failed; will retry", zap.Error(ferr))
			}
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// maxInFlight bounds the entries of the rounds handed out and not yet
// settled: two full rounds, as many as a read of the store skips (known)
// without starving the entries behind them.
const maxInFlight = 2 * dispatchBatch

// job is one command handed to a conversation, and the entries whose items
// it carries: one entry's message, or the statuses for one conversation of
// one or more entries (see dispatch).
type job struct {
	entries []int
	key     conversation.Key
	reply   conversation.Reply
	waMsgID string
	// msg is the message of an Inbound, ups the statuses of a
	// StatusesChanged (until the job is handed out).
	msg *actors.InboundMessage
	ups []actors.StatusUpdate
	// again: the entry may have been applied before (redelivered).
	again bool
}

// round is one batch of entries handed to the conversations.
type round struct {
	entries []actors.InboxEntry
	jobs    []job
	// bad marks the entries to retry.
	bad []bool
	// errs are the jobs' answers (await).
	errs []error
}

// dispatch takes up to a batch of entries (from memory, or from the store
// when polling; see take), none of them taken before and still in flight
// (such as those of the round in flight) and none set aside (out of
// attempts), and hands their messages and statuses to the conversations.
// It returns nil when there is nothing to do.
//
// The statuses the round has for one conversation go to it in one
// StatusesChanged, applied with one store write: those of one body and of
// the bodies after it, up to the next message for that conversation (so
// each conversation still receives its items in body order). A failed
// StatusesChanged retries every entry that contributed to it.
func (d *Dispatcher) dispatch(ctx context.Context) (*round, error) {
	entries, err := d.take(ctx)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	r := &round{entries: entries, bad: make([]bool, len(entries))}
	// collecting is the job gathering each conversation's statuses, until
	// a message for it comes.
	var collecting map[conversation.Key]int
	for i, e := range entries {
		b, err := d.batchOf(e)
		if err != nil {
			// Signed by Meta but not a WhatsApp body: nothing to apply.
			d.log.Error("inbox entry is not a WhatsApp webhook; setting it aside", zap.String("entry", e.ID), zap.Error(err))
			continue
		}
		if len(b.Templates) > 0 && !d.applyTemplates(ctx, e, b.Templates) {
			r.bad[i] = true
		}
		for k := range b.Messages {
			m := &b.Messages[k]
			if m.PhoneNumberID == "" || m.WaID == "" {
				d.log.Warn("message without business number or wa_id; not routable", zap.String("wa_message_id", m.WaMessageID))
				continue
			}
			key := conversation.Key{PhoneNumberID: m.PhoneNumberID, WaID: m.WaID}
			delete(collecting, key)
			r.jobs = append(r.jobs, job{entries: []int{i}, key: key, msg: m, waMsgID: m.WaMessageID, again: d.redelivered(e)})
		}
		for _, s := range b.Statuses {
			if s.PhoneNumberID == "" || s.RecipientID == "" {
				d.log.Warn("status without business number or recipient; not routable", zap.String("wa_message_id", s.WaMessageID))
				continue
			}
			key := conversation.Key{PhoneNumberID: s.PhoneNumberID, WaID: s.RecipientID}
			if j, ok := collecting[key]; ok {
				jb := &r.jobs[j]
				jb.ups = append(jb.ups, s)
				if jb.entries[len(jb.entries)-1] != i {
					jb.entries = append(jb.entries, i)
				}
				continue
			}
			if collecting == nil {
				collecting = map[conversation.Key]int{}
			}
			collecting[key] = len(r.jobs)
			r.jobs = append(r.jobs, job{entries: []int{i}, key: key, ups: []actors.StatusUpdate{s}, waMsgID: s.WaMessageID})
		}
		if len(b.Errors) > 0 && !d.keepErrors(ctx, e, b.Errors) {
			r.bad[i] = true
		}
	}
	for k := range r.jobs {
		j := &r.jobs[k]
		var cmd conversation.Command
		switch {
		case j.msg != nil:
			cmd = conversation.Inbound{Msg: *j.msg, Redelivery: j.again}
		case len(j.ups) == 1:
			cmd = conversation.StatusChanged{Update: j.ups[0]}
		default:
			cmd = conversation.StatusesChanged{Updates: j.ups}
		}
		j.reply = d.directory.Request(j.key, cmd, d.timeout)
		j.msg, j.ups = nil, nil
	}
	return r, nil
}

// batchOf returns e's batch: the one parsed on acceptance and handed over
// with it, or, for an entry read back from the store, its body parsed.
func (d *Dispatcher) batchOf(e actors.InboxEntry) (actors.WebhookBatch, error) {
	if e.Batch != nil {
		return *e.Batch, nil
	}
	return d.parse(e.Body)
}

// keepErrors stores the value-level errors of entry e for operators, with
// an error log and the engine_webhook_errors_total metric, and reports
// whether they were stored. Their ids derive from the entry, so a retried
// entry stores each once; the log and metric count each attempt.
func (d *Dispatcher) keepErrors(ctx context.Context, e actors.InboxEntry, errs []actors.WebhookError) bool {
	recs := make([]actors.WebhookErrorRecord, 0, len(errs))
	for k, we := range errs {
		d.metaErrs.WithLabelValues(strconv.Itoa(we.Code)).Inc()
		d.log.Error("WhatsApp reports an error for the business account", zap.String("phone_number_id", we.PhoneNumberID),
			zap.Int("code", we.Code), zap.String("title", we.Title), zap.String("details", we.Details), zap.String("entry", e.ID))
		recs = append(recs, actors.WebhookErrorRecord{ID: e.ID + "/" + strconv.Itoa(k), PhoneNumberID: we.PhoneNumberID, Error: we.WhatsAppError,
			ReceivedAt: e.ReceivedAt})
	}
	if d.errs == nil {
		return true
	}
	if err := d.errs.AddWebhookErrors(ctx, recs); err != nil {
		d.log.Warn("store webhook errors; the entry will be retried", zap.String("entry", e.ID), zap.Error(err))
		return false
	}
	return true
}

// finish awaits the answers of r and settles it (see settle).
func (d *Dispatcher) finish(ctx context.Context, r *round) error {
	d.await(r)
	return d.settle(ctx, r)
}

// await waits for the answers of r's jobs and keeps their errors.
func (d *Dispatcher) await(r *round) {
	r.errs = make([]error, len(r.jobs))
	for k, j := range r.jobs {
		res, err := conversation.Await(j.key, j.reply)
		r.errs[k] = err
		if ce := d.log.Check(zap.DebugLevel, "webhook item answered"); ce != nil {
			ids := make([]string, len(j.entries))
			for n, i := range j.entries {
				ids[n] = r.entries[i].ID
			}
			ce.Write(zap.Strings("entries", ids), zap.String("wa_message_id", j.waMsgID), zap.String("conversation_id", res.Conversation.ID),
				zap.Int64("seq", res.Conversation.Seq), zap.Bool("duplicate", res.Duplicate), zap.Error(err))
		}
	}
}

// settle queues the removal of r's entries fully applied (flushDone
// deletes them, many at once) and counts an attempt for the others, which
// are read back from the store when retried (after retryDelay). Run's
// goroutine only.
func (d *Dispatcher) settle(ctx context.Context, r *round) error {
	entries, bad := r.entries, r.bad
	// deferred are entries refused only by parked conversations: kept and
	// tried again, without counting an attempt (the park ends by itself).
	deferred := map[int]bool{}
	for k, j := range r.jobs {
		if err := r.errs[k]; err != nil {
			parked := errors.Is(err, conversation.ErrParked)
			for _, i := range j.entries {
				if parked && !bad[i] {
					deferred[i] = true
					continue
				}
				bad[i] = true
				delete(deferred, i)
			}
			if parked {
				d.log.Debug("webhook item waits for its parked conversation", zap.String("wa_message_id", j.waMsgID), zap.Error(err))
				continue
			}
			d.log.Warn("apply webhook item", zap.String("wa_message_id", j.waMsgID), zap.Error(err))
		}
	}
	var done []string
	var retry []actors.InboxEntry
	now := time.Now()
	for i, e := range entries {
		switch {
		case deferred[i]:
			d.deferred[e.ID] = now.Add(parkedRetry)
			d.forget(e.ID)
		case !bad[i]:
			done = append(done, e.ID)
			d.lag.Observe(now.Sub(e.ReceivedAt).Seconds())
		default:
			retry = append(retry, e)
			d.forget(e.ID)
			d.deferred[e.ID] = now.Add(d.retryDelay(e.Attempts + 1))
		}
	}
	if len(done) > 0 {
		d.completed(done, now)
		d.applied.Add(float64(len(done)))
	}
	for _, e := range retry {
		d.failures.Inc()
		if e.Attempts+1 == MaxAttempts {
			d.stuck.Inc()
			d.log.Error("webhook body failed too often; kept in the inbox but set aside", zap.String("entry", e.ID), zap.Int("attempts", e.Attempts+1))
		}
		if err := d.store.RecordInboxAttempt(ctx, e.ID); err != nil {
			return err
		}
	}
	if len(done)+len(deferred) < len(entries) {
		return errors.New("some webhook items could not be applied")
	}
	return nil
}
