package media

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// sniffLen is how much of the start of a file the detector reads: the
// mimetype library's default, and more than a browser's sniffing window.
const sniffLen = 4096

// browserSniffLen is how far a browser's content sniffer looks for markup
// (the WHATWG MIME Sniffing "resource header").
const browserSniffLen = 1445

// detection is what the first bytes of a file say.
type detection struct {
	t Type
	// detected is the detector's name of the bytes, for messages.
	detected string
	// animated is set for an animated WebP.
	animated bool
}

// detectorTypes maps the detector's names to WhatsApp's types where they
// differ (an audio-only MP4 brand is audio/mp4 to WhatsApp).
var detectorTypes = map[string]string{
	"audio/x-m4a": "audio/mp4",
}

// detect decides the type from the first bytes of a file (head, up to
// sniffLen) and refuses what WhatsApp does not accept, markup a browser
// would sniff, and an OGG stream that is not Opus.
func detect(head []byte) (detection, *Refusal) {
	m := mimetype.Detect(head)
	name := m.String()
	if i := strings.IndexByte(name, ';'); i >= 0 {
		name = name[:i]
	}
	if n, ok := detectorTypes[name]; ok {
		name = n
	}
	if name == "application/octet-stream" {
		return detection{}, unsupported(name, "the file's type could not be recognised (detected %s); WhatsApp accepts %s", name, Accepted())
	}
	t, ok := Lookup(name)
	if !ok {
		return detection{}, unsupported(name, "detected %s, which WhatsApp does not accept; it accepts %s", name, Accepted())
	}
	if r := markup(head, name); r != nil {
		return detection{}, r
	}
	d := detection{t: t, detected: name}
	switch name {
	case "image/webp":
		// VP8X's flags byte: the animation bit (RIFF header 12, chunk header 8).
		d.animated = len(head) > 20 && string(head[12:16]) == "VP8X" && head[20]&0x02 != 0
	case "audio/ogg":
		if codec := oggCodec(head); codec != "Opus" {
			return detection{}, unsupported(name, "detected audio/ogg with %s; WhatsApp takes OGG audio only with the Opus codec (voice notes)", codec)
		}
	}
	return d, nil
}

// markupSigns are what makes a browser render a file as a page or run a
// script, lower case.
var markupSigns = []string{"<!doctype html", "<html", "<head", "<body", "<script", "<iframe", "<svg", "<object", "<embed", "<?xml-stylesheet", "javascript:"}

// markup refuses a file whose first browserSniffLen bytes hold HTML, SVG or
// script markup (a browser that sniffs would render it), or that holds a
// PDF header there without being a PDF (a PDF reader would open it): the
// hallmarks of a polyglot, whatever the type detected.
func markup(head []byte, detected string) *Refusal {
	h := head[:min(len(head), browserSniffLen)]
	lower := bytes.ToLower(h)
	for _, s := range markupSigns {
		if bytes.Contains(lower, []byte(s)) {
			return unsupported(detected, "detected %s holding %q markup in its first %d bytes (HTML, SVG or script a browser could run); refused as a polyglot", detected, s, browserSniffLen)
		}
	}
	if detected != "application/pdf" && bytes.Contains(head[:min(len(head), 1024)], []byte("%PDF-")) {
		return unsupported(detected, "detected %s with a PDF header inside its first 1024 bytes; refused as a polyglot", detected)
	}
	return nil
}

// oggCodec names the codec of an OGG stream's first packet.
func oggCodec(head []byte) string {
	if len(head) < 28 {
		return "no codec header"
	}
	segs := int(head[26])
	if len(head) < 27+segs {
		return "no codec header"
	}
	p := head[27+segs:]
	switch {
	case bytes.HasPrefix(p, []byte("OpusHead")):
		return "Opus"
	case bytes.HasPrefix(p, []byte("\x01vorbis")):
		return "Vorbis"
	case bytes.HasPrefix(p, []byte("\x7fFLAC")):
		return "FLAC"
	case bytes.HasPrefix(p, []byte("Speex")):
		return "Speex"
	}
	return "an unknown codec"
}

// le16 reads a little-endian uint16 at off, or 0 past the end.
func le16(b []byte, off int) int {
	if off < 0 || off+2 > len(b) {
		return 0
	}
	return int(binary.LittleEndian.Uint16(b[off:]))
}
