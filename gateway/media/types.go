package media

import (
	"fmt"
	"mime"
	"path"
	"strings"
)

// Categories of WhatsApp media, as a message names them.
const (
	CategoryImage    = "image"
	CategorySticker  = "sticker"
	CategoryAudio    = "audio"
	CategoryVideo    = "video"
	CategoryDocument = "document"
)

// Byte units of the limits (WhatsApp's "MB" and "KB" taken as binary units).
const (
	KB = 1 << 10
	MB = 1 << 20
)

// Sticker limits: WhatsApp takes a static sticker up to 100 KB and an
// animated one up to 500 KB.
const (
	StaticStickerLimit   = 100 * KB
	AnimatedStickerLimit = 500 * KB
)

// Type is one media type WhatsApp accepts, with its limit.
type Type struct {
	// MimeType is WhatsApp's name of the type.
	MimeType string
	Category string
	// Limit is the largest size in bytes (for a sticker, the static limit;
	// Receive applies AnimatedStickerLimit to animated ones).
	Limit int64
	// Exts are the filename extensions that may carry it, the canonical one
	// first.
	Exts []string
	// Aliases are other declared Content-Types that mean it.
	Aliases []string
}

// The types WhatsApp accepts (Cloud API "Supported media types"), by
// MimeType.
var types = map[string]Type{
	"image/jpeg": {"image/jpeg", CategoryImage, 5 * MB, []string{".jpg", ".jpeg", ".jpe", ".jfif"}, []string{"image/jpg", "image/pjpeg"}},
	"image/png":  {"image/png", CategoryImage, 5 * MB, []string{".png"}, nil},
	"image/webp": {"image/webp", CategorySticker, StaticStickerLimit, []string{".webp"}, nil},

	"audio/aac":  {"audio/aac", CategoryAudio, 16 * MB, []string{".aac"}, []string{"audio/x-aac", "audio/aacp"}},
	"audio/amr":  {"audio/amr", CategoryAudio, 16 * MB, []string{".amr"}, []string{"audio/amr-nb", "audio/amr-wb"}},
	"audio/mpeg": {"audio/mpeg", CategoryAudio, 16 * MB, []string{".mp3"}, []string{"audio/mp3", "audio/x-mpeg", "audio/mpeg3"}},
	"audio/mp4":  {"audio/mp4", CategoryAudio, 16 * MB, []string{".m4a", ".mp4"}, []string{"audio/x-m4a", "audio/m4a", "video/mp4"}},
	"audio/ogg":  {"audio/ogg", CategoryAudio, 16 * MB, []string{".ogg", ".opus", ".oga"}, []string{"audio/opus", "application/ogg"}},

	"video/mp4":  {"video/mp4", CategoryVideo, 16 * MB, []string{".mp4", ".m4v"}, []string{"audio/mp4"}},
	"video/3gpp": {"video/3gpp", CategoryVideo, 16 * MB, []string{".3gp", ".3gpp"}, []string{"video/3gp", "audio/3gpp"}},

	"application/pdf":    {"application/pdf", CategoryDocument, 100 * MB, []string{".pdf"}, []string{"application/x-pdf"}},
	"application/msword": {"application/msword", CategoryDocument, 100 * MB, []string{".doc"}, []string{"application/vnd.ms-word"}},
	"application/vnd.ms-excel": {"application/vnd.ms-excel", CategoryDocument, 100 * MB, []string{".xls"},
		[]string{"application/msexcel", "application/x-msexcel"}},
	"application/vnd.ms-powerpoint": {"application/vnd.ms-powerpoint", CategoryDocument, 100 * MB, []string{".ppt"},
		[]string{"application/mspowerpoint"}},
	MimeDOCX:     {MimeDOCX, CategoryDocument, 100 * MB, []string{".docx"}, nil},
	MimeXLSX:     {MimeXLSX, CategoryDocument, 100 * MB, []string{".xlsx"}, nil},
	MimePPTX:     {MimePPTX, CategoryDocument, 100 * MB, []string{".pptx"}, nil},
	"text/plain": {"text/plain", CategoryDocument, 100 * MB, []string{".txt", ".text"}, nil},
}

// The Office Open XML types.
const (
	MimeDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	MimeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	MimePPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
)

// Lookup returns the accepted type named mimeType (WhatsApp's name; no
// parameters).
func Lookup(mimeType string) (Type, bool) {
	t, ok := types[mimeType]
	return t, ok
}

// Accepted lists WhatsApp's accepted types for messages: "image/jpeg,
// image/png; ..." by category, for refusal messages.
func Accepted() string {
	return "images: image/jpeg, image/png (5 MB); stickers: image/webp (100 KB static, 500 KB animated); " +
		"audio: audio/aac, audio/amr, audio/mpeg, audio/mp4, audio/ogg with Opus (16 MB); video: video/mp4, video/3gpp (16 MB); " +
		"documents: application/pdf, Word, Excel and PowerPoint (doc, docx, xls, xlsx, ppt, pptx), text/plain (100 MB)"
}

// FormatSize names a byte count the way the limits are written ("5 MB",
// "100 KB"), with the exact count.
func FormatSize(n int64) string {
	switch {
	case n >= MB && n%MB == 0:
		return fmt.Sprintf("%d MB (%d bytes)", n/MB, n)
	case n >= KB && n%KB == 0:
		return fmt.Sprintf("%d KB (%d bytes)", n/KB, n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// agreesWithExt reports whether filename's extension fits t; a name
// without an extension fits any type.
func (t Type) agreesWithExt(filename string) bool {
	ext := strings.ToLower(path.Ext(filename))
	if ext == "" {
		return true
	}
	for _, e := range t.Exts {
		if e == ext {
			return true
		}
	}
	return false
}

// agreesWithDeclared reports whether a part's declared Content-Type fits t:
// absent, application/octet-stream, the type itself or one of its aliases.
// An unparsable declaration never fits.
func (t Type) agreesWithDeclared(declared string) bool {
	if strings.TrimSpace(declared) == "" {
		return true
	}
	base, _, err := mime.ParseMediaType(declared)
	if err != nil {
		return false
	}
	if base == "application/octet-stream" || base == t.MimeType {
		return true
	}
	for _, a := range t.Aliases {
		if a == base {
			return true
		}
	}
	return false
}
