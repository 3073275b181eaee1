package media

// Image dimension limits. A pixel flood is a small file whose header claims
// billions of pixels: whoever decodes it (an agent's browser, WhatsApp)
// allocates width × height × 4 bytes. The intake never decodes images; it
// reads the dimensions from the header and refuses what no photo needs.
const (
	maxImageSide   = 16384
	maxImagePixels = 64 << 20 // about 67 megapixels: 256 MiB as RGBA
)

// checkImageSize refuses declared dimensions of zero or beyond the limits.
func checkImageSize(w, h int64, d *detection) *Refusal {
	if w <= 0 || h <= 0 || w > maxImageSide || h > maxImageSide || w*h > maxImagePixels {
		return unsupported(d.detected, "detected %s of %d×%d pixels; images may have at most %d pixels a side and %d pixels in all",
			d.detected, w, h, maxImageSide, maxImagePixels)
	}
	return nil
}

// checkPNG reads the dimensions from IHDR, which must be the first chunk.
func checkPNG(f file, size int64, d *detection) (*Refusal, error) {
	if size < 8+8+13+4 {
		return unsupported(d.detected, "detected %s but it is truncated before its header", d.detected), nil
	}
	b := make([]byte, 24)
	if err := readAt(f, b, 0); err != nil {
		return nil, err
	}
	if string(b[12:16]) != "IHDR" || be32(b, 8) != 13 {
		return unsupported(d.detected, "detected %s but its first chunk is not IHDR", d.detected), nil
	}
	return checkImageSize(be32(b, 16), be32(b, 20), d), nil
}

// checkJPEG walks the marker segments to the first start-of-frame and reads
// the dimensions there. A scan or the end before any frame header is refused.
func checkJPEG(f file, size int64, d *detection) (*Refusal, error) {
	noFrame := unsupported(d.detected, "detected %s but it has no frame header before its image data", d.detected)
	b := make([]byte, 9)
	for off := int64(2); off+4 <= size; {
		if err := readAt(f, b[:4], off); err != nil {
			return nil, err
		}
		if b[0] != 0xFF {
			return noFrame, nil
		}
		m := b[1]
		switch {
		case m == 0xFF: // fill byte
			off++
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // no length
			off += 2
			continue
		case m == 0xDA || m == 0xD9: // scan or end before a frame
			return noFrame, nil
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			if off+9 > size {
				return noFrame, nil
			}
			if err := readAt(f, b, off); err != nil {
				return nil, err
			}
			return checkImageSize(int64(b[7])<<8|int64(b[8]), int64(b[5])<<8|int64(b[6]), d), nil
		}
		off += 2 + (int64(b[2])<<8 | int64(b[3]))
	}
	return noFrame, nil
}
