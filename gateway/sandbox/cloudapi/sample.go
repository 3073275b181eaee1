package cloudapi

import "github.com/wacc/engine/gateway/media/samples"

// sampleFile is the generated file a simulated medium of mimeType (a base
// type) carries when the request gives no data: a real, header-correct
// file of that type (package samples), an animated WebP for an animated
// sticker. It is nil for a type there is no sample of (the legacy Office
// formats), whose simulation must bring its own data.
func sampleFile(mimeType string, animated bool) []byte {
	all := samples.Accepted()
	if mimeType == "image/webp" && animated {
		return all["webp-animated"].Data
	}
	if mimeType == "audio/ogg" {
		return all["ogg-opus"].Data // WhatsApp takes only Opus in OGG
	}
	for _, name := range []string{"png", "jpeg", "webp", "pdf", "docx", "xlsx", "pptx", "mp4", "m4a", "3gp", "amr", "aac", "mp3", "text"} {
		if s := all[name]; s.MimeType == mimeType {
			return s.Data
		}
	}
	return nil
}
