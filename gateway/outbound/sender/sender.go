package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
)

// Client sends one message to the Cloud API.
type Client interface {
	Send(ctx context.Context, phoneNumberID string, body json.RawMessage) (wamid string, err error)
}

// Shaper paces sends.
type Shaper interface {
	Wait(ctx context.Context, phoneNumberID, to string) error
	PauseNumber(phoneNumberID string, until time.Time)
	PauseRecipient(phoneNumberID, to string, until time.Time)
}

// Store is what the sender reads and writes of messages. A send costs a
// claim (ClaimSend, which also stands for reading the message) and its
// outcome (UpdateMessageStatus, which ends the claim); ReleaseSend only
// follows an answered error that is retried, and Message is read only for
// a send naming our medium, before its medium is looked at.
type Store interface {
	Message(ctx context.Context, id string) (actors.Message, error)
	ClaimSend(ctx context.Context, id, owner string, now, leaseUntil time.Time) (actors.SendClaim, error)
	ReleaseSend(ctx context.Context, id, owner string) error
	UpdateMessageStatus(ctx context.Context, id, status, waMessageID string, werr *actors.WhatsAppError, at time.Time) (bool, error)
}

// Options build a Sender.
type Options struct {
	Consumer  actors.OutboundConsumer
	Client    Client
	Shaper    Shaper
	Store     Store
	Directory conversation.Directory
	Log       *zap.Logger
	Registry  prometheus.Registerer
	// NumberPause, when set, replaces the pause a token or account error
	// puts on a number (Meta's classification otherwise: minutes).
	NumberPause time.Duration
	// RecipientPause, when set, replaces the pause 131048/131049 put on a
	// recipient (otherwise hours).
	RecipientPause time.Duration
	// Pauses applies pauses and operator alerts; the same Pauses is handed
	// to the conversations for failures reported later in a failed status.
	// When nil, New builds one from Shaper, NumberPause and RecipientPause
	// (alerts then only logged and counted) and registers its metrics.
	Pauses *Pauses
	// Media, Blobs and Uploader serve the jobs of our media: upload jobs
	// (actors.JobMediaUpload) and sends naming a medium (OutboundJob.MediaID).
	// Without them such a job is dead-lettered or its message failed.
	Media    MediaStore
	Blobs    actors.MediaBlobs
	Uploader Uploader
	// Outbox is the queue the sender drains, to ask again for an upload
	// that was lost (a send whose medium did not move for UploadStall).
	Outbox actors.OutboundPublisher
	// MediaHold is the longest a send waiting for its medium's upload is
	// put back for (DefaultMediaHold when zero; the first waits are
	// shorter); UploadStall how long a medium may
	// wait for its upload to start before it is asked for again
	// (DefaultUploadStall; plus the longest retry backoff while uploading).
	MediaHold   time.Duration
	UploadStall time.Duration
}

// Sender is the outbound queue's consumer.
type Sender struct {
	opts     Options
	log      *zap.Logger
	mu       sync.Mutex
	inflight map[string]bool
	wg       sync.WaitGroup
	// owner and claims name each claim this sender takes (see claim).
	owner  string
	claims atomic.Uint64

	outcomes *prometheus.CounterVec
	uploads  *prometheus.CounterVec
	latency  prometheus.Histogram
	pauses   *Pauses

	mediaHold   time.Duration
	uploadStall time.Duration
}

// New returns a Sender; Run starts it.
func New(opts Options) *Sender {
	s := &Sender{opts: opts, log: opts.Log.With(zap.String("component", "sender")), inflight: map[string]bool{}, owner: "sender:" + actors.NewID() + ":",
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_sends_total", Help: "Send attempts by outcome (sent, retried, failed, dead_lettered, skipped, held: requeued untried while its number or recipient is paused, panicked: the handler panicked and the job was retried, unknown: an earlier send died mid-call and the message was failed, not sent again)."}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "engine_send_duration_seconds", Help: "Cloud API send latency.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
	}
	s.uploads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_media_uploads_total",
		Help: "Upload jobs of our media to the Cloud API by outcome (uploaded, retried, failed, skipped: done already or nobody waits)."}, []string{"outcome"})
	s.mediaHold, s.uploadStall = pick(opts.MediaHold, DefaultMediaHold), pick(opts.UploadStall, DefaultUploadStall)
	if opts.Registry != nil {
		opts.Registry.MustRegister(s.outcomes, s.latency, s.uploads)
	}
	s.pauses = opts.Pauses
	if s.pauses == nil {
		s.pauses = NewPauses(PausesOptions{Shaper: opts.Shaper, NumberPause: opts.NumberPause, RecipientPause: opts.RecipientPause,
			Log: opts.Log, Registry: opts.Registry})
	}
	return s
}

// Run consumes until ctx ends, then waits for sends in flight.
func (s *Sender) Run(ctx context.Context) error {
	err := s.opts.Consumer.Consume(ctx, func(d actors.Delivery) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.recoverJob(ctx, d)
			s.process(ctx, d)
		}()
	})
	s.wg.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (s *Sender) begin(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[id] {
		return false
	}
	s.inflight[id] = true
	return true
}

func (s *Sender) end(id string) {
	s.mu.Lock()
	delete(s.inflight, id)
	s.mu.Unlock()
}

// recoverJob turns a panic while handling d into a failed attempt: the
// job is retried with backoff and dead-lettered with the panic as its
// reason once its attempts are spent, so a poison job never takes the
// engine down and the queue keeps flowing.
func (s *Sender) recoverJob(ctx context.Context, d actors.Delivery) {
	v := recover()
	if v == nil {
		return
	}
	job := d.Job()
	log := s.log.With(zap.String("message_id", job.MessageID), zap.Int("attempt", job.Attempt))
	log.Error("send handler panicked; the job is retried, then dead-lettered", zap.Any("panic", v), zap.Stack("stack"))
	s.outcomes.WithLabelValues("panicked").Inc()
	s.retry(ctx, d, job, whatsapp.Backoff(job.Attempt, time.Second), fmt.Sprintf("handler panicked: %v", v), log)
}

func (s *Sender) process(ctx context.Context, d actors.Delivery) {
	job := d.Job()
	if faultsHook != nil {
		faultsHook(job)
	}
	if job.Kind == actors.JobMediaUpload {
		s.processUpload(ctx, d)
		return
	}
	log := s.log.WithLazy(zap.String("message_id", job.MessageID), zap.String("phone_number_id", job.PhoneNumberID), zap.Int("attempt", job.Attempt))
	if !s.begin(job.MessageID) {
		// The same message is being sent right now (a duplicate delivery):
		// its outcome will be recorded by the first.
		s.outcomes.WithLabelValues("skipped").Inc()
		s.ack(d, log)
		return
	}
	defer s.end(job.MessageID)

	body := job.Body
	if job.MediaID != "" {
		// A send naming our medium reads its message first: a redelivery
		// of one already sent must not touch its medium (fail it, ask for
		// an upload). A text's claim below answers the same questions.
		if !s.stillQueued(ctx, d, job, log) {
			return
		}
		if s.opts.Media == nil {
			s.failMedia(ctx, d, job, "the engine has no media store", log)
			return
		}
		var ready bool
		if body, ready = s.mediaBody(ctx, d, job, log); !ready {
			return
		}
	}

	if err := s.opts.Shaper.Wait(ctx, job.PhoneNumberID, job.To); err != nil {
		var paused *whatsapp.PausedError
		switch {
		case errors.As(err, &paused):
			s.hold(d, paused.Remaining, "paused: "+paused.Error(), log)
		case ctx.Err() != nil:
			// Shutting down: leave the job unacknowledged for redelivery.
		default:
			s.retry(ctx, d, job, whatsapp.Backoff(job.Attempt, time.Second), err.Error(), log)
		}
		return
	}

	owner, ok := s.claim(ctx, d, job, log)
	if !ok {
		return
	}
	start := time.Now()
	wamid, err := s.opts.Client.Send(ctx, job.PhoneNumberID, body)
	s.latency.Observe(time.Since(start).Seconds())
	if err == nil {
		// The outcome's write ends the claim.
		s.record(ctx, job, actors.StatusSent, wamid, nil, false, log)
		s.outcomes.WithLabelValues("sent").Inc()
		s.ack(d, log)
		return
	}
	dec := whatsapp.Classify(err)
	werr := failure(dec)
	if dec.Action != whatsapp.Fail && ctx.Err() == nil {
		// Answered (or refused before reaching Meta) and to be tried
		// again: the outcome is known, the claim is released. A failure
		// for good is released by its status write; a call cut by
		// shutdown keeps its claim: Meta may have the message.
		s.release(ctx, job.MessageID, owner, log)
	}
	switch dec.Action {
	case whatsapp.Retry:
		if dec.RecipientOnly {
			// 131056: hold back every message to this recipient, not just
			// this one, for the pair-rate delay.
			s.opts.Shaper.PauseRecipient(job.PhoneNumberID, job.To, time.Now().Add(dec.Delay))
		}
		if dec.NumberWide {
			// 130429: the number's throughput is spent; its other sends
			// wait too (held untried) instead of each meeting the limit.
			s.opts.Shaper.PauseNumber(job.PhoneNumberID, time.Now().Add(dec.Delay))
		}
		s.retry(ctx, d, job, whatsapp.Backoff(job.Attempt, dec.Delay), dec.Reason, log)
	case whatsapp.PauseNumber:
		pause := s.pauses.pauseNumber(ctx, job.PhoneNumberID, dec.Delay, *werr)
		log.Error("WhatsApp refused the business number's token or account; sends paused",
			zap.Int("code", dec.Code), zap.String("reason", dec.Reason), zap.Duration("pause", pause), zap.Error(err))
		s.retry(ctx, d, job, pause, dec.Reason, log)
	case whatsapp.PauseRecipient:
		pause := s.pauses.pauseRecipient(job.PhoneNumberID, job.To, pick(s.opts.RecipientPause, dec.Delay))
		log.Warn("recipient paused after WhatsApp's error", zap.Int("code", dec.Code), zap.String("reason", dec.Reason), zap.Error(err))
		s.retry(ctx, d, job, pause, dec.Reason, log)
	default: // Fail: recorded, then dead-lettered with Meta's reason
		log.Info("send failed for good", zap.Int("code", dec.Code), zap.String("reason", dec.Reason))
		s.record(ctx, job, actors.StatusFailed, "", werr, dec.WindowClosed, log)
		s.outcomes.WithLabelValues("failed").Inc()
		if err := d.DeadLetter("failed for good: " + dec.Reason); err != nil {
			log.Warn("dead-letter failed job; it may be redelivered and skipped", zap.Error(err))
		}
	}
}

// retry requeues the job, or, when it has no attempts left, records the
// message as failed (it was dead-lettered).
func (s *Sender) retry(ctx context.Context, d actors.Delivery, job actors.OutboundJob, delay time.Duration, reason string, log *zap.Logger) {
	dead, err := d.Retry(delay, reason)
	if err != nil {
		log.Warn("requeue job; it will be redelivered", zap.Error(err))
		return
	}
	if !dead {
		s.outcomes.WithLabelValues("retried").Inc()
		log.Debug("send retried", zap.Duration("delay", delay), zap.String("reason", reason))
		return
	}
	s.outcomes.WithLabelValues("dead_lettered").Inc()
	log.Warn("send dead-lettered after its last attempt", zap.String("reason", reason))
	s.record(ctx, job, actors.StatusFailed, "", &actors.WhatsAppError{Title: "dead-lettered after the last attempt", Message: reason,
		Kind: actors.FailureTransient, Reason: "WhatsApp could not take the message and the engine stopped retrying; send it again later."}, false, log)
}

// failure is the error recorded on a message whose send failed with dec:
// Meta's code with the table's kind and agent-facing reason, or, for a
// failure that carries no code (an answer that is not Meta's, a response
// without a message id), code 0 with kind FailureRejected.
func failure(dec whatsapp.Decision) *actors.WhatsAppError {
	if dec.Code == whatsapp.NoCode {
		return &actors.WhatsAppError{Title: dec.Reason, Kind: actors.FailureRejected,
			Reason: "WhatsApp did not accept the message; it was not sent."}
	}
	e := actors.WhatsAppError{Code: dec.Code, Title: dec.Reason}.Explained()
	return &e
}

// hold puts back, untried, a job whose number or recipient is paused, to
// come again when the pause ends. It is not a failure of the job: it uses
// no attempt, so however long a pause lasts the message waits, queued, and
// goes out once the pause ends.
func (s *Sender) hold(d actors.Delivery, delay time.Duration, reason string, log *zap.Logger) {
	if err := d.Hold(delay, reason); err != nil {
		log.Warn("requeue paused job; it will be redelivered", zap.Error(err))
		return
	}
	s.outcomes.WithLabelValues("held").Inc()
	log.Debug("send held while paused", zap.Duration("delay", delay), zap.String("reason", reason))
}

func (s *Sender) ack(d actors.Delivery, log *zap.Logger) {
	if err := d.Ack(); err != nil {
		log.Warn("ack job; it may be redelivered and skipped", zap.Error(err))
	}
}

// record persists a send's outcome, then tells the conversation. The
// status write (which also ends the send's claim) is retried briefly: a
// message whose status is lost stays queued, its job acknowledged.
func (s *Sender) record(ctx context.Context, job actors.OutboundJob, status, wamid string, werr *actors.WhatsAppError, windowClosed bool, log *zap.Logger) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, err = s.opts.Store.UpdateMessageStatus(wctx, job.MessageID, status, wamid, werr, time.Now().UTC())
		cancel()
		if err == nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	if err != nil {
		// The message stays queued. After a call its claim stays too, so
		// a redelivery fails it as of unknown outcome rather than send it
		// again.
		log.Error("send outcome not recorded", zap.String("status", status), zap.Error(err))
	}
	key := conversation.Key{PhoneNumberID: job.PhoneNumberID, WaID: job.To}
	s.opts.Directory.Send(key, conversation.SendOutcome{MessageID: job.MessageID, WaMessageID: wamid, Status: status, Error: werr, WindowClosed: windowClosed})
}

// pick returns override when set, else d.
func pick(override, d time.Duration) time.Duration {
	if override > 0 {
		return override
	}
	return d
}
