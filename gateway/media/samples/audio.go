package samples

import (
	"encoding/binary"

	"github.com/wacc/engine/gateway/media/ogg"
)

// Ogg page header flags.
const (
	oggBOS = 0x02
	oggEOS = 0x04
)

// OggOpus returns a mono Opus voice note as WhatsApp's apps record them: an
// OGG stream whose first page holds OpusHead, the second OpusTags, the last
// ten 20 ms packets of silence; every page has a correct CRC.
func OggOpus() []byte {
	head := []byte("OpusHead")
	head = append(head, 1, 1)                            // version, one channel
	head = binary.LittleEndian.AppendUint16(head, 312)   // pre-skip
	head = binary.LittleEndian.AppendUint32(head, 48000) // input sample rate
	head = binary.LittleEndian.AppendUint16(head, 0)     // output gain
	head = append(head, 0)                               // channel mapping family
	tags := []byte("OpusTags")
	vendor := "wacc samples"
	tags = binary.LittleEndian.AppendUint32(tags, uint32(len(vendor)))
	tags = append(tags, vendor...)
	tags = binary.LittleEndian.AppendUint32(tags, 0) // no user comments
	// A CELT-only fullband 20 ms mono frame (TOC 0xF8) of silence.
	var audio [][]byte
	for range 10 {
		audio = append(audio, []byte{0xF8, 0xFF, 0xFE})
	}
	const serial = 0x4711
	out := oggPage(oggBOS, 0, serial, 0, [][]byte{head})
	out = append(out, oggPage(0, 0, serial, 1, [][]byte{tags})...)
	return append(out, oggPage(oggEOS, 312+10*960, serial, 2, audio)...)
}

// OggVorbis returns the first two pages of an OGG-Vorbis stream (the
// identification and comment headers): an audio/ogg file that is not a
// voice note WhatsApp accepts.
func OggVorbis() []byte {
	id := []byte("\x01vorbis")
	id = binary.LittleEndian.AppendUint32(id, 0)     // version
	id = append(id, 1)                               // channels
	id = binary.LittleEndian.AppendUint32(id, 44100) // sample rate
	id = binary.LittleEndian.AppendUint32(id, 0)     // bitrate maximum
	id = binary.LittleEndian.AppendUint32(id, 96000) // bitrate nominal
	id = binary.LittleEndian.AppendUint32(id, 0)     // bitrate minimum
	id = append(id, 0xB8, 1)                         // block sizes 256/2048, framing
	comment := []byte("\x03vorbis")
	comment = binary.LittleEndian.AppendUint32(comment, 12)
	comment = append(comment, "wacc samples"...)
	comment = binary.LittleEndian.AppendUint32(comment, 0)
	comment = append(comment, 1) // framing
	const serial = 0x0815
	out := oggPage(oggBOS, 0, serial, 0, [][]byte{id})
	return append(out, oggPage(oggEOS, 0, serial, 1, [][]byte{comment})...)
}

// oggPage builds one page (RFC 3533) holding whole packets.
func oggPage(flags byte, granule uint64, serial, seq uint32, packets [][]byte) []byte {
	var lacing, body []byte
	for _, p := range packets {
		n := len(p)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
		body = append(body, p...)
	}
	out := []byte("OggS")
	out = append(out, 0, flags)
	out = binary.LittleEndian.AppendUint64(out, granule)
	out = binary.LittleEndian.AppendUint32(out, serial)
	out = binary.LittleEndian.AppendUint32(out, seq)
	out = binary.LittleEndian.AppendUint32(out, 0) // CRC, filled below
	out = append(out, byte(len(lacing)))
	out = append(out, lacing...)
	out = append(out, body...)
	binary.LittleEndian.PutUint32(out[22:], OggCRC(out))
	return out
}

// OggCRC is the checksum of an OGG page (see ogg.CRC).
func OggCRC(page []byte) uint32 { return ogg.CRC(page) }

// AMR returns one second of AMR-NB (the "#!AMR\n" storage format): fifty
// 12.2 kbit/s frames.
func AMR() []byte {
	out := []byte("#!AMR\n")
	for range 50 {
		// Frame header: FT 7 (12.2 kbit/s), Q set; 31 bytes of speech bits.
		out = append(out, 0x3C)
		out = append(out, make([]byte, 31)...)
	}
	return out
}

// AAC returns ADTS-framed AAC-LC, mono, 44.1 kHz: ten frames of silence.
func AAC() []byte {
	silence := []byte{0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80}
	var out []byte
	for range 10 {
		n := 7 + len(silence) // frame length counts the header
		out = append(out,
			0xFF, 0xF1, // sync, MPEG-4, layer 0, no CRC
			0x01<<6|4<<2, // profile LC (1), 44.1 kHz (4), private 0, channel config high bit 0
			1<<6|byte(n>>11)&0x03,
			byte(n>>3),
			byte(n&0x07)<<5|0x1F, // frame length low bits, buffer fullness 0x7FF
			0xFC,                 // buffer fullness, one raw data block
		)
		out = append(out, silence...)
	}
	return out
}

// MP3 returns MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono: ten frames of
// silence (zero side information and main data).
func MP3() []byte {
	const frameLen = 144 * 128000 / 44100 // 417 bytes, no padding
	var out []byte
	for range 10 {
		frame := make([]byte, frameLen)
		copy(frame, []byte{0xFF, 0xFB, 0x90, 0xC4}) // sync, MPEG-1 L3 no CRC; 128k, 44.1k; mono
		out = append(out, frame...)
	}
	return out
}
