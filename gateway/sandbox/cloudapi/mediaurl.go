package cloudapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
)

// mediaInfo is the answer of GET /{version}/{media_id}.
type mediaInfo struct {
	MessagingProduct string `json:"messaging_product"`
	URL              string `json:"url"`
	MimeType         string `json:"mime_type"`
	SHA256           string `json:"sha256"`
	FileSize         int64  `json:"file_size"`
	ID               string `json:"id"`
}

// urlSigner signs media URLs: a URL names the medium, its expiry (ext, Unix
// seconds) and a hash binding both to the access token that asked for it,
// so it cannot be altered, outlive its expiry, or serve another token.
type urlSigner struct{ key []byte }

func (s urlSigner) hash(id string, ext int64, token string) string {
	mac := hmac.New(sha256.New, s.key)
	fmt.Fprintf(mac, "%s\x00%d\x00%s", id, ext, token)
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// bearerToken is the request's bearer token ("" without one).
func bearerToken(r *http.Request) string {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// lookupMedia finds the media of a GET or DELETE /{version}/{media_id},
// answering Graph's errors itself when there is none (never was, deleted,
// evicted, or past its life: 30 days for an upload, 7 for a customer's).
func (w *whatsApp) lookupMedia(rw http.ResponseWriter, r *http.Request) *storedMedia {
	if e := checkToken(r); e != nil {
		writeAPIError(rw, e)
		return nil
	}
	id := chi.URLParam(r, "id")
	m := w.media.get(id, w.opts.Now())
	if m == nil {
		writeAPIError(rw, &apiError{status: http.StatusBadRequest, code: CodeInvalidParameter, subcode: 33, title: "Invalid parameter",
			details: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", r.Method, clip(id))})
		return nil
	}
	// phone_number_id is optional; when given, it must be the number the
	// medium was uploaded on. A customer's medium was uploaded on none.
	if want := r.URL.Query().Get("phone_number_id"); want != "" && (m.inbound || want != m.phoneNumberID) {
		writeAPIError(rw, invalidParam("Param phone_number_id is not a valid whatsapp business phone number id ID for media %s.", clip(id)))
		return nil
	}
	return m
}

// handleMediaInfo is GET /{version}/{media_id}: the medium's type, digest
// and size, and a download URL that serves the same access token for
// Options.MediaURLLife.
func (w *whatsApp) handleMediaInfo(rw http.ResponseWriter, r *http.Request) {
	m := w.lookupMedia(rw, r)
	if m == nil {
		return
	}
	ext := w.opts.Now().Add(w.opts.MediaURLLife).Unix()
	q := url.Values{"ext": {strconv.FormatInt(ext, 10)}, "hash": {w.signer.hash(m.id, ext, bearerToken(r))}}
	writeGraph(rw, http.StatusOK, mediaInfo{
		MessagingProduct: "whatsapp",
		URL:              w.publicURL(r) + "/media/" + m.id + "?" + q.Encode(),
		MimeType:         m.mimeType,
		SHA256:           m.sha256,
		FileSize:         int64(len(m.data)),
		ID:               m.id,
	})
}

// handleMediaDelete is DELETE /{version}/{media_id}.
func (w *whatsApp) handleMediaDelete(rw http.ResponseWriter, r *http.Request) {
	m := w.lookupMedia(rw, r)
	if m == nil {
		return
	}
	w.media.delete(m.id)
	writeGraph(rw, http.StatusOK, map[string]bool{"success": true})
}

// errMediaURLNotFound is the answer to a media URL that is not (or no
// longer) valid: expired, malformed, or its medium gone.
func errMediaURLNotFound(details string) *apiError {
	return &apiError{status: http.StatusNotFound, code: CodeInvalidParameter, title: "Invalid parameter", details: details}
}

// handleMediaDownload is GET /media/{id}?ext=&hash=: the bytes behind a
// media URL. It needs the bearer token the URL was issued to (401
// otherwise) and answers 404 once the URL expired or the medium is gone, as
// Meta's media host does; an armed download fault answers first.
func (w *whatsApp) handleMediaDownload(rw http.ResponseWriter, r *http.Request) {
	if e := checkToken(r); e != nil {
		writeAPIError(rw, e)
		return
	}
	id := chi.URLParam(r, "id")
	q := r.URL.Query()
	ext, err := strconv.ParseInt(q.Get("ext"), 10, 64)
	if err != nil || q.Get("hash") == "" {
		writeAPIError(rw, errMediaURLNotFound("The media URL is not valid: ask GET /{media_id} for a new one."))
		return
	}
	if !hmac.Equal([]byte(q.Get("hash")), []byte(w.signer.hash(id, ext, bearerToken(r)))) {
		writeAPIError(rw, &apiError{status: http.StatusUnauthorized, code: CodeAccessToken, title: "Invalid OAuth access token",
			details: "The media URL was issued to another access token (or was altered): download it with the token that retrieved it."})
		return
	}
	now := w.opts.Now()
	if now.Unix() >= ext {
		writeAPIError(rw, errMediaURLNotFound("The media URL has expired: ask GET /{media_id} for a new one."))
		return
	}
	m := w.media.get(id, now)
	if m == nil {
		writeAPIError(rw, errMediaURLNotFound("The media was deleted or has expired."))
		return
	}
	data := m.data
	switch fault := w.media.download(m); fault {
	case "":
	case DownloadServerError:
		w.log.Debug("media download failed by injection", zap.String("media_id", id), zap.String("fault", string(fault)))
		writeAPIError(rw, &apiError{status: http.StatusServiceUnavailable, code: CodeAPIService, title: "API Service",
			details: "Service temporarily unavailable due to downtime or overload."})
		return
	case DownloadNotFound:
		w.log.Debug("media download failed by injection", zap.String("media_id", id), zap.String("fault", string(fault)))
		writeAPIError(rw, errMediaURLNotFound("The media URL has expired: ask GET /{media_id} for a new one."))
		return
	case DownloadTimeout:
		w.log.Debug("media download held by injection", zap.String("media_id", id), zap.Duration("duration", w.opts.TimeoutHold))
		w.hold(r)
		panic(http.ErrAbortHandler)
	case DownloadCorrupt:
		data = bytes.Clone(data)
		data[len(data)-1] ^= 0xff
	}
	rw.Header().Set("Content-Type", m.mimeType)
	rw.Header().Set("Content-Length", strconv.Itoa(len(data)))
	rw.WriteHeader(http.StatusOK)
	_, _ = io.Copy(rw, bytes.NewReader(data))
}

// publicURL is the sandbox's base URL as the client sees it.
func (w *whatsApp) publicURL(r *http.Request) string {
	if w.opts.PublicURL != "" {
		return strings.TrimRight(w.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}
