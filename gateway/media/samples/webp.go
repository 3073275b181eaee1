package samples

import "encoding/binary"

// WebP flags of the VP8X chunk.
const (
	vp8xAnimation = 0x02
	vp8xXMP       = 0x04
)

// WebP returns a static 16×16 lossless WebP (RIFF, one VP8L chunk).
func WebP() []byte {
	return riff(chunk("VP8L", vp8l(16, 16, 0xFF3399CC)))
}

// WebPAnimated returns a 16×16 animated WebP: VP8X with the animation flag,
// ANIM (loop forever), and two ANMF frames of 100 ms holding VP8L images.
func WebPAnimated() []byte {
	return riff(animatedChunks(0)...)
}

// WebPOfSize returns a WebP (animated or static) padded with an XMP
// metadata chunk to exactly n bytes, rounded up to even (RIFF chunks are
// even); when n is too small for the chunk it returns the unpadded file.
func WebPOfSize(n int, animated bool) []byte {
	n += n % 2
	if animated {
		base := len(riff(animatedChunks(vp8xXMP)...))
		if n < base+8 {
			return WebPAnimated()
		}
		return riff(append(animatedChunks(vp8xXMP), chunk("XMP ", letters(n-base-8)))...)
	}
	head := chunk("VP8X", vp8x(vp8xXMP, 16, 16))
	img := chunk("VP8L", vp8l(16, 16, 0xFF3399CC))
	base := len(riff(head, img))
	if n < base+8 {
		return WebP()
	}
	return riff(head, img, chunk("XMP ", letters(n-base-8)))
}

func animatedChunks(extraFlags byte) [][]byte {
	anim := make([]byte, 6) // background colour (4), loop count (2): 0 loops forever
	binary.LittleEndian.PutUint32(anim, 0xFFFFFFFF)
	return [][]byte{
		chunk("VP8X", vp8x(vp8xAnimation|extraFlags, 16, 16)),
		chunk("ANIM", anim),
		chunk("ANMF", anmf(16, 16, 100, chunk("VP8L", vp8l(16, 16, 0xFF3399CC)))),
		chunk("ANMF", anmf(16, 16, 100, chunk("VP8L", vp8l(16, 16, 0xFFCC3399)))),
	}
}

// riff wraps chunks in "RIFF" size "WEBP".
func riff(chunks ...[]byte) []byte {
	size := 4
	for _, c := range chunks {
		size += len(c)
	}
	out := make([]byte, 0, 8+size)
	out = append(out, "RIFF"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(size))
	out = append(out, "WEBP"...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}

// chunk is FourCC, little-endian payload size, payload and a pad byte when
// the size is odd.
func chunk(fourCC string, payload []byte) []byte {
	out := make([]byte, 0, 8+len(payload)+1)
	out = append(out, fourCC...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(payload)))
	out = append(out, payload...)
	if len(payload)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

func vp8x(flags byte, w, h int) []byte {
	out := []byte{flags, 0, 0, 0}
	out = appendUint24(out, w-1)
	return appendUint24(out, h-1)
}

func anmf(w, h, durationMS int, frame []byte) []byte {
	out := appendUint24(nil, 0) // X offset / 2
	out = appendUint24(out, 0)  // Y offset / 2
	out = appendUint24(out, w-1)
	out = appendUint24(out, h-1)
	out = appendUint24(out, durationMS)
	out = append(out, 0) // alpha-blend, no dispose
	return append(out, frame...)
}

func appendUint24(out []byte, v int) []byte {
	return append(out, byte(v), byte(v>>8), byte(v>>16))
}

// vp8l returns a VP8L bitstream of a w×h image of one ARGB colour: no
// transforms, no colour cache, no meta prefix codes, and five "simple"
// prefix codes of one symbol each (green, red, blue, alpha, distance), so
// every pixel takes zero bits (RFC 9649, sections 3 to 5).
func vp8l(w, h int, argb uint32) []byte {
	var bw bitWriter
	bw.write(0x2f, 8) // signature
	bw.write(uint32(w-1), 14)
	bw.write(uint32(h-1), 14)
	bw.write(1, 1) // alpha is used
	bw.write(0, 3) // version
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no colour cache
	bw.write(0, 1) // no meta prefix codes
	for _, sym := range []uint32{argb >> 8 & 0xFF, argb >> 16 & 0xFF, argb & 0xFF, argb >> 24, 0} {
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // 8-bit symbol
		bw.write(sym, 8)
	}
	return bw.bytes()
}

// bitWriter packs values least significant bit first, as VP8L reads them.
type bitWriter struct {
	buf   []byte
	nbits uint
}

func (b *bitWriter) write(v uint32, n uint) {
	for i := range n {
		if b.nbits%8 == 0 {
			b.buf = append(b.buf, 0)
		}
		if v>>i&1 == 1 {
			b.buf[len(b.buf)-1] |= 1 << (b.nbits % 8)
		}
		b.nbits++
	}
}

func (b *bitWriter) bytes() []byte { return b.buf }
