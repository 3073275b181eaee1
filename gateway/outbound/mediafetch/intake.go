package mediafetch

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/media"
)

// webhookMedia is the medium object of an inbound media message, as Meta
// sends it (the message's Content).
type webhookMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	// SHA256 is the base64 of the digest (GET /{media_id} answers hex).
	SHA256   string `json:"sha256"`
	Filename string `json:"filename"`
}

// parseWebhookMedia reads the medium of an inbound message; ok is false
// for a message without one.
func parseWebhookMedia(typ string, content json.RawMessage) (webhookMedia, bool) {
	if !actors.CarriesMedium(typ) || len(content) == 0 {
		return webhookMedia{}, false
	}
	var wm webhookMedia
	if json.Unmarshal(content, &wm) != nil || wm.ID == "" {
		return webhookMedia{}, false
	}
	return wm, true
}

// hexDigest is the webhook's base64 SHA-256 in lower-case hex, "" when it
// is not a SHA-256.
func (wm webhookMedia) hexDigest() string {
	b, err := base64.StdEncoding.DecodeString(wm.SHA256)
	if err != nil || len(b) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(b)
}

// InboundMediaID is the id of the medium of the inbound message waMessageID:
// derived from it, so that a webhook delivered again names the same record.
func InboundMediaID(waMessageID string) string {
	sum := sha256.Sum256([]byte("inbound-media\x00" + waMessageID))
	return hex.EncodeToString(sum[:16])
}

// Pending records the medium of an inbound message about to be stored as
// messageID in conversationID, and returns the summary the message shows
// (status pending, or what the record already says); nil, nil for a
// message without a medium. It is idempotent: the record's id is derived
// from the WhatsApp message id (InboundMediaID), so a webhook delivered
// again finds the record of the first delivery. A record left by a
// delivery whose message was never stored (the process died in between)
// is linked to messageID. Call Fetch once the message is stored.
func (f *Fetcher) Pending(ctx context.Context, messageID, conversationID string, in *actors.InboundMessage) (*actors.MessageMedia, error) {
	wm, ok := parseWebhookMedia(in.Type, in.Content)
	if !ok {
		return nil, nil
	}
	now := f.now().UTC()
	base, _, err := mime.ParseMediaType(wm.MimeType)
	if err != nil {
		base = ""
	}
	m := actors.Media{ID: InboundMediaID(in.WaMessageID), Filename: displayName(wm.Filename, base), MimeType: base, Status: actors.MediaPending,
		WaMediaID: wm.ID, ConversationID: conversationID, MessageID: messageID, CreatedAt: now, UpdatedAt: now}
	err = f.opts.Store.CreateMedia(ctx, m)
	if err == nil {
		f.log.Debug("inbound medium pending", zap.String("media_id", m.ID), zap.String("conversation_id", conversationID))
		s := m.Summary()
		return &s, nil
	}
	if !errors.Is(err, actors.ErrDuplicate) {
		return nil, fmt.Errorf("record medium of %s: %w", in.WaMessageID, err)
	}
	existing, err := f.opts.Store.Media(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("read medium %s of %s: %w", m.ID, in.WaMessageID, err)
	}
	if existing.MessageID != messageID {
		// The record of an earlier delivery. Its message was stored (this
		// delivery is a duplicate and will be answered so), or it never
		// was: then this message takes the record over.
		_, err := f.opts.Store.Message(ctx, existing.MessageID)
		switch {
		case errors.Is(err, actors.ErrNotFound):
			existing.MessageID, existing.ConversationID, existing.UpdatedAt = messageID, conversationID, now
			if err := f.opts.Store.SaveMedia(ctx, existing); err != nil {
				return nil, fmt.Errorf("link medium %s to message %s: %w", m.ID, messageID, err)
			}
		case err != nil:
			return nil, fmt.Errorf("read message %s of medium %s: %w", existing.MessageID, m.ID, err)
		}
	}
	s := existing.Summary()
	return &s, nil
}

// displayName is the webhook's filename fit for display only (never a
// path; gateway/media's rules), "" when there is none or the type is not
// one WhatsApp accepts.
func displayName(name, mimeType string) string {
	t, ok := media.Lookup(mimeType)
	if name == "" || !ok {
		return ""
	}
	return media.SanitizeFilename(name, t)
}
