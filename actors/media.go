package actors

import (
	"context"
	"io"
	"time"
)

// Media statuses. An uploaded medium is stored, then uploading to the Cloud
// API for a send, then uploaded (WaMediaID known) or failed. An inbound
// medium is pending until its bytes are fetched from Meta, then stored or
// failed (Error says why).
const (
	MediaPending   = "pending"
	MediaStored    = "stored"
	MediaUploading = "uploading"
	MediaUploaded  = "uploaded"
	MediaFailed    = "failed"
)

// CarriesMedium reports whether a WhatsApp message of type typ carries a
// medium (image, audio, video, document or sticker).
func CarriesMedium(typ string) bool {
	switch typ {
	case "image", "audio", "video", "document", "sticker":
		return true
	}
	return false
}

// MediaWaLife is how long a media id given by the Cloud API's upload stays
// usable; a send re-uploads a medium whose WaUploadedAt is older.
const MediaWaLife = 30 * 24 * time.Hour

// Media is one file the engine keeps: uploaded by a user, or fetched from
// an inbound message. Its bytes are in MediaBlobs under SHA256.
type Media struct {
	ID string
	// Filename is the sanitised display name (never a storage path).
	Filename string
	// MimeType is the type detected from the bytes.
	MimeType string
	Size     int64
	// SHA256 is the lower-case hex digest of the bytes and their key in
	// MediaBlobs (empty while an inbound medium is pending).
	SHA256 string
	// Status is one of the Media* statuses.
	Status string
	// Error says why the medium failed (upload to or fetch from Meta).
	Error string
	// WaMediaID is WhatsApp's id of the medium: the id the Cloud API gave
	// our upload for WaPhoneNumberID (valid MediaWaLife from WaUploadedAt),
	// or the id an inbound message carried.
	WaMediaID       string
	WaPhoneNumberID string
	WaUploadedAt    time.Time
	// UploaderID is the user who uploaded it; empty for inbound media.
	UploaderID string
	// ConversationID and MessageID link the medium to the message that
	// carried it (inbound) or sent it (outbound); empty when unlinked.
	ConversationID string
	MessageID      string
	// Attempts counts the fetch or upload attempts made so far.
	Attempts  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MediaStore keeps media records (their bytes are in MediaBlobs).
type MediaStore interface {
	// CreateMedia inserts m; ErrDuplicate when its id is taken.
	CreateMedia(ctx context.Context, m Media) error
	// Media returns the medium or ErrNotFound.
	Media(ctx context.Context, id string) (Media, error)
	// SaveMedia replaces the stored medium m.ID; ErrNotFound when absent.
	SaveMedia(ctx context.Context, m Media) error
	// DeleteMedia removes the record; ErrNotFound when absent.
	DeleteMedia(ctx context.Context, id string) error
	// CountMediaBySHA256 counts the records whose bytes are sha.
	CountMediaBySHA256(ctx context.Context, sha string) (int, error)
	// SetMessageMedia replaces the Media summary of message messageID
	// (UpdatedAt set to at); ErrNotFound when there is no such message.
	SetMessageMedia(ctx context.Context, messageID string, mm MessageMedia, at time.Time) error
	// MediaByStatus returns up to limit media in status, oldest UpdatedAt
	// first (recovery of pending fetches and interrupted uploads).
	MediaByStatus(ctx context.Context, status string, limit int) ([]Media, error)
}

// MessageMedia is a message's medium as the message shows it, so an agent
// sees at once whether the attachment is there (pending, stored, failed with
// the reason).
type MessageMedia struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	MimeType string `json:"mimeType,omitempty"`
	Size     int64  `json:"size,omitempty"`
	Filename string `json:"filename,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Summary is m as the message carrying it shows it.
func (m Media) Summary() MessageMedia {
	return MessageMedia{ID: m.ID, Status: m.Status, MimeType: m.MimeType, Size: m.Size, Filename: m.Filename, Error: m.Error}
}

// MediaBlob is a stored file opened for reading: seekable, so it can serve
// HTTP range requests.
type MediaBlob interface {
	io.ReadSeekCloser
	Size() int64
}

// MediaBlobs keeps media bytes, content-addressed by their SHA-256 (lower
// case hex). The filesystem under DATA_DIR/media and MongoDB GridFS
// implement it and pass one contract suite.
type MediaBlobs interface {
	// Put stores size bytes read from r under sha, and fails, keeping
	// nothing, when r yields another length or digest. Storing bytes that
	// are already there succeeds without rewriting them. No reader ever
	// sees part of a file.
	Put(ctx context.Context, sha string, size int64, r io.Reader) error
	// Open returns the bytes of sha or ErrNotFound.
	Open(ctx context.Context, sha string) (MediaBlob, error)
	// Delete removes the bytes of sha; a no-op when absent.
	Delete(ctx context.Context, sha string) error
}
