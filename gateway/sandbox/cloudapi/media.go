package cloudapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

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

// storedMedia is one file the sandbox keeps: uploaded by the business
// (phoneNumberID set) or sent by a customer in a simulated inbound message
// (inbound; its media id is not any business number's).
type storedMedia struct {
	id            string
	mimeType      string
	sha256        string
	data          []byte
	phoneNumberID string
	inbound       bool
	at            time.Time // uploaded or received (Options.Now)

	// Guarded by the store's mutex: the armed download fault and how many
	// more downloads it fails, and the downloads asked for so far.
	fault     DownloadFault
	faultLeft int
	downloads int
}

// mediaStore keeps uploads in memory: at most maxFile bytes each and limit
// bytes in all, the oldest evicted first. A medium lives uploadLife from
// its upload, or inboundLife from its receipt for a customer's; after that
// its id is unknown, as Meta's are. It is safe for concurrent use.
type mediaStore struct {
	mu          sync.Mutex
	byID        map[string]*storedMedia
	order       []string // upload order, for eviction; may hold deleted ids
	total       int64
	maxFile     int64
	limit       int64
	uploadLife  time.Duration
	inboundLife time.Duration
}

func newMediaStore(o Options) *mediaStore {
	return &mediaStore{byID: map[string]*storedMedia{}, maxFile: min(o.MaxMediaBytes, o.MediaStoreBytes), limit: o.MediaStoreBytes,
		uploadLife: o.UploadedMediaLife, inboundLife: o.InboundMediaLife}
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

// get returns the medium id unless it is unknown or its life ended by now
// (it is then forgotten).
func (s *mediaStore) get(id string, now time.Time) *storedMedia {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byID[id]
	if m == nil {
		return nil
	}
	life := s.uploadLife
	if m.inbound {
		life = s.inboundLife
	}
	if !now.Before(m.at.Add(life)) {
		s.total -= int64(len(m.data))
		delete(s.byID, id)
		return nil
	}
	return m
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
	switch fault := w.uploadFaults.take(chi.URLParam(r, "id")); fault {
	case UploadServerError:
		writeAPIError(rw, &apiError{status: http.StatusServiceUnavailable, code: CodeAPIService, title: "API Service",
			details: "Service temporarily unavailable due to downtime or overload."})
		return
	case UploadRejected:
		writeAPIError(rw, &apiError{status: http.StatusBadRequest, code: CodeMediaUpload, title: "Media upload error",
			details: "Unable to process the uploaded file."})
		return
	case UploadTimeout:
		w.hold(r)
		panic(http.ErrAbortHandler)
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
	m := &storedMedia{id: newMediaID(), mimeType: mediaType, sha256: hex.EncodeToString(sum[:]), data: data, phoneNumberID: chi.URLParam(r, "id"),
		at: w.opts.Now()}
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
