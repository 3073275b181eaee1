package media

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// AMR storage format frame sizes (header byte included) by frame type, for
// narrow band and wide band (RFC 4867, section 5).
var (
	amrNBSizes = [16]int64{13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1}
	amrWBSizes = [16]int64{18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 1, 1, 1, 1, 1, 1}
)

// checkAMR wants the "#!AMR\n" or "#!AMR-WB\n" header, then frames back to
// back whose header bytes have their padding bits clear (the last frame
// may be cut short).
func checkAMR(f file, size int64, d *detection) (*Refusal, error) {
	head := make([]byte, min(size, 9))
	if err := readAt(f, head, 0); err != nil {
		return nil, err
	}
	sizes, off := amrNBSizes, int64(6)
	switch {
	case bytes.HasPrefix(head, []byte("#!AMR-WB\n")):
		sizes, off = amrWBSizes, 9
	case bytes.HasPrefix(head, []byte("#!AMR\n")):
	default:
		return unsupported(d.detected, "detected audio/amr without the #!AMR storage header"), nil
	}
	if off == size {
		return unsupported(d.detected, "detected audio/amr with no audio frames"), nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, off, size-off), 32*KB)
	for off < size {
		h, err := br.ReadByte()
		if err != nil {
			return nil, errCheck(err)
		}
		if h&0x83 != 0 {
			return unsupported(d.detected, "detected audio/amr but byte %d is not a frame header", off), nil
		}
		n := sizes[h>>3&0x0F]
		if _, err := br.Discard(int(min(n-1, size-off-1))); err != nil {
			return nil, errCheck(err)
		}
		off += n
	}
	return nil, nil
}

// checkADTS walks ADTS frames: each starts with the sync word and layer 0
// and is at least a header long (the last may be cut short).
func checkADTS(f file, size int64, d *detection) (*Refusal, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 32*KB)
	h := make([]byte, 7)
	for off := int64(0); off < size; {
		if size-off < 7 {
			return unsupported(d.detected, "detected audio/aac but the last ADTS header is cut off"), nil
		}
		if _, err := io.ReadFull(br, h); err != nil {
			return nil, errCheck(err)
		}
		n := int64(h[3]&0x03)<<11 | int64(h[4])<<3 | int64(h[5])>>5
		if h[0] != 0xFF || h[1]&0xF6 != 0xF0 || n < 7 {
			return unsupported(d.detected, "detected audio/aac but byte %d is not an ADTS frame header", off), nil
		}
		if _, err := br.Discard(int(min(n-7, size-off-7))); err != nil {
			return nil, errCheck(err)
		}
		off += n
	}
	return nil, nil
}

// MPEG audio tables: bitrates in kbit/s by [MPEG-1?][layer 1..3][index],
// sample rates by version.
var (
	mpegBitrates = [2][3][16]int64{
		{ // MPEG-2 and 2.5
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		},
		{ // MPEG-1
			{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
			{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		},
	}
	mpegRates = map[byte][3]int64{0: {11025, 12000, 8000}, 2: {22050, 24000, 16000}, 3: {44100, 48000, 32000}}
)

// mpegFrameLen returns the length of the MPEG audio frame whose header is
// h, 0 for a free-format frame, or -1 when h is no frame header.
func mpegFrameLen(h []byte) int64 {
	if len(h) < 4 || h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
		return -1
	}
	version, layerBits := h[1]>>3&0x03, h[1]>>1&0x03
	brIdx, srIdx, pad := h[2]>>4, h[2]>>2&0x03, int64(h[2]>>1&0x01)
	if version == 1 || layerBits == 0 || brIdx == 15 || srIdx == 3 {
		return -1
	}
	layer := 4 - int(layerBits) // 1, 2, 3
	mpeg1 := 0
	if version == 3 {
		mpeg1 = 1
	}
	br := mpegBitrates[mpeg1][layer-1][brIdx] * 1000
	sr := mpegRates[version][srIdx]
	switch {
	case br == 0:
		return 0
	case layer == 1:
		return (12*br/sr + pad) * 4
	case layer == 3 && mpeg1 == 0:
		return 72*br/sr + pad
	}
	return 144*br/sr + pad
}

// checkMP3 skips an ID3v2 tag and wants an MPEG audio frame header there,
// and another right after the first frame when the file goes on (an ID3v1
// tag of 128 bytes may end the file).
func checkMP3(f file, size int64, d *detection) (*Refusal, error) {
	h := make([]byte, 10)
	if err := readAt(f, h[:min(10, size)], 0); err != nil {
		return nil, err
	}
	off := int64(0)
	if bytes.HasPrefix(h, []byte("ID3")) && size >= 10 {
		off = 10 + (int64(h[6]&0x7F)<<21 | int64(h[7]&0x7F)<<14 | int64(h[8]&0x7F)<<7 | int64(h[9]&0x7F))
		if h[5]&0x10 != 0 {
			off += 10 // footer
		}
	}
	for frame := 0; frame < 2 && off < size; frame++ {
		if size-off < 4 {
			return unsupported(d.detected, "detected audio/mpeg but the file ends inside a frame header"), nil
		}
		if err := readAt(f, h[:4], off); err != nil {
			return nil, err
		}
		if frame == 1 && size-off == 128 && bytes.HasPrefix(h, []byte("TAG")) {
			return nil, nil
		}
		n := mpegFrameLen(h[:4])
		if n < 0 {
			return unsupported(d.detected, "detected audio/mpeg but byte %d is not an MPEG audio frame header", off), nil
		}
		if n == 0 {
			return nil, nil // free format: frame boundaries are not computable
		}
		off += n
	}
	return nil, nil
}

// errCheck wraps a read error of the spooled file.
func errCheck(err error) error {
	return fmt.Errorf("%w: %w", errCheckIO, err)
}
