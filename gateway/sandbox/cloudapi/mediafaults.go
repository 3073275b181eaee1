package cloudapi

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// DownloadFault is what an injected failure makes a media download answer.
type DownloadFault string

// Download faults, armed for the next N downloads of a medium
// (Sandbox.FailDownloads, POST /sandbox/whatsapp/media/{id}/faults, or
// "fail" in a simulated inbound medium).
const (
	// DownloadServerError answers HTTP 503 with Graph's code 2 (API
	// Service), as an overloaded media host does.
	DownloadServerError DownloadFault = "server_error"
	// DownloadNotFound answers HTTP 404, as for an expired URL.
	DownloadNotFound DownloadFault = "not_found"
	// DownloadTimeout holds the request for Options.TimeoutHold (less if
	// the client gives up or Run stops) and drops the connection unanswered.
	DownloadTimeout DownloadFault = "timeout"
	// DownloadCorrupt answers 200 with bytes whose last byte is altered:
	// same length, another SHA-256.
	DownloadCorrupt DownloadFault = "corrupt"
)

// downloadFaults are the faults that can be armed.
var downloadFaults = []DownloadFault{DownloadServerError, DownloadNotFound, DownloadTimeout, DownloadCorrupt}

// maxFaultCount bounds the downloads one arming fails.
const maxFaultCount = 1000

// Errors of FailDownloads.
var (
	ErrMediaNotFound = errors.New("sandbox: no such media (never stored, deleted, evicted or expired)")
	ErrBadFault      = errors.New("sandbox: unknown download fault or count out of range")
)

// checkFault validates a fault and its count.
func checkFault(f DownloadFault, count int) error {
	if !slices.Contains(downloadFaults, f) || count < 1 || count > maxFaultCount {
		return fmt.Errorf("%w: fault must be one of %s and count 1 to %d", ErrBadFault, faultNames(), maxFaultCount)
	}
	return nil
}

func faultNames() string {
	names := make([]string, len(downloadFaults))
	for i, f := range downloadFaults {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// arm makes the next count downloads of m fail with f (replacing a fault
// armed before).
func (s *mediaStore) arm(m *storedMedia, f DownloadFault, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.fault, m.faultLeft = f, count
}

// download counts one download of m and returns the fault it must answer,
// "" when it is served.
func (s *mediaStore) download(m *storedMedia) DownloadFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.downloads++
	if m.faultLeft == 0 {
		return ""
	}
	m.faultLeft--
	return m.fault
}

// MediaState is a stored medium as a test sees it.
type MediaState struct {
	ID       string `json:"id"`
	MimeType string `json:"mimeType"`
	SHA256   string `json:"sha256"`
	Size     int    `json:"size"`
	// PhoneNumberID is the business number it was uploaded on; empty for
	// a customer's medium (Inbound).
	PhoneNumberID string `json:"phoneNumberId,omitempty"`
	Inbound       bool   `json:"inbound"`
	// Downloads counts the download requests that reached the medium
	// (valid URL and token), failed by injection or not.
	Downloads int `json:"downloads"`
	// Fault and FaultsLeft are the armed download fault.
	Fault      DownloadFault `json:"fault,omitempty"`
	FaultsLeft int           `json:"faultsLeft"`
	// Data is the medium's bytes (not in the control's JSON).
	Data []byte `json:"-"`
}

// state describes m.
func (s *mediaStore) state(m *storedMedia) MediaState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := MediaState{ID: m.id, MimeType: m.mimeType, SHA256: m.sha256, Size: len(m.data), PhoneNumberID: m.phoneNumberID,
		Inbound: m.inbound, Downloads: m.downloads, FaultsLeft: m.faultLeft, Data: bytes.Clone(m.data)}
	if m.faultLeft > 0 {
		st.Fault = m.fault
	}
	return st
}

// FailDownloads makes the next count downloads of the medium fail with
// fault; ErrMediaNotFound or ErrBadFault otherwise.
func (s *Sandbox) FailDownloads(mediaID string, count int, fault DownloadFault) error {
	if err := checkFault(fault, count); err != nil {
		return err
	}
	m := s.wa.media.get(mediaID, s.wa.opts.Now())
	if m == nil {
		return ErrMediaNotFound
	}
	s.wa.media.arm(m, fault, count)
	return nil
}

// Media returns the stored medium mediaID (uploaded or a customer's), or
// false when it is unknown or expired.
func (s *Sandbox) Media(mediaID string) (MediaState, bool) {
	m := s.wa.media.get(mediaID, s.wa.opts.Now())
	if m == nil {
		return MediaState{}, false
	}
	return s.wa.media.state(m), true
}

// faultRequest is the body of POST /sandbox/whatsapp/media/{id}/faults,
// and the "fail" of a simulated inbound medium.
type faultRequest struct {
	Fault DownloadFault `json:"fault"`
	Count int           `json:"count"`
}

func writeMediaNotFound(rw http.ResponseWriter) {
	writeJSON(rw, http.StatusNotFound, controlError{Status: "error", Code: "NOT_FOUND", Message: ErrMediaNotFound.Error()})
}

// handleMediaFaults is POST /sandbox/whatsapp/media/{id}/faults
// {"fault","count"}: the next count downloads of the medium fail so.
func (w *whatsApp) handleMediaFaults(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 4<<10))
	var req faultRequest
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	if err != nil {
		writeValidation(rw, "", "request body must be {\"fault\":\"...\",\"count\":N}")
		return
	}
	if err := checkFault(req.Fault, req.Count); err != nil {
		field := "fault"
		if slices.Contains(downloadFaults, req.Fault) {
			field = "count"
		}
		writeValidation(rw, field, strings.TrimPrefix(err.Error(), ErrBadFault.Error()+": "))
		return
	}
	m := w.media.get(chi.URLParam(r, "id"), w.opts.Now())
	if m == nil {
		writeMediaNotFound(rw)
		return
	}
	w.media.arm(m, req.Fault, req.Count)
	writeJSON(rw, http.StatusOK, map[string]any{"status": "success", "data": w.media.state(m)})
}

// handleMediaState is GET /sandbox/whatsapp/media/{id}: the medium's
// MediaState.
func (w *whatsApp) handleMediaState(rw http.ResponseWriter, r *http.Request) {
	m := w.media.get(chi.URLParam(r, "id"), w.opts.Now())
	if m == nil {
		writeMediaNotFound(rw)
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"status": "success", "data": w.media.state(m)})
}

// isMediaType reports whether typ is a media message type.
func isMediaType(typ string) bool {
	switch typ {
	case "image", "audio", "video", "document", "sticker":
		return true
	}
	return false
}

// mediaFits reports whether a medium of mimeType may be sent as a typ
// message: image jpeg or png, sticker webp, audio and video of their
// families, a document any supported type.
func mediaFits(typ, mimeType string) bool {
	switch typ {
	case "image":
		return mimeType == "image/jpeg" || mimeType == "image/png"
	case "sticker":
		return mimeType == "image/webp"
	case "audio":
		return strings.HasPrefix(mimeType, "audio/")
	case "video":
		return strings.HasPrefix(mimeType, "video/")
	}
	return true
}

// sendableMedia reports whether a send by media id can go out: the id is
// a live upload of phoneNumberID (or a customer's medium), of a type the
// message type takes. Meta accepts the send either way and reports a bad
// id only in a failed status (131053).
func (w *whatsApp) sendableMedia(phoneNumberID, typ, mediaID string, now time.Time) bool {
	m := w.media.get(mediaID, now)
	if m == nil || (!m.inbound && m.phoneNumberID != phoneNumberID) {
		return false
	}
	return mediaFits(typ, m.mimeType)
}

// randomKey returns a fresh 32-byte key.
func randomKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// UploadFault is what an injected failure makes an upload answer.
type UploadFault string

// Upload faults, armed per business number for its next N uploads
// (Sandbox.FailUploads or POST /sandbox/whatsapp/uploads/faults).
const (
	// UploadServerError answers HTTP 503, code 2 (API Service).
	UploadServerError UploadFault = "server_error"
	// UploadTimeout holds the request for Options.TimeoutHold (less if the
	// client gives up or Run stops) and drops it unanswered; nothing is
	// stored.
	UploadTimeout UploadFault = "timeout"
	// UploadRejected answers HTTP 400, code 131053 (Media upload error), as
	// Meta refuses a file it cannot process.
	UploadRejected UploadFault = "rejected"
)

var uploadFaults = []UploadFault{UploadServerError, UploadTimeout, UploadRejected}

// maxUploadFaultNumbers bounds the business numbers with armed upload
// faults.
const maxUploadFaultNumbers = 1000

// uploadFaultBook keeps the armed upload faults per business number. It
// is safe for concurrent use.
type uploadFaultBook struct {
	mu    sync.Mutex
	armed map[string]armedUploadFault
}

type armedUploadFault struct {
	fault UploadFault
	left  int
}

func newUploadFaultBook() *uploadFaultBook {
	return &uploadFaultBook{armed: map[string]armedUploadFault{}}
}

func (b *uploadFaultBook) arm(phoneNumberID string, f UploadFault, count int) error {
	if !slices.Contains(uploadFaults, f) || count < 1 || count > maxFaultCount || phoneNumberID == "" {
		return fmt.Errorf("%w: fault must be one of server_error, timeout, rejected and count 1 to %d", ErrBadFault, maxFaultCount)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.armed[phoneNumberID]; !ok && len(b.armed) >= maxUploadFaultNumbers {
		return fmt.Errorf("%w: faults are armed for %d numbers already", ErrBadFault, maxUploadFaultNumbers)
	}
	b.armed[phoneNumberID] = armedUploadFault{fault: f, left: count}
	return nil
}

// take returns the fault the next upload of phoneNumberID answers, "" when
// none is armed.
func (b *uploadFaultBook) take(phoneNumberID string) UploadFault {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.armed[phoneNumberID]
	if !ok {
		return ""
	}
	if a.left--; a.left == 0 {
		delete(b.armed, phoneNumberID)
	} else {
		b.armed[phoneNumberID] = a
	}
	return a.fault
}

// FailUploads makes the next count uploads on phoneNumberID fail with
// fault; ErrBadFault otherwise.
func (s *Sandbox) FailUploads(phoneNumberID string, count int, fault UploadFault) error {
	return s.wa.uploadFaults.arm(phoneNumberID, fault, count)
}

// handleUploadFaults is POST /sandbox/whatsapp/uploads/faults
// {"phoneNumberId","fault","count"}.
func (w *whatsApp) handleUploadFaults(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 4<<10))
	var req struct {
		PhoneNumberID string      `json:"phoneNumberId"`
		Fault         UploadFault `json:"fault"`
		Count         int         `json:"count"`
	}
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	if err != nil {
		writeValidation(rw, "", `request body must be {"phoneNumberId":"...","fault":"...","count":N}`)
		return
	}
	if err := w.uploadFaults.arm(req.PhoneNumberID, req.Fault, req.Count); err != nil {
		writeValidation(rw, "fault", strings.TrimPrefix(err.Error(), ErrBadFault.Error()+": "))
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{"status": "success", "data": req})
}
