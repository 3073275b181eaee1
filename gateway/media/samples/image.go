package samples

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// PNG returns a 16×16 RGBA gradient encoded by image/png.
func PNG() []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, gradient(16, 16)); err != nil {
		panic("samples: encode png: " + err.Error()) // cannot happen with an in-memory image
	}
	return b.Bytes()
}

// JPEG returns a 16×16 gradient encoded by image/jpeg.
func JPEG() []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, gradient(16, 16), &jpeg.Options{Quality: 80}); err != nil {
		panic("samples: encode jpeg: " + err.Error())
	}
	return b.Bytes()
}

// PNGOfSize returns PNG() padded to exactly n bytes with a tEXt chunk before
// IEND (a Comment of letters); when n is too small for the chunk (under
// len(PNG())+13) it returns PNG() unpadded.
func PNGOfSize(n int) []byte {
	base := PNG()
	const overhead = 12 + len("Comment") + 1 // length, type, CRC; keyword and its NUL
	if n < len(base)+overhead {
		return base
	}
	iend := len(base) - 12
	data := append([]byte("Comment\x00"), letters(n-len(base)-overhead)...)
	out := make([]byte, 0, n)
	out = append(out, base[:iend]...)
	out = appendPNGChunk(out, "tEXt", data)
	return append(out, base[iend:]...)
}

// JPEGOfSize returns JPEG() padded to exactly n bytes with COM (comment)
// segments right after SOI; when n is too small for one segment (under
// len(JPEG())+4) it returns JPEG() unpadded.
func JPEGOfSize(n int) []byte {
	base := JPEG()
	pad := n - len(base)
	if pad < 4 {
		return base
	}
	out := make([]byte, 0, n)
	out = append(out, base[:2]...) // SOI
	for pad > 0 {
		// A segment is FF FE, a 2-byte length counting itself, then the
		// comment; its length field caps it at 65535.
		seg := min(pad, 65535+2)
		if pad-seg > 0 && pad-seg < 4 {
			seg = pad - 4 // leave room for a last segment
		}
		body := seg - 4
		out = append(out, 0xFF, 0xFE)
		out = binary.BigEndian.AppendUint16(out, uint16(body+2))
		out = append(out, letters(body)...)
		pad -= seg
	}
	return append(out, base[2:]...)
}

func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 0x80, A: 0xFF})
		}
	}
	return img
}

func appendPNGChunk(out []byte, typ string, data []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	start := len(out)
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}

// letters returns n bytes cycling through a..z: padding that is plain
// Latin-1 text and contains no signature of another format.
func letters(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}
