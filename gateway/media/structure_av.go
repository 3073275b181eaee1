package media

import (
	"bytes"
	"encoding/binary"

	"github.com/wacc/engine/gateway/media/ogg"
)

// checkWebP walks the RIFF chunks of a WebP (at most 500 KB, read whole):
// the RIFF size is the file's, chunks stay inside it, the first is VP8,
// VP8L or VP8X; an animated file (VP8X animation flag) has ANIM and frames
// (ANMF) that each hold an image; a static one holds one image (VP8 with
// its start code, or VP8L with its signature).
func checkWebP(f file, size int64, d *detection) (*Refusal, error) {
	b := make([]byte, size)
	if err := readAt(f, b, 0); err != nil {
		return nil, err
	}
	bad := func(why string) *Refusal {
		return unsupported(d.detected, "detected image/webp but its structure is broken: %s", why)
	}
	if int64(binary.LittleEndian.Uint32(b[4:]))+8 != size {
		return bad("the RIFF size is not the file's size"), nil
	}
	chunks, ok := riffChunks(b[12:])
	if !ok || len(chunks) == 0 {
		return bad("a chunk runs past the end of the file"), nil
	}
	switch chunks[0].id {
	case "VP8 ", "VP8L":
		if !validImageChunk(chunks[0]) {
			return bad("the image chunk has no valid VP8/VP8L header"), nil
		}
		return nil, nil
	case "VP8X":
	default:
		return bad("the first chunk is " + printable(chunks[0].id) + ", not VP8, VP8L or VP8X"), nil
	}
	var anim, frames, images int
	for _, c := range chunks[1:] {
		switch c.id {
		case "ANIM":
			anim++
		case "ANMF":
			if len(c.data) < 16 {
				return bad("an ANMF frame is too short"), nil
			}
			sub, ok := riffChunks(c.data[16:])
			if !ok || !hasImage(sub) {
				return bad("an ANMF frame holds no valid image"), nil
			}
			frames++
		case "VP8 ", "VP8L":
			if !validImageChunk(c) {
				return bad("the image chunk has no valid VP8/VP8L header"), nil
			}
			images++
		}
	}
	if d.animated {
		if anim != 1 || frames == 0 {
			return bad("an animated WebP needs one ANIM chunk and at least one ANMF frame"), nil
		}
		return nil, nil
	}
	if images != 1 || frames != 0 {
		return bad("a still WebP needs exactly one image chunk"), nil
	}
	return nil, nil
}

type riffChunk struct {
	id   string
	data []byte
}

// riffChunks splits b into chunks (FourCC, little-endian size, data, pad
// byte when odd); ok is false when one overruns b.
func riffChunks(b []byte) ([]riffChunk, bool) {
	var out []riffChunk
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, false
		}
		n := int64(binary.LittleEndian.Uint32(b[4:]))
		if n > int64(len(b)-8) {
			return nil, false
		}
		out = append(out, riffChunk{id: string(b[:4]), data: b[8 : 8+n]})
		b = b[8+n:]
		if n%2 == 1 && len(b) > 0 {
			b = b[1:]
		}
	}
	return out, true
}

func hasImage(cs []riffChunk) bool {
	for _, c := range cs {
		if (c.id == "VP8 " || c.id == "VP8L") && validImageChunk(c) {
			return true
		}
	}
	return false
}

// validImageChunk checks a VP8 key frame's start code or VP8L's signature.
func validImageChunk(c riffChunk) bool {
	if c.id == "VP8L" {
		return len(c.data) >= 5 && c.data[0] == 0x2f
	}
	return len(c.data) >= 10 && c.data[0]&1 == 0 && bytes.Equal(c.data[3:6], []byte{0x9d, 0x01, 0x2a})
}

func printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return "a non-ASCII chunk"
		}
	}
	return s
}

// maxISOBoxes bounds the top-level box walk.
const maxISOBoxes = 4096

// checkISO walks the top-level boxes of an MP4 or 3GP file: ftyp first,
// every box inside the file, exactly one moov; the moov's track handlers
// decide audio/mp4 (sound only) or video/mp4 (a video track) for an MP4.
func checkISO(f file, size int64, d *detection) (*Refusal, error) {
	bad := func(why string) *Refusal {
		return unsupported(d.detected, "detected %s but its structure is broken: %s", d.detected, why)
	}
	var moovAt, moovSize int64 = -1, 0
	hdr := make([]byte, 16)
	off := int64(0)
	for i := 0; off < size; i++ {
		if i == maxISOBoxes {
			return bad("more than 4096 top-level boxes"), nil
		}
		if size-off < 8 {
			return bad("a box header is cut off at the end"), nil
		}
		h := hdr[:min(16, size-off)]
		if err := readAt(f, h, off); err != nil {
			return nil, err
		}
		boxSize, headLen := be32(h, 0), int64(8)
		switch boxSize {
		case 0: // to the end of the file
			boxSize = size - off
		case 1: // 64-bit size follows
			if len(h) < 16 {
				return bad("a box's 64-bit size is cut off"), nil
			}
			boxSize, headLen = int64(binary.BigEndian.Uint64(h[8:])), 16
		}
		typ := string(h[4:8])
		if boxSize < headLen || boxSize > size-off {
			return bad("box " + printable(typ) + " runs past the end of the file"), nil
		}
		if i == 0 && typ != "ftyp" {
			return bad("the first box is not ftyp"), nil
		}
		if typ == "moov" {
			if moovAt >= 0 {
				return bad("two moov boxes"), nil
			}
			moovAt, moovSize = off+headLen, boxSize-headLen
		}
		off += boxSize
	}
	if moovAt < 0 {
		return bad("no moov box"), nil
	}
	moov := make([]byte, moovSize)
	if err := readAt(f, moov, moovAt); err != nil {
		return nil, err
	}
	handlers := map[string]bool{}
	collectHandlers(moov, handlers, 0)
	if d.t.MimeType == "video/3gpp" {
		return nil, nil
	}
	switch {
	case handlers["vide"]:
		d.t, _ = Lookup("video/mp4")
	case handlers["soun"]:
		d.t, _ = Lookup("audio/mp4")
	default:
		return bad("no audio or video track"), nil
	}
	return nil, nil
}

// collectHandlers records the handler types of hdlr boxes under
// moov/trak/mdia.
func collectHandlers(b []byte, into map[string]bool, depth int) {
	for len(b) >= 8 && depth < 4 {
		n := be32(b, 0)
		if n < 8 || n > int64(len(b)) {
			return
		}
		typ, body := string(b[4:8]), b[8:n]
		switch typ {
		case "trak", "mdia":
			collectHandlers(body, into, depth+1)
		case "hdlr":
			if len(body) >= 12 {
				into[string(body[8:12])] = true
			}
		}
		b = b[n:]
	}
}

// maxOggPage is the largest possible OGG page.
const maxOggPage = 27 + 255 + 255*255

// checkOgg walks every page of an OGG stream: capture pattern, version 0,
// a correct CRC, pages back to back to the end; the first page begins the
// stream with OpusHead (version 0.x, at least one channel), the second
// starts with OpusTags.
func checkOgg(f file, size int64, d *detection) (*Refusal, error) {
	bad := func(why string) *Refusal {
		return unsupported(d.detected, "detected audio/ogg but it is not a well-formed Opus stream: %s", why)
	}
	page := make([]byte, maxOggPage)
	off := int64(0)
	for n := 0; off < size; n++ {
		if size-off < 27 {
			return bad("a page header is cut off at the end"), nil
		}
		h := page[:27]
		if err := readAt(f, h, off); err != nil {
			return nil, err
		}
		if string(h[:4]) != "OggS" || h[4] != 0 {
			return bad("a page does not start with OggS version 0"), nil
		}
		segs := int64(h[26])
		if size-off < 27+segs {
			return bad("a segment table is cut off"), nil
		}
		if err := readAt(f, page[27:27+segs], off+27); err != nil {
			return nil, err
		}
		bodyLen := int64(0)
		for _, l := range page[27 : 27+segs] {
			bodyLen += int64(l)
		}
		total := 27 + segs + bodyLen
		if size-off < total {
			return bad("a page is cut off"), nil
		}
		p := page[:total]
		if err := readAt(f, p[27+segs:], off+27+segs); err != nil {
			return nil, err
		}
		if ogg.CRC(p) != binary.LittleEndian.Uint32(p[22:]) {
			return bad("a page's CRC is wrong"), nil
		}
		body := p[27+segs:]
		switch n {
		case 0:
			if p[5]&0x02 == 0 || len(body) < 19 || !bytes.HasPrefix(body, []byte("OpusHead")) || body[8]&0xF0 != 0 || body[9] == 0 {
				return bad("the first page holds no valid OpusHead"), nil
			}
		case 1:
			if !bytes.HasPrefix(body, []byte("OpusTags")) {
				return bad("the second page does not start with OpusTags"), nil
			}
		}
		off += total
	}
	return nil, nil
}
