package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/media"
)

// Error codes of a send naming our medium.
const (
	// CodeMediaTypeMismatch: the medium's type is not one the message type
	// takes (an image needs a JPEG or PNG, a sticker a WebP...).
	CodeMediaTypeMismatch = "MEDIA_TYPE_MISMATCH"
	// CodeMediaNotReady: the medium has no bytes to send (an inbound medium
	// still being fetched, or whose fetch failed).
	CodeMediaNotReady = "MEDIA_NOT_READY"
)

// sendableTypes says, per message type, which of our media it takes.
var sendableTypes = map[string]string{
	media.CategoryImage:    "image/jpeg or image/png",
	media.CategorySticker:  "image/webp",
	media.CategoryAudio:    "audio/aac, audio/amr, audio/mpeg, audio/mp4 or audio/ogg (Opus)",
	media.CategoryVideo:    "video/mp4 or video/3gpp",
	media.CategoryDocument: "a PDF, Word, Excel or PowerPoint file, or text/plain",
}

// mediaObjectOf is the request's media object for its type, nil for
// another type.
func (req *sendRequest) mediaObjectOf() *mediaObject {
	switch req.Type {
	case "image":
		return req.Image
	case "document":
		return req.Document
	case "audio":
		return req.Audio
	case "video":
		return req.Video
	case "sticker":
		return req.Sticker
	}
	return nil
}

// checkSendMedia checks that the caller may send our medium id as a typ
// message: it exists and the caller may see it (404 as for a conversation
// otherwise), it has bytes (MEDIA_NOT_READY) and its type is one typ takes
// (MEDIA_TYPE_MISMATCH). Errors that are not the caller's are returned as
// err.
func (s *Server) checkSendMedia(ctx context.Context, typ, id string) (*apiError, error) {
	p, _ := principalFrom(ctx)
	m, err := s.app.MediaVisible(ctx, p.User, id)
	switch {
	case errors.Is(err, actors.ErrNotFound):
		return errf(http.StatusNotFound, CodeNotFound, "media not found"), nil
	case err != nil:
		return nil, err
	}
	field := typ + ".mediaId"
	switch {
	case m.Status == actors.MediaPending:
		return fieldErr(http.StatusUnprocessableEntity, CodeMediaNotReady, field,
			"the medium is still being fetched from WhatsApp; send it once it is stored"), nil
	case m.SHA256 == "":
		return fieldErr(http.StatusUnprocessableEntity, CodeMediaNotReady, field,
			"the medium has no bytes to send (its fetch failed: "+m.Error+")"), nil
	}
	if t, ok := media.Lookup(m.MimeType); !ok || t.Category != typ {
		return fieldErr(http.StatusUnprocessableEntity, CodeMediaTypeMismatch, field,
			fmt.Sprintf("a %s message takes %s; this medium is %s", typ, sendableTypes[typ], m.MimeType)), nil
	}
	return nil, nil
}

// fieldErr is an error about one field, with the field's entry in errors.
func fieldErr(status int, code, field, message string) *apiError {
	e := errf(status, code, message)
	e.Fields = []FieldError{{Field: field, Message: message, Code: code}}
	return e
}
