package sender

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
)

// SendClaims keeps a record of each send in flight (the engine's
// idempotency records, under the key "whatsapp.send:<message id>"), so a
// send whose process died during its call to the Cloud API is not made
// again: the API has no idempotency key of its own.
type SendClaims interface {
	ClaimIdempotency(ctx context.Context, rec actors.IdempotencyRecord) (actors.IdempotencyRecord, error)
	ReleaseIdempotency(ctx context.Context, key, owner string) error
}

const (
	claimPrefix = "whatsapp.send:"
	// claimLease outlasts one Cloud API call (whatsapp.DefaultTimeout):
	// a claim older than that belongs to a process that died mid-call (a
	// SQLite engine settles its predecessor's claims at start-up at once).
	claimLease = time.Minute
	// claimTTL keeps an abandoned claim long enough for any restart: an
	// expired one no longer stops a second send.
	claimTTL = 7 * 24 * time.Hour
)

// sendClaim is a claim the sender holds; the zero value holds none.
type sendClaim struct{ key, owner string }

// claim records that job's send is about to be made. It reports false when
// the job was settled instead: another send of the message is in flight
// (held until its lease ends), the claim could not be written (retried),
// or a previous process claimed it and died mid-call (its outcome is
// unknown: see unknownOutcome).
func (s *Sender) claim(ctx context.Context, d actors.Delivery, job actors.OutboundJob, log *zap.Logger) (sendClaim, bool) {
	if s.opts.Claims == nil {
		return sendClaim{}, true
	}
	now := time.Now().UTC()
	c := sendClaim{key: claimPrefix + job.MessageID, owner: "sender:" + actors.NewID()}
	rec, err := s.opts.Claims.ClaimIdempotency(ctx, actors.IdempotencyRecord{Key: c.key, RequestHash: job.MessageID, Owner: c.owner,
		CreatedAt: now, ExpiresAt: now.Add(claimTTL), LeaseUntil: now.Add(claimLease)})
	switch {
	case errors.Is(err, actors.ErrDuplicate):
		s.hold(d, claimLease, "another send of this message is in flight", log)
		return sendClaim{}, false
	case err != nil:
		if ctx.Err() == nil {
			s.retry(ctx, d, job, whatsapp.Backoff(job.Attempt, time.Second), "claim the send: "+err.Error(), log)
		}
		return sendClaim{}, false
	case rec.CreatedAt.UnixMilli() != now.UnixMilli():
		// Taken over: the claim is older than this attempt.
		s.unknownOutcome(ctx, d, job, c, rec.CreatedAt, log)
		return sendClaim{}, false
	}
	return c, true
}

// release drops a claim whose send has an outcome (or none was made).
func (s *Sender) release(ctx context.Context, c sendClaim, log *zap.Logger) {
	if c.key == "" {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.opts.Claims.ReleaseIdempotency(rctx, c.key, c.owner); err != nil {
		log.Warn("release the claim of a send; it expires on its own", zap.Error(err))
	}
}

// unknownOutcome settles a job whose previous send died during its call
// to the Cloud API: WhatsApp may have the message, so it is not sent
// again. The message is failed with a reason that says so, and the job
// dead-lettered; a re-drive (an operator's decision) sends it again.
func (s *Sender) unknownOutcome(ctx context.Context, d actors.Delivery, job actors.OutboundJob, c sendClaim, claimedAt time.Time, log *zap.Logger) {
	log.Warn("send outcome unknown: its process died during the WhatsApp call; not sent again", zap.Time("claimed_at", claimedAt))
	s.outcomes.WithLabelValues("unknown").Inc()
	s.record(ctx, job, actors.StatusFailed, "", &actors.WhatsAppError{Title: "send outcome unknown",
		Message: "the engine stopped while handing the message to WhatsApp", Kind: actors.FailureTransient,
		Reason: "The engine stopped while this message was being sent; it may have reached the customer. Check before sending it again."}, false, log)
	s.release(ctx, c, log)
	if err := d.DeadLetter("send outcome unknown: the engine stopped during its WhatsApp call; not sent again"); err != nil {
		log.Warn("dead-letter job; it may be redelivered and skipped", zap.Error(err))
	}
}
