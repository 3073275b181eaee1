package sender

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
)

// claimLease outlasts one Cloud API call (whatsapp.DefaultTimeout): a
// claim older than that belongs to a process that died mid-call (a SQLite
// engine settles its predecessor's claims at start-up at once).
const claimLease = time.Minute

// claim claims the send of job's message on the message itself
// (Store.ClaimSend: one conditional write, which also tells what a read
// would: absent, no longer queued), so a send whose process died during
// its call to the Cloud API is not made again: the API has no idempotency
// key of its own. It returns the claim's owner, or false when the job was
// settled instead: its message is unknown (dead-lettered) or no longer
// queued (a redelivery: acknowledged), another send of it is in flight
// (held until its lease ends), the claim could not be written (retried),
// or a previous process claimed it and died mid-call (its outcome is
// unknown: see unknownOutcome).
func (s *Sender) claim(ctx context.Context, d actors.Delivery, job actors.OutboundJob, log *zap.Logger) (string, bool) {
	owner := s.owner + strconv.FormatUint(s.claims.Add(1), 10)
	now := time.Now().UTC()
	c, err := s.opts.Store.ClaimSend(ctx, job.MessageID, owner, now, now.Add(claimLease))
	switch {
	case err != nil:
		s.unclaimed(ctx, d, job, "claim the send", err, log)
		return "", false
	case c.State == actors.SendNotQueued:
		// Already sent or failed: a redelivery. Nothing to do twice.
		s.outcomes.WithLabelValues("skipped").Inc()
		s.ack(d, log)
		return "", false
	case c.State == actors.SendInFlight:
		s.hold(d, claimLease, "another send of this message is in flight", log)
		return "", false
	case c.State == actors.SendOutcomeUnknown:
		s.unknownOutcome(ctx, d, job, c.ClaimedAt, log)
		return "", false
	}
	return owner, true
}

// stillQueued reads job's message and reports whether it is still to be
// sent; it settles the job otherwise, as claim does.
func (s *Sender) stillQueued(ctx context.Context, d actors.Delivery, job actors.OutboundJob, log *zap.Logger) bool {
	m, err := s.opts.Store.Message(ctx, job.MessageID)
	switch {
	case err != nil:
		s.unclaimed(ctx, d, job, "load message", err, log)
		return false
	case m.Status != actors.StatusQueued:
		s.outcomes.WithLabelValues("skipped").Inc()
		s.ack(d, log)
		return false
	}
	return true
}

// unclaimed settles a job whose message could not be claimed or read
// (what failed with err): dead-lettered when the message is unknown,
// retried otherwise (left for redelivery when shutting down).
func (s *Sender) unclaimed(ctx context.Context, d actors.Delivery, job actors.OutboundJob, what string, err error, log *zap.Logger) {
	switch {
	case errors.Is(err, actors.ErrNotFound):
		log.Error("outbound job for an unknown message; dead-lettering")
		if err := d.DeadLetter("message not found"); err != nil {
			log.Warn("dead-letter job", zap.Error(err))
		}
	case ctx.Err() != nil:
		// Redelivered after the restart.
	default:
		s.retry(ctx, d, job, whatsapp.Backoff(job.Attempt, time.Second), what+": "+err.Error(), log)
	}
}

// release drops the claim of a send whose call was answered with an error
// that is retried: its outcome is known (not sent).
func (s *Sender) release(ctx context.Context, messageID, owner string, log *zap.Logger) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.opts.Store.ReleaseSend(rctx, messageID, owner); err != nil {
		log.Warn("release the claim of a send; its lease ends on its own", zap.Error(err))
	}
}

// unknownOutcome settles a job whose previous send died during its call
// to the Cloud API: WhatsApp may have the message, so it is not sent
// again. The message is failed with a reason that says so (the status
// write ends the claim this sender took over), and the job dead-lettered;
// a re-drive (an operator's decision) queues the message again, without a
// claim, and sends it.
func (s *Sender) unknownOutcome(ctx context.Context, d actors.Delivery, job actors.OutboundJob, claimedAt time.Time, log *zap.Logger) {
	log.Warn("send outcome unknown: its process died during the WhatsApp call; not sent again", zap.Time("claimed_at", claimedAt))
	s.outcomes.WithLabelValues("unknown").Inc()
	s.record(ctx, job, actors.StatusFailed, "", &actors.WhatsAppError{Title: "send outcome unknown",
		Message: "the engine stopped while handing the message to WhatsApp", Kind: actors.FailureTransient,
		Reason: "The engine stopped while this message was being sent; it may have reached the customer. Check before sending it again."}, false, log)
	if err := d.DeadLetter("send outcome unknown: the engine stopped during its WhatsApp call; not sent again"); err != nil {
		log.Warn("dead-letter job; it may be redelivered and skipped", zap.Error(err))
	}
}
