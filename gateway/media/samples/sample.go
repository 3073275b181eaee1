package samples

import "fmt"

// Sample is a generated file with the name and type an upload of it should
// carry.
type Sample struct {
	// Filename is a display name whose extension matches the bytes.
	Filename string
	// MimeType is the type gateway/media decides for the bytes (WhatsApp's
	// name for it).
	MimeType string
	Data     []byte
}

// Accepted returns one sample of every type an upload accepts, keyed by a
// short name ("png", "jpeg", "webp", "webp-animated", "pdf", "docx", "xlsx",
// "pptx", "mp4", "m4a", "3gp", "ogg-opus", "amr", "aac", "mp3", "text").
func Accepted() map[string]Sample {
	return map[string]Sample{
		"png":           {"photo.png", "image/png", PNG()},
		"jpeg":          {"photo.jpg", "image/jpeg", JPEG()},
		"webp":          {"sticker.webp", "image/webp", WebP()},
		"webp-animated": {"animated.webp", "image/webp", WebPAnimated()},
		"pdf":           {"invoice.pdf", "application/pdf", PDF()},
		"docx":          {"letter.docx", MimeDOCX, DOCX()},
		"xlsx":          {"sheet.xlsx", MimeXLSX, XLSX()},
		"pptx":          {"slides.pptx", MimePPTX, PPTX()},
		"mp4":           {"clip.mp4", "video/mp4", MP4()},
		"m4a":           {"voice.m4a", "audio/mp4", M4A()},
		"3gp":           {"clip.3gp", "video/3gpp", ThreeGP()},
		"ogg-opus":      {"voice.ogg", "audio/ogg", OggOpus()},
		"amr":           {"voice.amr", "audio/amr", AMR()},
		"aac":           {"song.aac", "audio/aac", AAC()},
		"mp3":           {"song.mp3", "audio/mpeg", MP3()},
		"text":          {"notes.txt", "text/plain", Text()},
	}
}

// ForWhatsAppType returns the sample the sandbox sends for an inbound
// message of WhatsApp type waType ("image", "audio", "video", "document",
// "sticker"); voice picks an OGG-Opus voice note for "audio" (an MP3
// otherwise). Unknown types are an error.
func ForWhatsAppType(waType string, voice bool) (Sample, error) {
	a := Accepted()
	switch waType {
	case "image":
		return a["jpeg"], nil
	case "audio":
		if voice {
			return a["ogg-opus"], nil
		}
		return a["mp3"], nil
	case "video":
		return a["mp4"], nil
	case "document":
		return a["pdf"], nil
	case "sticker":
		return a["webp"], nil
	}
	return Sample{}, fmt.Errorf("no sample for whatsapp media type %q", waType)
}
