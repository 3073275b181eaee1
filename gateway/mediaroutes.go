package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/mediabytes"
	"github.com/wacc/engine/gateway/media"
)

// Media is what the /api/media routes are built from; nil in Deps leaves
// them out.
type Media struct {
	// Store keeps the records, Blobs the bytes; records and bytes change
	// together through actors/mediabytes.
	Store actors.MediaStore
	Blobs mediabytes.Blobs
	// Intake receives and checks uploaded files.
	Intake *media.Intake
}

// MaxBulkFiles is the most files one bulk upload may carry.
const MaxBulkFiles = 10

// uploadSlack is what a multipart body may carry beyond its files' bytes:
// boundaries and part headers.
const uploadSlack = 64 << 10

// mediaTimeout is how long an upload may take to arrive, or a download to
// be sent, past the server's own read and write timeouts (a 100 MB file
// on a slow link).
const mediaTimeout = 15 * time.Minute

// mediaView is the contract's media object, plus the message that carries
// it when linked.
type mediaView struct {
	ID        string    `json:"id"`
	Filename  string    `json:"filename"`
	MimeType  string    `json:"mimeType"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Status    string    `json:"status"`
	WaMediaID *string   `json:"waMediaId"`
	CreatedAt time.Time `json:"createdAt"`
	// Extensions: the reason of a failed medium, and its message.
	Error          string `json:"error,omitempty"`
	ConversationID string `json:"conversationId,omitempty"`
	MessageID      string `json:"messageId,omitempty"`
}

func viewOfMedia(m actors.Media) mediaView {
	v := mediaView{ID: m.ID, Filename: m.Filename, MimeType: m.MimeType, Size: m.Size, SHA256: m.SHA256, Status: m.Status,
		CreatedAt: m.CreatedAt.UTC(), Error: m.Error, ConversationID: m.ConversationID, MessageID: m.MessageID}
	if m.WaMediaID != "" {
		id := m.WaMediaID
		v.WaMediaID = &id
	}
	return v
}

type mediaEnvelope struct {
	Media mediaView `json:"media"`
}

// bulkItem is one file's answer in a bulk upload: its medium or its error.
type bulkItem struct {
	Media *mediaView `json:"media,omitempty"`
	Error *itemError `json:"error,omitempty"`
}

type itemError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type bulkEnvelope struct {
	Items []bulkItem `json:"items"`
}

func (s *Server) mediaRoutes() []route {
	one := s.media.Intake.MaxBytes() + uploadSlack
	each := " (each file at most " + media.FormatSize(s.media.Intake.MaxBytes()) + ", MEDIA_MAX_BYTES"
	return []route{
		{method: "POST", pattern: "/api/media/upload", handler: s.handleMediaUpload, limited: true, perm: actors.PermMediaWrite, tag: "media",
			maxBody: one + uploadSlack, bodyNote: each + ")", upload: "file", streamed: true,
			summary:  "Upload one file (multipart field file); its type is decided from the bytes. 415 UNSUPPORTED_MEDIA_TYPE or 413 PAYLOAD_TOO_LARGE naming the detected type and the limit",
			response: mediaEnvelope{}, status: 201},
		{method: "POST", pattern: "/api/media/bulk-upload", handler: s.handleMediaBulkUpload, limited: true, perm: actors.PermMediaWrite, tag: "media",
			maxBody: MaxBulkFiles*one + uploadSlack, bodyNote: each + fmt.Sprintf(", at most %d files)", MaxBulkFiles), upload: "files", streamed: true,
			summary:  "Upload up to 10 files (multipart field files); one answer per file, {media} or {error}, in order",
			response: bulkEnvelope{}, status: 201},
		{method: "GET", pattern: "/api/media/{id}", handler: s.handleGetMedia, limited: true, perm: actors.PermConversationsRead, tag: "media",
			summary: "Get a medium (agents: their uploads and the media of their conversations)", response: mediaEnvelope{}, status: 200},
		{method: "GET", pattern: "/api/media/{id}/content", handler: s.handleMediaContent, limited: true, perm: actors.PermConversationsRead, tag: "media",
			summary: "The medium's bytes as an attachment, with range requests (ETag is the SHA-256)", binary: true, status: 200},
		{method: "DELETE", pattern: "/api/media/{id}", handler: s.handleDeleteMedia, limited: true, perm: actors.PermMediaWrite, tag: "media",
			summary: "Delete a medium; one a message carries stays in its conversation's history, detached from its uploader", status: 204},
	}
}

func (s *Server) handleMediaUpload(w http.ResponseWriter, r *http.Request) {
	s.handleUpload(w, r, "file", 1, s.answerUpload)
}

func (s *Server) handleMediaBulkUpload(w http.ResponseWriter, r *http.Request) {
	s.handleUpload(w, r, "files", MaxBulkFiles, s.answerBulkUpload)
}

// handleUpload reads an upload's files (receiveFiles) and answers with
// answer. Under an Idempotency-Key the answer runs under the key's claim
// once the whole body is read (the Idempotency-Key middleware, which
// buffers bodies, stays out of these routes). The request is identified by
// its files, each by display name, declared type and the digest of all its
// bytes, not by the raw body, whose multipart boundary a client's retry may
// change: a repeat gets the first answer and keeps nothing, and the same
// key with other files is 422.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, field string, maxFiles int, answer func(http.ResponseWriter, *http.Request, []media.File)) {
	key := r.Header.Get("Idempotency-Key")
	idempotent := key != "" && s.engine != nil && s.engine.Idempotency != nil
	if idempotent && (len(key) > 255 || !printableASCII(key)) {
		writeError(w, r, fieldError("Idempotency-Key", "INVALID_VALUE", "must be 1 to 255 printable ASCII characters"))
		return
	}
	files, ok := s.receiveFiles(w, r, field, maxFiles)
	if !ok {
		return
	}
	defer media.DiscardAll(files)
	if !idempotent {
		answer(w, r, files)
		return
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%q %q %s\n", f.Name, f.ContentType, f.SHA256)
	}
	s.runIdempotent(w, r, key, hex.EncodeToString(h.Sum(nil)), mediaTimeout,
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w, r, files) }))
}

func (s *Server) answerUpload(w http.ResponseWriter, r *http.Request, files []media.File) {
	f := files[0]
	if f.Err != nil {
		ae := refusalError(f.Err)
		s.audit(r, "media.upload", "media", actors.OutcomeFailure, auditDetail(ae.Code, f.Name, ae.Message))
		writeError(w, r, ae)
		return
	}
	m, err := s.keepUpload(r, f.Upload)
	if err != nil {
		s.audit(r, "media.upload", "media", actors.OutcomeFailure, auditDetail(CodeInternal, f.Name, ""))
		s.fail(w, r, err)
		return
	}
	writeData(w, http.StatusCreated, mediaEnvelope{Media: viewOfMedia(m)})
}

func (s *Server) answerBulkUpload(w http.ResponseWriter, r *http.Request, files []media.File) {
	items := make([]bulkItem, 0, len(files))
	for _, f := range files {
		if f.Err != nil {
			ae := refusalError(f.Err)
			s.audit(r, "media.upload", "media", actors.OutcomeFailure, auditDetail(ae.Code, f.Name, ae.Message))
			items = append(items, bulkItem{Error: &itemError{Code: ae.Code, Message: ae.Message}})
			continue
		}
		m, err := s.keepUpload(r, f.Upload)
		f.Upload.Discard()
		if err != nil {
			// This file is not kept (mediabytes undoes a half-kept one);
			// the others stand.
			code, msg := CodeInternal, "the file could not be stored; try again"
			if isUnavailable(err) {
				code, msg = CodeUnavailable, "a dependency is unavailable, retry later"
			}
			s.log.Error("store uploaded file", zap.String("request_id", requestIDFrom(r.Context())), zap.Error(err))
			s.audit(r, "media.upload", "media", actors.OutcomeFailure, auditDetail(code, f.Name, ""))
			items = append(items, bulkItem{Error: &itemError{Code: code, Message: msg}})
			continue
		}
		v := viewOfMedia(m)
		items = append(items, bulkItem{Media: &v})
	}
	writeData(w, http.StatusCreated, bulkEnvelope{Items: items})
}

// receiveFiles reads a multipart upload's files (at most maxFiles of
// field) through the intake. ok is false when it answered the request
// itself: a body that is not multipart, malformed, cut off, too large or
// with the wrong parts; nothing is kept then.
func (s *Server) receiveFiles(w http.ResponseWriter, r *http.Request, field string, maxFiles int) ([]media.File, bool) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		s.audit(r, "media.upload", "media", actors.OutcomeFailure, CodeUnsupported+" not multipart")
		writeError(w, r, errf(http.StatusUnsupportedMediaType, CodeUnsupported,
			fmt.Sprintf("send multipart/form-data with the file in field %q", field)))
		return nil, false
	}
	// A large file on a slow link may take longer than the server's
	// timeouts; this request gets its own.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(mediaTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(mediaTimeout))
	files, err := s.media.Intake.ReadFiles(r.Context(), r.Body, params["boundary"], field, maxFiles)
	if err == nil {
		return files, true
	}
	var ae *apiError
	var tooBig *http.MaxBytesError
	var pe *media.PartError
	switch {
	case errors.As(err, &tooBig):
		ae = errf(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf(
			"request body is larger than %d bytes (at most %d files of at most %s each, MEDIA_MAX_BYTES)", tooBig.Limit, maxFiles, media.FormatSize(s.media.Intake.MaxBytes())))
	case errors.Is(err, media.ErrTooManyFiles):
		ae = fieldError(field, "TOO_MANY_FILES", fmt.Sprintf("at most %d files in one request", maxFiles))
	case errors.Is(err, media.ErrNoFile):
		ae = fieldError(field, "REQUIRED", "no file in field "+field)
	case errors.As(err, &pe) && errors.Is(err, media.ErrUnexpectedPart):
		ae = fieldError(pe.Field, "UNKNOWN_FIELD", fmt.Sprintf("only field %q is accepted", field))
	case errors.Is(err, media.ErrMalformed), errors.Is(err, media.ErrBodyRead):
		ae = fieldError(field, "INVALID_MULTIPART", "the multipart body is malformed or was cut off")
	default:
		s.audit(r, "media.upload", "media", actors.OutcomeFailure, CodeInternal)
		s.fail(w, r, err)
		return nil, false
	}
	s.audit(r, "media.upload", "media", actors.OutcomeFailure, auditDetail(ae.Code, "", ae.Message))
	writeError(w, r, ae)
	return nil, false
}

// fieldError is a 400 VALIDATION_ERROR about one field whose message is
// the field's.
func fieldError(field, code, message string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: message,
		Fields: []FieldError{{Field: field, Message: message, Code: code}}}
}

// refusalError maps an intake refusal to the contract's error.
func refusalError(err error) *apiError {
	switch {
	case errors.Is(err, media.ErrTooLarge):
		return errf(http.StatusRequestEntityTooLarge, CodeTooLarge, err.Error())
	case errors.Is(err, media.ErrEmpty):
		return fieldError("file", "EMPTY", err.Error())
	}
	return errf(http.StatusUnsupportedMediaType, CodeUnsupported, err.Error())
}

// keepUpload stores an upload's bytes and record (the caller's upload,
// status stored) and audits it.
func (s *Server) keepUpload(r *http.Request, u *media.Upload) (actors.Media, error) {
	p, _ := principalFrom(r.Context())
	now := s.now().UTC().Truncate(time.Millisecond) // what the stores keep
	m := actors.Media{ID: actors.NewID(), Filename: u.Filename, MimeType: u.MimeType, Size: u.Size, SHA256: u.SHA256,
		Status: actors.MediaStored, UploaderID: p.User.ID, CreatedAt: now, UpdatedAt: now}
	f, err := u.Open()
	if err != nil {
		return actors.Media{}, err
	}
	defer func() { _ = f.Close() }()
	if err := mediabytes.Create(r.Context(), s.media.Store, s.media.Blobs, m, f); err != nil {
		return actors.Media{}, err
	}
	s.audit(r, "media.upload", "media:"+m.ID, actors.OutcomeSuccess, fmt.Sprintf("%s %d bytes sha256=%s", m.MimeType, m.Size, m.SHA256))
	return m, nil
}

// auditDetail is a short note for the audit log: the code, the file's
// display name and the reason, cut to a sane length.
func auditDetail(code, name, message string) string {
	d := code
	if name != "" {
		d += " " + fmt.Sprintf("%q", name)
	}
	if message != "" {
		d += ": " + message
	}
	if len(d) > 300 {
		d = strings.ToValidUTF8(d[:300], "")
	}
	return d
}
