package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/webhook"
)

// InboxWriter durably stores accepted webhook bodies.
type InboxWriter interface {
	AppendInbox(ctx context.Context, entries []actors.InboxEntry) error
}

// handleWebhookVerify answers Meta's subscription handshake.
func (s *Server) handleWebhookVerify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	mode, token, challenge := q.Get("hub.mode"), q.Get("hub.verify_token"), q.Get("hub.challenge")
	if mode != "subscribe" || challenge == "" {
		writeError(w, r, errf(http.StatusBadRequest, CodeValidation, "hub.mode=subscribe and hub.challenge are required"))
		return
	}
	want := s.cfg.WhatsAppVerifyToken
	if want == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		s.audit(r, "whatsapp.webhook_verify", "webhook", actors.OutcomeDenied, "wrong verify token")
		writeError(w, r, errf(http.StatusForbidden, CodeForbidden, "verify token does not match"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, challenge)
}

// handleWebhook accepts a signed webhook body: signature first (over the raw
// bytes, as Meta signs them), then one parse, then a durable write of the
// raw body to the inbox (group-committed with concurrent requests), and
// only then 200, with the parsed batch handed to the dispatcher in memory.
// A store that cannot take it gets Meta to retry (503).
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body) // limited to WebhookMaxBytes by the route
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, errf(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("webhook body is larger than %d bytes", mbe.Limit)))
			return
		}
		writeError(w, r, errf(http.StatusBadRequest, CodeInvalidJSON, "webhook body could not be read"))
		return
	}
	if sig := r.Header.Get("X-Hub-Signature-256"); !webhook.VerifySignature(body, sig, s.cfg.WhatsAppAppSecret) {
		s.webhookMetrics.rejected.Inc()
		reason := reasonSignatureInvalid
		if sig == "" {
			reason = reasonSignatureMissing
		}
		s.refused(r, placeWebhook, reason)
		writeError(w, r, errf(http.StatusUnauthorized, CodeUnauthorized, "X-Hub-Signature-256 is missing or does not match the body"))
		return
	}
	entry := actors.InboxEntry{ID: actors.NewID(), Body: body, ReceivedAt: s.now().UTC()}
	// Parsed once, here: the dispatcher applies this batch from memory and
	// parses the stored body again only when it reads it back (recovery).
	// Parse's decode checks the whole body's syntax, so a parsed body is
	// valid JSON; a body that does not parse is checked on its own.
	if batch, err := webhook.Parse(body); err == nil {
		entry.Batch = &batch
	} else if !json.Valid(body) {
		writeError(w, r, errf(http.StatusBadRequest, CodeInvalidJSON, "webhook body is not valid JSON"))
		return
	}
	// Valid JSON that is not a WhatsApp body is still stored and answered
	// 200 (Meta signed it); the dispatcher sets it aside with an error log.
	if err := s.committer.commit(r.Context(), entry); err != nil {
		s.log.Warn("webhook not accepted; Meta will retry", zap.String("request_id", requestIDFrom(r.Context())), zap.Error(err))
		writeError(w, r, errf(http.StatusServiceUnavailable, CodeUnavailable, "webhook could not be stored; retry"))
		return
	}
	s.webhookMetrics.accepted.Inc()
	if ce := s.log.Check(zap.DebugLevel, "webhook accepted"); ce != nil {
		var wamids []string
		if entry.Batch != nil {
			for _, m := range entry.Batch.Messages {
				wamids = append(wamids, m.WaMessageID)
			}
		}
		ce.Write(zap.String("entry", entry.ID), zap.Strings("wa_message_ids", wamids))
	}
	writeData(w, http.StatusOK, map[string]bool{"received": true})
}

type webhookMetrics struct {
	accepted prometheus.Counter
	rejected prometheus.Counter
	batch    prometheus.Histogram
}

func newWebhookMetrics(reg prometheus.Registerer) *webhookMetrics {
	m := &webhookMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_webhooks_accepted_total", Help: "Webhook bodies durably accepted."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "engine_webhooks_rejected_total", Help: "Webhook bodies refused for a bad signature."}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "engine_inbox_commit_batch_size", Help: "Webhook bodies per durable inbox write.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}}),
	}
	reg.MustRegister(m.accepted, m.rejected, m.batch)
	return m
}

// committer batches concurrent inbox appends into one durable write (group
// commit). The queue is bounded: when full, the request is refused with 503
// rather than waiting without bound.
type committer struct {
	inbox    InboxWriter
	wake     func()
	accepted func([]actors.InboxEntry)
	queue    chan commitReq
	maxRun   int
	metrics  *webhookMetrics
	log      *zap.Logger
}

type commitReq struct {
	entry actors.InboxEntry
	done  chan error
}

var errInboxBusy = errors.New("inbox queue is full")

// commitBudget bounds how long a webhook waits for its inbox write, and one
// inbox write: a store slower than this is answered 503 within a few
// seconds (Meta retries) instead of holding Meta's request, and a backlog
// of writes queued behind a hung one cannot stretch the wait. A write that
// lands after its webhook was refused makes Meta's retry a duplicate, which
// the conversation drops.
const commitBudget = 5 * time.Second

func (c *committer) commit(ctx context.Context, e actors.InboxEntry) error {
	if c == nil || c.inbox == nil {
		return errors.New("no inbox configured")
	}
	ctx, cancel := context.WithTimeout(ctx, commitBudget)
	defer cancel()
	req := commitReq{entry: e, done: make(chan error, 1)}
	select {
	case c.queue <- req:
	default:
		return errInboxBusy
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The write may still land; Meta's retry is then a duplicate the
		// conversation drops.
		return ctx.Err()
	}
}

// run writes batches until stop is closed and the queue is drained.
func (c *committer) run(stop <-chan struct{}) {
	batch := make([]commitReq, 0, c.maxRun)
	for {
		select {
		case req := <-c.queue:
			batch = append(batch[:0], req)
		case <-stop:
			// Drain what is queued, then stop.
			for {
				select {
				case req := <-c.queue:
					c.write([]commitReq{req})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < c.maxRun {
			select {
			case req := <-c.queue:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		c.write(batch)
	}
}

func (c *committer) write(batch []commitReq) {
	entries := make([]actors.InboxEntry, len(batch))
	for i, b := range batch {
		entries[i] = b.entry
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitBudget)
	err := c.inbox.AppendInbox(ctx, entries)
	cancel()
	if err != nil {
		c.log.Warn("inbox write failed", zap.Int("bodies", len(entries)), zap.Error(err))
	} else {
		c.metrics.batch.Observe(float64(len(entries)))
	}
	for _, b := range batch {
		b.done <- err
	}
	switch {
	case err != nil:
	case c.accepted != nil:
		c.accepted(entries)
	case c.wake != nil:
		c.wake()
	}
}
