package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
)

// visibleMedia loads the medium the caller may see (app.MediaVisible:
// agents see their uploads and the media of their conversations), and
// answers 404 itself for anything else; ok is false when it answered.
func (s *Server) visibleMedia(w http.ResponseWriter, r *http.Request) (actors.Media, bool) {
	p, _ := principalFrom(r.Context())
	m, err := s.app.MediaVisible(r.Context(), p.User, chi.URLParam(r, "id"))
	switch {
	case errors.Is(err, actors.ErrNotFound):
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "media not found"))
	case err != nil:
		s.fail(w, r, err)
	default:
		return m, true
	}
	return actors.Media{}, false
}

func (s *Server) handleGetMedia(w http.ResponseWriter, r *http.Request) {
	m, ok := s.visibleMedia(w, r)
	if !ok {
		return
	}
	writeData(w, http.StatusOK, mediaEnvelope{Media: viewOfMedia(m)})
}

// handleMediaContent streams the bytes as an attachment the browser will
// neither sniff nor run: the stored type, Content-Disposition attachment
// with the display name (RFC 6266), nosniff, a sandboxing CSP. Range and
// conditional requests are served by http.ServeContent; the ETag is the
// SHA-256, the bytes never change.
func (s *Server) handleMediaContent(w http.ResponseWriter, r *http.Request) {
	m, ok := s.visibleMedia(w, r)
	if !ok {
		return
	}
	if m.SHA256 == "" {
		reason := "its bytes have not arrived yet"
		if m.Status == actors.MediaFailed {
			reason = "its bytes could not be fetched: " + m.Error
		}
		writeError(w, r, errf(http.StatusConflict, CodeConflict, fmt.Sprintf("media %s is %s: %s", m.ID, m.Status, reason)))
		return
	}
	blob, err := mediabytes.Open(r.Context(), s.media.Blobs, m.SHA256)
	if err != nil {
		if errors.Is(err, actors.ErrNotFound) {
			// A record without its bytes: mediabytes never leaves one, so
			// this is lost data a person must look at.
			s.log.Error("media bytes missing", zap.String("media_id", m.ID), zap.String("sha256", m.SHA256))
		}
		s.audit(r, "media.download", "media:"+m.ID, actors.OutcomeFailure, "")
		s.fail(w, r, err)
		return
	}
	defer func() { _ = blob.Close() }()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(mediaTimeout))
	h := w.Header()
	h.Set("Content-Type", m.MimeType)
	h.Set("Content-Disposition", contentDisposition(m.Filename))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("ETag", `"`+m.SHA256+`"`)
	detail := m.MimeType
	if rg := r.Header.Get("Range"); rg != "" && len(rg) <= 100 {
		detail += " range " + rg
	}
	s.audit(r, "media.download", "media:"+m.ID, actors.OutcomeSuccess, detail)
	http.ServeContent(w, r, "", m.CreatedAt, blob)
}

// contentDisposition is an RFC 6266 attachment header for name: an ASCII
// fallback in filename= (non-ASCII, quotes, backslashes and controls
// replaced by "_") and the exact name, UTF-8 and percent-encoded, in
// filename*.
func contentDisposition(name string) string {
	var ascii strings.Builder
	for _, r := range name {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			ascii.WriteByte('_')
			continue
		}
		ascii.WriteRune(r)
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii.String(), rfc5987(name))
}

// rfc5987 percent-encodes s for an ext-value: everything but attr-char.
func rfc5987(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// handleDeleteMedia deletes a medium the caller may see. One that no
// message carries goes, record and bytes (the bytes when no other record
// shares them). One a message carries (sent or received) stays readable in
// its conversation's history: the delete detaches it from its uploader,
// who then sees it only as the conversation's media, and keeps record and
// bytes as long as the message is there.
func (s *Server) handleDeleteMedia(w http.ResponseWriter, r *http.Request) {
	m, ok := s.visibleMedia(w, r)
	if !ok {
		return
	}
	if m.MessageID != "" {
		if m.UploaderID != "" {
			m.UploaderID = ""
			m.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
			if err := s.media.Store.SaveMedia(r.Context(), m); err != nil && !errors.Is(err, actors.ErrNotFound) {
				s.audit(r, "media.delete", "media:"+m.ID, actors.OutcomeFailure, "")
				s.fail(w, r, err)
				return
			}
		}
		s.audit(r, "media.delete", "media:"+m.ID, actors.OutcomeSuccess, "kept for message "+m.MessageID+"; detached from its uploader")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	err := mediabytes.Delete(r.Context(), s.media.Store, s.media.Blobs, m.ID)
	if err != nil && !errors.Is(err, actors.ErrNotFound) {
		s.audit(r, "media.delete", "media:"+m.ID, actors.OutcomeFailure, "")
		s.fail(w, r, err)
		return
	}
	s.audit(r, "media.delete", "media:"+m.ID, actors.OutcomeSuccess, "removed")
	w.WriteHeader(http.StatusNoContent)
}
