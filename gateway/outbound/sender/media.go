package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
)

// MediaStore is what the sender reads and writes of our media.
type MediaStore interface {
	Media(ctx context.Context, id string) (actors.Media, error)
	SaveMedia(ctx context.Context, m actors.Media) error
}

// Uploader uploads a file to a business number's media endpoint
// (whatsapp.Client).
type Uploader interface {
	UploadMedia(ctx context.Context, phoneNumberID, mimeType, filename string, size int64, r io.Reader) (string, error)
}

// Defaults of the media options.
const (
	DefaultMediaHold   = time.Second
	DefaultUploadStall = time.Minute
	// uploadBackoffCap is the longest an upload job waits between two
	// attempts (whatsapp.Backoff's cap); an upload that has not moved for
	// longer than UploadStall beyond it is taken for lost.
	uploadBackoffCap = 5 * time.Minute
)

// Fresh reports whether medium m can be sent from phoneNumberID at now by
// its WhatsApp id: uploaded on that number less than actors.MediaWaLife
// ago.
func Fresh(m actors.Media, phoneNumberID string, now time.Time) bool {
	return m.Status == actors.MediaUploaded && m.WaMediaID != "" && m.WaPhoneNumberID == phoneNumberID &&
		now.Before(m.WaUploadedAt.Add(actors.MediaWaLife))
}

// MediaPrep readies our media for sends: the conversation actors'
// MediaSends. Safe for concurrent use.
type MediaPrep struct {
	Store MediaStore
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// ErrMediaNotReady means the medium has no bytes to send: an inbound medium
// still pending, or one whose fetch failed.
var ErrMediaNotReady = errors.New("medium not ready to send")

// Prepare links the medium to msg when it is linked to no message yet,
// and, when it has no WhatsApp id fresh for phoneNumberID, returns the
// upload job to publish before the send's (a medium whose last upload
// failed is back to stored: this is a new request). The medium's UpdatedAt
// then marks the request, from which the sender measures a lost upload.
func (p *MediaPrep) Prepare(ctx context.Context, mediaID, phoneNumberID string, msg actors.Message) (*actors.MessageMedia, *actors.OutboundJob, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	m, err := p.Store.Media(ctx, mediaID)
	if err != nil {
		return nil, nil, err
	}
	if m.SHA256 == "" || m.Status == actors.MediaPending {
		return nil, nil, fmt.Errorf("medium %s is %s: %w", mediaID, m.Status, ErrMediaNotReady)
	}
	changed := false
	if m.MessageID == "" && m.ConversationID == "" {
		m.ConversationID, m.MessageID = msg.ConversationID, msg.ID
		changed = true
	}
	var job *actors.OutboundJob
	at := now().UTC()
	if !Fresh(m, phoneNumberID, at) {
		if m.Status == actors.MediaFailed {
			m.Status, m.Error = actors.MediaStored, ""
		}
		m.UpdatedAt, changed = at, true
		job = &actors.OutboundJob{Kind: actors.JobMediaUpload, MessageID: msg.ID, PhoneNumberID: phoneNumberID, MediaID: mediaID, Attempt: 1}
	}
	if changed {
		if err := p.Store.SaveMedia(ctx, m); err != nil {
			return nil, nil, fmt.Errorf("ready medium %s: %w", mediaID, err)
		}
	}
	sum := m.Summary()
	return &sum, job, nil
}

// mediaBody readies a send job that names our medium: it returns the body
// with WhatsApp's id of the medium in place of ours, or settles the job
// (held while the upload is to come, the message failed when the medium
// is gone or its upload failed) and returns ok false.
func (s *Sender) mediaBody(ctx context.Context, d actors.Delivery, job actors.OutboundJob, log *zap.Logger) (json.RawMessage, bool) {
	m, err := s.opts.Media.Media(ctx, job.MediaID)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		s.failMedia(ctx, d, job, "the medium was deleted before it was sent", log)
		return nil, false
	case err != nil:
		if ctx.Err() == nil {
			s.retry(ctx, d, job, whatsapp.Backoff(job.Attempt, time.Second), "load medium: "+err.Error(), log)
		}
		return nil, false
	}
	now := time.Now().UTC()
	switch {
	case Fresh(m, job.PhoneNumberID, now):
		body, err := withWhatsAppMediaID(job.Body, m.WaMediaID)
		if err != nil {
			log.Error("send body does not name its medium; failing it", zap.Error(err))
			s.failMedia(ctx, d, job, "the message's body names no medium", log)
			return nil, false
		}
		return body, true
	case m.Status == actors.MediaFailed:
		s.failMedia(ctx, d, job, m.Error, log)
		return nil, false
	case m.SHA256 == "":
		s.failMedia(ctx, d, job, "the medium has no bytes ("+m.Status+")", log)
		return nil, false
	}
	// Stored, uploading, or uploaded for another number or too long ago:
	// its upload is to come. One that has not moved for a while was lost
	// (its job dropped with an in-process queue, say): ask again.
	stall := s.uploadStall
	if m.Status == actors.MediaUploading {
		stall += uploadBackoffCap
	}
	if now.Sub(m.UpdatedAt) > stall {
		s.requestUpload(ctx, job, m, now, log)
	}
	s.holdForMedia(d, m.Status, log)
	return nil, false
}

// requestUpload publishes an upload job for m and marks the request on it.
func (s *Sender) requestUpload(ctx context.Context, job actors.OutboundJob, m actors.Media, now time.Time, log *zap.Logger) {
	up := actors.OutboundJob{Kind: actors.JobMediaUpload, MessageID: job.MessageID, ConversationID: job.ConversationID, PhoneNumberID: job.PhoneNumberID,
		To: job.To, Priority: job.Priority, MediaID: m.ID, Attempt: 1, EnqueuedAt: now}
	if s.opts.Outbox == nil {
		return
	}
	if err := s.opts.Outbox.Publish(ctx, up); err != nil {
		log.Warn("publish the upload of a stalled medium; asking again later", zap.String("media_id", m.ID), zap.Error(err))
		return
	}
	m.UpdatedAt = now
	if err := s.opts.Media.SaveMedia(ctx, m); err != nil {
		log.Warn("mark the upload request", zap.String("media_id", m.ID), zap.Error(err))
	}
	log.Info("medium upload asked for again; its last request did not move", zap.String("media_id", m.ID), zap.String("status", m.Status))
}

// minMediaHold is the first wait of a send for its medium: an upload
// usually answers within it.
const minMediaHold = 50 * time.Millisecond

// holdForMedia puts a send back, untried, until its medium is uploaded:
// for a quarter of the time it has waited so far, between minMediaHold and
// MediaHold, so a send follows a quick upload closely and a long wait
// costs few redeliveries.
func (s *Sender) holdForMedia(d actors.Delivery, status string, log *zap.Logger) {
	delay := min(max(time.Since(d.Job().EnqueuedAt)/4, minMediaHold), s.mediaHold)
	if err := d.Hold(delay, "waiting for the media upload ("+status+")"); err != nil {
		log.Warn("requeue the send waiting for its medium; it will be redelivered", zap.Error(err))
		return
	}
	s.outcomes.WithLabelValues("held").Inc()
}

// failMedia records the message failed because of its medium, and acks.
func (s *Sender) failMedia(ctx context.Context, d actors.Delivery, job actors.OutboundJob, why string, log *zap.Logger) {
	werr := &actors.WhatsAppError{Title: "media upload failed", Message: why, Kind: actors.FailureMedia,
		Reason: "The file of this message could not be sent to WhatsApp (" + why + "); check it, upload it again and resend."}
	log.Info("send failed: its medium could not be sent", zap.String("media_id", job.MediaID), zap.String("reason", why))
	s.record(ctx, job, actors.StatusFailed, "", werr, false, log)
	s.outcomes.WithLabelValues("failed").Inc()
	s.ack(d, log)
}

// withWhatsAppMediaID returns body with the id of its typed media object
// replaced by waID.
func withWhatsAppMediaID(body json.RawMessage, waID string) (json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("decode body: %w", err)
	}
	var typ string
	if err := json.Unmarshal(top["type"], &typ); err != nil {
		return nil, fmt.Errorf("decode body type: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(top[typ], &obj); err != nil || obj == nil || obj["id"] == nil {
		return nil, fmt.Errorf("body's %s object has no id", typ)
	}
	obj["id"], _ = json.Marshal(waID)
	top[typ], _ = json.Marshal(obj)
	return json.Marshal(top)
}

// processUpload runs an upload job: the medium's bytes go to the business
// number's media endpoint and its WhatsApp id is recorded. Failures are
// classified as a send's: retried with backoff (the job's attempts), the
// number paused, or failed for good, which fails the sends waiting on it.
func (s *Sender) processUpload(ctx context.Context, d actors.Delivery) {
	job := d.Job()
	log := s.log.WithLazy(zap.String("media_id", job.MediaID), zap.String("message_id", job.MessageID),
		zap.String("phone_number_id", job.PhoneNumberID), zap.Int("attempt", job.Attempt))
	if !s.begin("upload/" + job.MediaID + "/" + job.PhoneNumberID) {
		// The same upload is running (a duplicate job): it settles it.
		s.uploads.WithLabelValues("skipped").Inc()
		s.ack(d, log)
		return
	}
	defer s.end("upload/" + job.MediaID + "/" + job.PhoneNumberID)
	if s.opts.Media == nil || s.opts.Blobs == nil || s.opts.Uploader == nil {
		log.Error("upload job without a media store; dead-lettering")
		if err := d.DeadLetter("no media store"); err != nil {
			log.Warn("dead-letter job", zap.Error(err))
		}
		return
	}
	if msg, err := s.opts.Store.Message(ctx, job.MessageID); err == nil && msg.Status != actors.StatusQueued {
		s.uploads.WithLabelValues("skipped").Inc() // nobody waits for it any more
		s.ack(d, log)
		return
	}
	m, err := s.opts.Media.Media(ctx, job.MediaID)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		s.ack(d, log) // deleted: the send fails when it sees that
		return
	case err != nil:
		if ctx.Err() == nil {
			s.retryUpload(ctx, d, m, whatsapp.Backoff(job.Attempt, time.Second), "load medium: "+err.Error(), log)
		}
		return
	}
	if Fresh(m, job.PhoneNumberID, time.Now()) {
		s.uploads.WithLabelValues("skipped").Inc()
		s.ack(d, log)
		return
	}
	// A new request finds its medium stored (MediaPrep puts a failed one
	// back); one that finds it failed is a dead letter re-driven, whose
	// send was failed and acknowledged: it needs a send job again.
	redriven := m.Status == actors.MediaFailed
	m.Status, m.Attempts, m.UpdatedAt = actors.MediaUploading, m.Attempts+1, time.Now().UTC()
	if err := s.opts.Media.SaveMedia(ctx, m); err != nil {
		if ctx.Err() == nil {
			s.retryUpload(ctx, d, actors.Media{}, whatsapp.Backoff(job.Attempt, time.Second), "mark medium uploading: "+err.Error(), log)
		}
		return
	}
	blob, err := mediabytes.Open(ctx, s.opts.Blobs, m.SHA256)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		s.failUpload(ctx, d, m, "the medium's bytes are gone", log)
		return
	case err != nil:
		if ctx.Err() == nil {
			s.retryUpload(ctx, d, m, whatsapp.Backoff(job.Attempt, time.Second), "open medium bytes: "+err.Error(), log)
		}
		return
	}
	start := time.Now()
	waID, err := s.opts.Uploader.UploadMedia(ctx, job.PhoneNumberID, m.MimeType, m.Filename, m.Size, blob)
	_ = blob.Close()
	s.latency.Observe(time.Since(start).Seconds())
	if err == nil {
		m.Status, m.Error, m.WaMediaID, m.WaPhoneNumberID = actors.MediaUploaded, "", waID, job.PhoneNumberID
		m.WaUploadedAt, m.UpdatedAt = time.Now().UTC(), time.Now().UTC()
		if err := s.saveMedia(ctx, m); err != nil {
			log.Error("uploaded medium not recorded; it will be uploaded again", zap.Error(err))
		}
		s.uploads.WithLabelValues("uploaded").Inc()
		log.Debug("medium uploaded", zap.String("wa_media_id", waID))
		if redriven {
			s.resend(ctx, job, log)
		}
		s.ack(d, log)
		return
	}
	if ctx.Err() != nil {
		return // shutting down: redelivered after the restart
	}
	dec := whatsapp.Classify(err)
	switch dec.Action {
	case whatsapp.Retry, whatsapp.PauseRecipient:
		s.retryUpload(ctx, d, m, whatsapp.Backoff(job.Attempt, dec.Delay), dec.Reason, log)
	case whatsapp.PauseNumber:
		pause := s.pauses.pauseNumber(ctx, job.PhoneNumberID, dec.Delay, *failure(dec))
		log.Error("WhatsApp refused the business number's token or account; sends paused",
			zap.Int("code", dec.Code), zap.String("reason", dec.Reason), zap.Duration("pause", pause), zap.Error(err))
		s.retryUpload(ctx, d, m, pause, dec.Reason, log)
	default:
		s.failUpload(ctx, d, m, "WhatsApp refused the upload: "+dec.Reason, log)
	}
}

// resend publishes the send job of the upload's message again when the
// message is queued (re-driven with its upload); a second job of a message
// is harmless: the sender sends a message once.
func (s *Sender) resend(ctx context.Context, job actors.OutboundJob, log *zap.Logger) {
	msg, err := s.opts.Store.Message(ctx, job.MessageID)
	if err != nil || msg.Status != actors.StatusQueued || s.opts.Outbox == nil {
		return
	}
	send := actors.OutboundJob{MessageID: msg.ID, ConversationID: job.ConversationID, PhoneNumberID: job.PhoneNumberID, To: job.To,
		Priority: job.Priority, Body: msg.Raw, MediaID: job.MediaID, Attempt: 1, EnqueuedAt: time.Now().UTC()}
	if err := s.opts.Outbox.Publish(ctx, send); err != nil {
		log.Warn("publish the send of a re-driven upload; it goes out at the next start-up", zap.Error(err))
	}
}

// retryUpload requeues an upload job, recording the reason on the medium
// (when m is loaded); out of attempts, the medium fails for good.
func (s *Sender) retryUpload(ctx context.Context, d actors.Delivery, m actors.Media, delay time.Duration, reason string, log *zap.Logger) {
	if m.ID != "" {
		m.Error, m.UpdatedAt = reason, time.Now().UTC()
		if err := s.opts.Media.SaveMedia(ctx, m); err != nil {
			log.Warn("record the upload's failure", zap.Error(err))
		}
	}
	dead, err := d.Retry(delay, reason)
	if err != nil {
		log.Warn("requeue upload job; it will be redelivered", zap.Error(err))
		return
	}
	if !dead {
		s.uploads.WithLabelValues("retried").Inc()
		log.Debug("upload retried", zap.Duration("delay", delay), zap.String("reason", reason))
		return
	}
	if m.ID != "" {
		s.failMedium(ctx, m, "gave up after the last attempt: "+reason, log)
	}
}

// failUpload records the medium failed for good and acks the job.
func (s *Sender) failUpload(ctx context.Context, d actors.Delivery, m actors.Media, why string, log *zap.Logger) {
	s.failMedium(ctx, m, why, log)
	s.ack(d, log)
}

func (s *Sender) failMedium(ctx context.Context, m actors.Media, why string, log *zap.Logger) {
	m.Status, m.Error, m.UpdatedAt = actors.MediaFailed, why, time.Now().UTC()
	if err := s.saveMedia(ctx, m); err != nil {
		log.Error("failed upload not recorded; its sends wait until it is asked again", zap.Error(err))
	}
	s.uploads.WithLabelValues("failed").Inc()
	log.Warn("medium upload failed for good", zap.String("reason", why))
}

// saveMedia writes m, retrying briefly: an upload's outcome decides what
// its waiting sends do.
func (s *Sender) saveMedia(ctx context.Context, m actors.Media) error {
	var err error
	for attempt := range 5 {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = s.opts.Media.SaveMedia(wctx, m)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	return err
}
