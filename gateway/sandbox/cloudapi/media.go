package cloudapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
)

// mediaLimits are Meta's per-type size limits for uploaded media, by MIME
// type; the sandbox also applies Options.MaxMediaBytes.
var mediaLimits = map[string]int64{
	"audio/aac": 16 << 20, "audio/amr": 16 << 20, "audio/mpeg": 16 << 20, "audio/mp4": 16 << 20, "audio/ogg": 16 << 20,
	"image/jpeg": 5 << 20, "image/png": 5 << 20,
	"image/webp": 500 << 10, // stickers
	"video/mp4":  16 << 20, "video/3gpp": 16 << 20,
	"text/plain": 100 << 20, "application/pdf": 100 << 20,
	"application/msword": 100 << 20, "application/vnd.ms-excel": 100 << 20, "application/vnd.ms-powerpoint": 100 << 20,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   100 << 20,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         100 << 20,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 << 20,
}

// storedMedia is one uploaded file.
type storedMedia struct {
	id            string
	mimeType      string
	sha256        string
	data          []byte
	phoneNumberID string
}

// mediaStore keeps uploads in memory: at most maxFile bytes each and limit
// bytes in all, the oldest evicted first. It is safe for concurrent use.
type mediaStore struct {
	mu      sync.Mutex
	byID    map[string]*storedMedia
	order   []string // upload order, for eviction; may hold deleted ids
	total   int64
	maxFile int64
	limit   int64
}

func newMediaStore(maxFile, limit int64) *mediaStore {
	return &mediaStore{byID: map[string]*storedMedia{}, maxFile: min(maxFile, limit), limit: limit}
}

func (s *mediaStore) put(m *storedMedia) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.total+int64(len(m.data)) > s.limit && len(s.order) > 0 {
		old := s.order[0]
		s.order = s.order[1:]
		if o, ok := s.byID[old]; ok {
			s.total -= int64(len(o.data))
			delete(s.byID, old)
		}
	}
	for s.byID[m.id] != nil {
		m.id = newMediaID()
	}
	s.byID[m.id] = m
	s.order = append(s.order, m.id)
	s.total += int64(len(m.data))
}

func (s *mediaStore) get(id string) *storedMedia {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id]
}

func (s *mediaStore) delete(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.byID[id]
	if ok {
		s.total -= int64(len(m.data))
		delete(s.byID, id)
	}
	return ok
}

// handleUpload is POST /{version}/{phone_number_id}/media with a
// multipart/form-data body: file, type and messaging_product. As anywhere
// in Graph, messaging_product and type may also come in the query string
// (a form field wins).
func (w *whatsApp) handleUpload(rw http.ResponseWriter, r *http.Request) {
	if e := checkToken(r); e != nil {
		writeAPIError(rw, e)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, w.media.maxFile+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		writeAPIError(rw, invalidParam("The request must be multipart/form-data with file, type and messaging_product."))
		return
	}
	var product, typ, partType string
	var data []byte
	haveFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeAPIError(rw, uploadReadError(err, w.media.maxFile))
			return
		}
		switch part.FormName() {
		case "messaging_product":
			product = formValue(part)
		case "type":
			typ = formValue(part)
		case "file":
			haveFile = true
			partType = part.Header.Get("Content-Type")
			data, err = io.ReadAll(io.LimitReader(part, w.media.maxFile+1))
			if err != nil {
				writeAPIError(rw, uploadReadError(err, w.media.maxFile))
				return
			}
		default:
			_ = part.Close()
			writeAPIError(rw, invalidParam("Unexpected key %q in the upload.", clip(part.FormName())))
			return
		}
	}
	if product == "" {
		product = r.URL.Query().Get("messaging_product")
	}
	if typ == "" {
		typ = r.URL.Query().Get("type")
	}
	if product != "whatsapp" {
		writeAPIError(rw, invalidParam("Param messaging_product must be 'whatsapp'."))
		return
	}
	if !haveFile || len(data) == 0 {
		writeAPIError(rw, invalidParam("The parameter file is required."))
		return
	}
	if typ == "" && partType != "application/octet-stream" {
		typ = partType // curl -F "file=@x.jpg;type=image/jpeg" carries it on the part
	}
	if typ == "" {
		writeAPIError(rw, invalidParam("The parameter type is required."))
		return
	}
	mediaType, _, err := mime.ParseMediaType(typ)
	typeLimit, supported := mediaLimits[mediaType]
	if err != nil || !supported {
		writeAPIError(rw, invalidParam("Param type %q is not a supported media type.", clip(typ)))
		return
	}
	if limit := min(typeLimit, w.media.maxFile); int64(len(data)) > limit {
		writeAPIError(rw, invalidParam("Param file is too large for %s: the limit is %d bytes.", mediaType, limit))
		return
	}
	sum := sha256.Sum256(data)
	m := &storedMedia{id: newMediaID(), mimeType: mediaType, sha256: hex.EncodeToString(sum[:]), data: data, phoneNumberID: chi.URLParam(r, "id")}
	w.media.put(m)
	w.log.Debug("media uploaded", zap.String("phone_number_id", m.phoneNumberID), zap.String("media_id", m.id), zap.Int("size", len(data)))
	writeGraph(rw, http.StatusOK, map[string]string{"id": m.id})
}

func uploadReadError(err error, maxFile int64) *apiError {
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		return invalidParam("Param file is too large: the limit is %d bytes.", maxFile)
	}
	return invalidParam("The multipart body could not be read.")
}

// formValue reads a small form field; Meta's own curl samples quote the
// values (-F 'type="image/jpeg"'), so surrounding quotes are dropped.
func formValue(part io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(part, 1024))
	s := strings.TrimSpace(string(b))
	if n := len(s); n >= 2 && s[0] == '"' && s[n-1] == '"' {
		s = s[1 : n-1]
	}
	return s
}

type mediaInfo struct {
	MessagingProduct string `json:"messaging_product"`
	URL              string `json:"url"`
	MimeType         string `json:"mime_type"`
	SHA256           string `json:"sha256"`
	FileSize         int64  `json:"file_size"`
	ID               string `json:"id"`
}

// lookupMedia finds the media of a GET or DELETE /{version}/{media_id},
// answering Graph's errors itself when there is none.
func (w *whatsApp) lookupMedia(rw http.ResponseWriter, r *http.Request) *storedMedia {
	if e := checkToken(r); e != nil {
		writeAPIError(rw, e)
		return nil
	}
	id := chi.URLParam(r, "id")
	m := w.media.get(id)
	if m == nil {
		writeAPIError(rw, &apiError{status: http.StatusBadRequest, code: CodeInvalidParameter, subcode: 33, title: "Invalid parameter",
			details: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", r.Method, clip(id))})
		return nil
	}
	if want := r.URL.Query().Get("phone_number_id"); want != "" && want != m.phoneNumberID {
		writeAPIError(rw, invalidParam("Media %s does not belong to phone number %s.", id, clip(want)))
		return nil
	}
	return m
}

// handleMediaInfo is GET /{version}/{media_id}.
func (w *whatsApp) handleMediaInfo(rw http.ResponseWriter, r *http.Request) {
	m := w.lookupMedia(rw, r)
	if m == nil {
		return
	}
	writeGraph(rw, http.StatusOK, mediaInfo{
		MessagingProduct: "whatsapp",
		URL:              w.publicURL(r) + "/media/" + m.id,
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

// handleMediaDownload is GET /media/{id}: the bytes behind a media URL,
// for a request with a bearer token.
func (w *whatsApp) handleMediaDownload(rw http.ResponseWriter, r *http.Request) {
	if e := checkToken(r); e != nil {
		writeAPIError(rw, e)
		return
	}
	m := w.media.get(chi.URLParam(r, "id"))
	if m == nil {
		writeAPIError(rw, &apiError{status: http.StatusNotFound, code: CodeInvalidParameter, title: "Invalid parameter",
			details: "The media URL has expired or the media was deleted."})
		return
	}
	rw.Header().Set("Content-Type", m.mimeType)
	rw.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	rw.WriteHeader(http.StatusOK)
	_, _ = io.Copy(rw, bytes.NewReader(m.data))
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
