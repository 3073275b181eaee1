package callsender

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/gateway/outbound/exotel"
)

// process handles one delivery: it asks the call's actor what to do, then
// places the call, looks it up or puts the job back. Every outcome is told
// to the actor, and answered, before the job is acknowledged.
func (s *Sender) process(ctx context.Context, d actors.Delivery) {
	job := d.Job()
	id := job.CallID
	if id == "" {
		id = job.MessageID
	}
	log := s.log.With(zap.String("call_id", id), zap.Int("attempt", job.Attempt))
	if job.Kind != actors.JobCallConnect || id == "" {
		log.Error("job on the Exotel queue is not a call connect; dead-lettering", zap.String("kind", job.Kind))
		s.deadLetter(d, "not a call.connect job", log)
		return
	}
	if wait := s.pausedFor(); wait > 0 {
		s.hold(d, wait, "calling paused: Exotel refused the engine's credentials", log)
		return
	}

	res, err := call.Ask(s.opts.Directory, id, call.BeginConnect{}, s.opts.AskTimeout)
	switch {
	case err == nil:
	case errors.Is(err, call.ErrClosed):
		s.skip(d, log)
		return
	case errors.Is(err, actors.ErrNotFound):
		log.Error("connect job for an unknown call; dead-lettering")
		s.deadLetter(d, "call not found", log)
		return
	case ctx.Err() != nil:
		return // shutting down: redelivered after the restart
	case !errors.Is(err, call.ErrNoAnswer) && res.Connect == call.ConnectWait:
		// The call answered but could not read or mark itself (its store
		// is down, another activation changed it): not the job's failure.
		s.hold(d, s.opts.WaitDelay, "call not ready: "+err.Error(), log)
		return
	default:
		// No answer (the call may have marked a connect: the next delivery
		// resolves it), or a failure to connect it now. An answer with an
		// error is never taken for ConnectGo.
		s.retry(d, id, time.Time{}, s.backoff(job.Attempt, 0), "ask call: "+err.Error(), log)
		return
	}

	switch res.Connect {
	case call.ConnectSkip:
		s.skip(d, log)
	case call.ConnectWait:
		s.hold(d, s.opts.WaitDelay, "another delivery is connecting the call", log)
	case call.ConnectResolve:
		s.resolve(ctx, d, res.Call, log)
	case call.ConnectGo:
		s.place(ctx, d, res.Call, log)
	default:
		s.retry(d, id, time.Time{}, s.backoff(job.Attempt, 0), "call answered an unknown connect decision", log)
	}
}

// place sends the connect and records its outcome.
func (s *Sender) place(ctx context.Context, d actors.Delivery, c actors.Call, log *zap.Logger) {
	job := d.Job()
	req := exotel.ConnectRequest{CallID: c.ID, From: c.From, To: c.To, CallerID: c.CallerID, TimeLimit: c.TimeLimit,
		TimeOut: c.TimeOut, Record: c.Record}
	// The request runs to its end even when ctx ends: its outcome must be
	// told to the call, or the next delivery looks it up.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.RequestTimeout)
	start := time.Now()
	placed, err := s.opts.Client.Connect(rctx, req)
	cancel()
	s.latency.Observe(time.Since(start).Seconds())
	if err == nil {
		log.Debug("call placed", zap.String("call_sid", placed.Sid), zap.String("status", placed.Status))
		if terr := s.tell(c.ID, call.Connected{Sid: placed.Sid, Status: placed.Status}); terr != nil {
			// Placed but not recorded: the next delivery finds it at Exotel
			// (the call is still connecting) and records it then.
			log.Warn("placed call not recorded; it will be looked up", zap.String("call_sid", placed.Sid), zap.Error(terr))
			s.hold(d, s.opts.WaitDelay, "record placed call: "+terr.Error(), log)
			return
		}
		s.outcomes.WithLabelValues("placed").Inc()
		s.ack(d, log)
		return
	}

	dec := exotel.Classify(err)
	switch dec.Action {
	case exotel.Fail:
		if dec.Auth {
			s.pause(dec, err, log)
		} else {
			// Exotel's message may repeat a refused number: Debug only.
			log.Info("Exotel refused the call", zap.String("reason", dec.Reason))
			log.Debug("Exotel's refusal", zap.Error(err))
		}
		s.fail(d, c, "Exotel refused the call: "+dec.Reason, log)
	case exotel.Retry:
		log.Debug("Exotel did not take the call; retrying", zap.String("reason", dec.Reason), zap.Error(err))
		if terr := s.tell(c.ID, call.ConnectFailed{Reason: dec.Reason, StartedAt: c.ConnectStartedAt}); terr != nil {
			// The call stays marked connecting; the next delivery looks it
			// up (and finds nothing) before placing it again.
			log.Warn("connect failure not recorded", zap.Error(terr))
		}
		s.retry(d, c.ID, c.ConnectStartedAt, s.backoff(job.Attempt, dec.Delay), dec.Reason, log)
	default: // Unknown
		// The call may be placed. Tell the call nothing: it stays marked
		// connecting, so the next delivery looks it up before anything is
		// placed again. Held, not retried: the job did not fail, and a call
		// that may be live must not be dead-lettered.
		log.Warn("connect outcome unknown; the call will be looked up at Exotel", zap.String("reason", dec.Reason), zap.Error(err))
		s.outcomes.WithLabelValues("unknown").Inc()
		s.hold(d, s.opts.WaitDelay, "connect outcome unknown: "+dec.Reason, log)
	}
}

// resolve settles a connect whose outcome was lost: the call found at
// Exotel is recorded; none found after SettleWindow means none was placed,
// and the job comes back to place it.
func (s *Sender) resolve(ctx context.Context, d actors.Delivery, c actors.Call, log *zap.Logger) {
	job := d.Job()
	started := c.ConnectStartedAt
	if started.IsZero() {
		started = c.CreatedAt
	}
	rctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	found, ok, err := s.opts.Client.FindPlaced(rctx, c.From, c.To, started.Add(-s.opts.LookupSkew))
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		dec := exotel.Classify(err)
		if dec.Auth {
			s.pause(dec, err, log)
			s.hold(d, s.opts.AuthPause, "calling paused: Exotel refused the engine's credentials", log)
			return
		}
		log.Warn("look up a connect whose outcome was lost", zap.Error(err))
		s.retry(d, c.ID, c.ConnectStartedAt, s.backoff(job.Attempt, dec.Delay), "look up lost connect: "+dec.Reason, log)
		return
	}
	if ok {
		log.Info("call of a lost connect answer found at Exotel", zap.String("call_sid", found.Sid), zap.String("status", found.Status))
		if terr := s.tell(c.ID, call.Connected{Sid: found.Sid, Status: found.Status}); terr != nil {
			s.hold(d, s.opts.WaitDelay, "record placed call: "+terr.Error(), log)
			return
		}
		s.outcomes.WithLabelValues("resolved").Inc()
		s.ack(d, log)
		return
	}
	elapsed, window := s.opts.Now().Sub(started), s.settleWindow(c)
	if elapsed < window {
		s.hold(d, min(s.opts.WaitDelay, window-elapsed), "connect outcome unknown; looking the call up at Exotel", log)
		return
	}
	reason := "connect outcome unknown and Exotel lists no call for it"
	log.Warn("no call found at Exotel for a lost connect; placing it again", zap.Duration("since_connect", elapsed))
	if terr := s.tell(c.ID, call.ConnectFailed{Reason: reason, StartedAt: c.ConnectStartedAt}); terr != nil {
		s.hold(d, s.opts.WaitDelay, "record lost connect: "+terr.Error(), log)
		return
	}
	s.retry(d, c.ID, c.ConnectStartedAt, s.backoff(1, 0), reason, log)
}

// settleWindow is how long a lost connect of c is looked up before it is
// deemed not placed: SettleWindow, and at least the time both legs of c may
// ring (2×TimeOut), by when a placed call has an answered or terminal
// callback that names it.
func (s *Sender) settleWindow(c actors.Call) time.Duration {
	return max(s.opts.SettleWindow, 2*time.Duration(c.TimeOut)*time.Second)
}

// tell asks the call to apply cmd and waits for its answer (the actor
// stores the change before it answers).
func (s *Sender) tell(callID string, cmd call.Command) error {
	_, err := call.Ask(s.opts.Directory, callID, cmd, s.opts.AskTimeout)
	if errors.Is(err, call.ErrClosed) {
		return nil // closed meanwhile (canceled): nothing more to record
	}
	return err
}

// fail closes the call as failed for good, then acknowledges the job.
func (s *Sender) fail(d actors.Delivery, c actors.Call, reason string, log *zap.Logger) {
	if err := s.tell(c.ID, call.ConnectFailed{Reason: reason, Final: true, StartedAt: c.ConnectStartedAt}); err != nil {
		// Not recorded: the call stays marked connecting; the next
		// delivery looks it up, finds nothing and tries again.
		log.Warn("call failure not recorded; job held", zap.Error(err))
		s.hold(d, s.opts.WaitDelay, "record failed call: "+err.Error(), log)
		return
	}
	s.outcomes.WithLabelValues("failed").Inc()
	s.ack(d, log)
}

// retry requeues the job; when it has no attempts left it is
// dead-lettered and the call closed as failed. startedAt is the connect
// BeginConnect answered this delivery with (zero when none): the call
// ignores the failure if another delivery began connecting since.
func (s *Sender) retry(d actors.Delivery, callID string, startedAt time.Time, delay time.Duration, reason string, log *zap.Logger) {
	dead, err := d.Retry(delay, reason)
	if err != nil {
		log.Warn("requeue job; it will be redelivered", zap.Error(err))
		return
	}
	if !dead {
		s.outcomes.WithLabelValues("retried").Inc()
		log.Debug("connect retried", zap.Duration("delay", delay), zap.String("reason", reason))
		return
	}
	s.outcomes.WithLabelValues("dead_lettered").Inc()
	log.Warn("connect dead-lettered after its last attempt", zap.String("reason", reason))
	if err := s.tell(callID, call.ConnectFailed{Reason: "dead-lettered: " + reason, Final: true, StartedAt: startedAt}); err != nil {
		log.Error("call of a dead-lettered connect not closed; re-drive the dead letter", zap.Error(err))
	}
}

// hold puts the job back untried: no attempt used, never dead-lettered.
func (s *Sender) hold(d actors.Delivery, delay time.Duration, reason string, log *zap.Logger) {
	if err := d.Hold(delay, reason); err != nil {
		log.Warn("hold job; it will be redelivered", zap.Error(err))
		return
	}
	s.outcomes.WithLabelValues("held").Inc()
	log.Debug("connect held", zap.Duration("delay", delay), zap.String("reason", reason))
}

func (s *Sender) skip(d actors.Delivery, log *zap.Logger) {
	s.outcomes.WithLabelValues("skipped").Inc()
	s.ack(d, log)
}

func (s *Sender) ack(d actors.Delivery, log *zap.Logger) {
	if err := d.Ack(); err != nil {
		log.Warn("ack job; it may be redelivered and skipped", zap.Error(err))
	}
}

func (s *Sender) deadLetter(d actors.Delivery, reason string, log *zap.Logger) {
	if err := d.DeadLetter(reason); err != nil {
		log.Warn("dead-letter job", zap.Error(err))
		return
	}
	s.outcomes.WithLabelValues("dead_lettered").Inc()
}
