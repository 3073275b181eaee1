package mediafetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/gateway/outbound/whatsapp"
)

// attempt makes one attempt at the medium id: look it up, download it with
// the access token, store its bytes and record it, then tell the message
// and its agents. A failure is retried later or, when no retry can mend it
// or the attempts are spent, recorded for good.
func (f *Fetcher) attempt(ctx context.Context, id string) {
	actx, cancel := context.WithTimeout(ctx, f.opts.AttemptTimeout)
	defer cancel()
	log := f.log.With(zap.String("media_id", id))
	m, err := f.opts.Store.Media(actx, id)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, actors.ErrNotFound) {
			log.Warn("read medium; the sweep tries again", zap.Error(err))
		}
		return
	}
	if m.Status != actors.MediaPending {
		// Done already (by another node, or before a restart): make sure
		// the message shows it.
		f.settle(actx, m, false, log)
		return
	}
	m.Attempts++
	m.UpdatedAt = f.now().UTC()
	if err := f.opts.Store.SaveMedia(actx, m); err != nil {
		if ctx.Err() == nil {
			log.Warn("count the attempt; the sweep tries again", zap.Error(err))
		}
		return
	}
	log = log.With(zap.Int("attempt", m.Attempts), zap.String("conversation_id", m.ConversationID))

	err = f.fetch(actx, &m)
	switch {
	case err == nil:
		f.fetched.WithLabelValues("stored").Inc()
		log.Debug("inbound medium stored", zap.Int64("size", m.Size))
		f.settle(actx, m, true, log)
		return
	case errors.Is(err, errRecordGone):
		log.Info("inbound medium deleted while it was fetched")
		return
	case ctx.Err() != nil:
		return // shutting down: the record stays pending, the next run resumes it
	case errors.Is(err, errPermanent) || m.Attempts >= f.opts.MaxAttempts:
		m.Status, m.Error, m.UpdatedAt = actors.MediaFailed, failureText(err, m.Attempts, f.opts.MaxAttempts), f.now().UTC()
		f.fetched.WithLabelValues("failed").Inc()
		log.Warn("inbound medium failed for good", zap.String("reason", m.Error), zap.Error(err))
		if err := f.opts.Store.SaveMedia(actx, m); err != nil {
			log.Warn("record the failed medium; the sweep tries again", zap.Error(err))
			return
		}
		f.settle(actx, m, true, log)
	default:
		m.Error, m.UpdatedAt = reason(err), f.now().UTC()
		if err := f.opts.Store.SaveMedia(actx, m); err != nil {
			log.Warn("record the failed attempt", zap.Error(err))
		}
		delay := f.scheduleRetry(m.ID, m.Attempts)
		f.fetched.WithLabelValues("retried").Inc()
		log.Debug("inbound medium fetch failed; retrying", zap.String("reason", m.Error), zap.Duration("delay", delay), zap.Error(err))
	}
}

// errRecordGone marks a fetch whose record was deleted meanwhile.
var errRecordGone = errors.New("medium record deleted meanwhile")

// fetch looks the medium up, downloads it into a temporary file (checking
// its length and digest on the way) and keeps it: bytes and record (status
// stored) through mediabytes.Save, which m then is. The error wraps
// errPermanent when a retry cannot mend it.
func (f *Fetcher) fetch(ctx context.Context, m *actors.Media) error {
	info, err := f.opts.Client.MediaURL(ctx, m.WaMediaID)
	if err != nil {
		if whatsapp.Classify(err).Action == whatsapp.Fail {
			return fmt.Errorf("%w: %w", errPermanent, err)
		}
		return err
	}
	if base, _, err := mime.ParseMediaType(info.MimeType); err == nil {
		info.MimeType = base
	} else if info.MimeType = m.MimeType; info.MimeType == "" {
		info.MimeType = "application/octet-stream"
	}
	switch {
	case info.FileSize > f.opts.MaxBytes:
		return fmt.Errorf("%w: %w: %d bytes, the limit is %d", errPermanent, whatsapp.ErrMediaTooLarge, info.FileSize, f.opts.MaxBytes)
	case info.FileSize <= 0:
		return fmt.Errorf("%w: WhatsApp gave no size for the medium", errPermanent)
	}
	want := whatsapp.Expect{MaxBytes: f.opts.MaxBytes, Size: info.FileSize, SHA256: info.SHA256}
	if sha := f.webhookDigest(ctx, m); sha != "" {
		want.SHA256 = sha // the webhook's word is the one the message carries
	}
	if !mediabytes.ValidSHA256(want.SHA256) {
		return fmt.Errorf("%w: WhatsApp gave no SHA-256 for the medium", errPermanent)
	}
	body, err := f.opts.Client.Download(ctx, info.URL, want)
	if err != nil {
		if errors.Is(err, whatsapp.ErrMediaURLHost) || errors.Is(err, whatsapp.ErrMediaTooLarge) {
			return fmt.Errorf("%w: %w", errPermanent, err)
		}
		return err
	}
	tmp, err := os.CreateTemp(f.opts.TempDir, spoolPattern)
	if err != nil {
		_ = body.Close()
		return fmt.Errorf("spool download: %w", err)
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	_, err = io.Copy(tmp, body)
	_ = body.Close()
	if err != nil {
		if errors.Is(err, whatsapp.ErrMediaTooLarge) {
			return fmt.Errorf("%w: %w", errPermanent, err)
		}
		return fmt.Errorf("download: %w", err)
	}
	next := *m
	next.Status, next.Error, next.UpdatedAt = actors.MediaStored, "", f.now().UTC()
	next.SHA256, next.Size, next.MimeType = want.SHA256, info.FileSize, info.MimeType
	// The bytes are here: keep them even if Run is stopping. A Save cut
	// off after its record write would undo it by deleting the record,
	// which was this medium's pending record before.
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.opts.AttemptTimeout)
	defer cancel()
	if err := mediabytes.Save(kctx, f.opts.Store, f.opts.Blobs, next, tmp); err != nil {
		if errors.Is(err, actors.ErrNotFound) {
			return fmt.Errorf("%w: %w", errRecordGone, err)
		}
		return fmt.Errorf("keep bytes: %w", err)
	}
	*m = next
	return nil
}

// webhookDigest is the hex SHA-256 the webhook gave for the medium, read
// from its message; "" when the message cannot be read or has none.
func (f *Fetcher) webhookDigest(ctx context.Context, m *actors.Media) string {
	if m.MessageID == "" {
		return ""
	}
	msg, err := f.opts.Store.Message(ctx, m.MessageID)
	if err != nil {
		return ""
	}
	wm, ok := parseWebhookMedia(msg.Type, msg.Content)
	if !ok {
		return ""
	}
	return wm.hexDigest()
}

// settle shows the medium's state on its message and, when it changed
// (changed), tells the agents who may see the conversation with a
// message.updated event.
func (f *Fetcher) settle(ctx context.Context, m actors.Media, changed bool, log *zap.Logger) {
	if m.MessageID == "" {
		return
	}
	msg, err := f.opts.Store.Message(ctx, m.MessageID)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		// The message was never stored (its process died in between): a
		// redelivery of its webhook links the record to its message.
		log.Info("fetched medium has no message yet", zap.String("message_id", m.MessageID))
		return
	case err != nil:
		log.Warn("read the medium's message; the sweep does not retry it", zap.String("message_id", m.MessageID), zap.Error(err))
		return
	}
	sum := m.Summary()
	if msg.Media != nil && *msg.Media == sum {
		if !changed {
			return
		}
	} else {
		at := f.now().UTC()
		if err := f.opts.Store.SetMessageMedia(ctx, msg.ID, sum, at); err != nil {
			log.Warn("show the medium on its message", zap.String("message_id", msg.ID), zap.Error(err))
			return
		}
		msg.Media, msg.UpdatedAt = &sum, at
	}
	if f.opts.Publisher == nil {
		return
	}
	c, err := f.opts.Store.Conversation(ctx, msg.ConversationID)
	if err != nil {
		log.Warn("read the medium's conversation; message.updated not sent", zap.Error(err))
		return
	}
	f.opts.Publisher.Publish(actors.Event{Type: actors.EventMessageUpdated, ConversationID: c.ID, State: c.State, AssigneeID: c.AssigneeID,
		PhoneNumberID: c.PhoneNumberID, WaID: c.WaID, Data: msg.View(), At: msg.UpdatedAt})
}

// reason is a short text for a failed attempt: Meta's error, or what went
// wrong on the way, without URLs or tokens.
func reason(err error) string {
	if ae, ok := errors.AsType[*whatsapp.APIError](err); ok {
		if ae.HTTPStatus == http.StatusNotFound {
			return "download answered 404 (the URL expired)"
		}
		if ae.Code != whatsapp.NoCode {
			return whatsapp.Classify(err).Reason
		}
		return "http " + strconv.Itoa(ae.HTTPStatus)
	}
	switch {
	case errors.Is(err, whatsapp.ErrMediaDigest), errors.Is(err, mediabytes.ErrMismatch):
		return "the downloaded bytes did not match WhatsApp's SHA-256"
	case errors.Is(err, whatsapp.ErrMediaTooLarge):
		return "larger than the engine's media limit"
	case errors.Is(err, whatsapp.ErrMediaURLHost):
		return "WhatsApp's media URL named an untrusted host"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, whatsapp.ErrTransport):
		return whatsapp.Classify(err).Reason
	}
	if errors.Is(err, errPermanent) {
		return strings.TrimPrefix(err.Error(), errPermanent.Error()+": ")
	}
	return "could not store the bytes"
}

// failureText is the Error of a medium that failed for good: why, and after
// how many attempts when they ran out.
func failureText(err error, attempts, maxAttempts int) string {
	r := reason(err)
	if ae, ok := errors.AsType[*whatsapp.APIError](err); ok && ae.Code == 100 && ae.Subcode == 33 {
		r = "WhatsApp no longer has this medium (its id is unknown or expired); ask the customer to send it again"
	}
	if errors.Is(err, errPermanent) {
		return r
	}
	return fmt.Sprintf("gave up after %d attempts: %s", min(attempts, maxAttempts), r)
}
