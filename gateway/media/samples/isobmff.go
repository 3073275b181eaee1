package samples

import "encoding/binary"

// MP4 returns an ISO BMFF video file: ftyp (isom), then moov with one
// video track (mvhd, trak, tkhd, mdia, mdhd, hdlr "vide", minf with empty
// sample tables), then a small mdat. It is structurally valid; the track
// holds no samples.
func MP4() []byte { return MP4OfSize(0) }

// MP4OfSize returns MP4() with its mdat grown so the file is exactly n
// bytes; when n is smaller than MP4() it returns MP4().
func MP4OfSize(n int) []byte {
	return isoFile(n, ftyp("isom", 0x200, "isom", "iso2", "avc1", "mp41"), "vide")
}

// M4A returns an ISO BMFF audio file (ftyp "M4A ", one sound track).
func M4A() []byte {
	return isoFile(0, ftyp("M4A ", 0, "M4A ", "isom", "mp42"), "soun")
}

// ThreeGP returns a 3GPP video file (ftyp "3gp4", one video track).
func ThreeGP() []byte {
	return isoFile(0, ftyp("3gp4", 0x200, "isom", "3gp4"), "vide")
}

func isoFile(n int, ftypBox []byte, handler string) []byte {
	moov := box("moov", mvhd(), box("trak", tkhd(handler), box("mdia", mdhd(), hdlr(handler), minf(handler))))
	head := len(ftypBox) + len(moov)
	payload := []byte("sample media data")
	if n > head+8+len(payload) {
		payload = letters(n - head - 8)
	}
	out := make([]byte, 0, head+8+len(payload))
	out = append(out, ftypBox...)
	out = append(out, moov...)
	return append(out, box("mdat", payload)...)
}

func box(typ string, payloads ...[]byte) []byte {
	size := 8
	for _, p := range payloads {
		size += len(p)
	}
	out := make([]byte, 0, size)
	out = binary.BigEndian.AppendUint32(out, uint32(size))
	out = append(out, typ...)
	for _, p := range payloads {
		out = append(out, p...)
	}
	return out
}

// fullBox is a box whose payload starts with a version byte and 24 bits of
// flags.
func fullBox(typ string, version byte, flags uint32, payload []byte) []byte {
	head := []byte{version, byte(flags >> 16), byte(flags >> 8), byte(flags)}
	return box(typ, head, payload)
}

func ftyp(major string, minor uint32, compatible ...string) []byte {
	p := append([]byte(major), binary.BigEndian.AppendUint32(nil, minor)...)
	for _, c := range compatible {
		p = append(p, c...)
	}
	return box("ftyp", p)
}

// unityMatrix is the identity transformation of mvhd and tkhd.
func unityMatrix() []byte {
	var m []byte
	for _, v := range []uint32{0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000} {
		m = binary.BigEndian.AppendUint32(m, v)
	}
	return m
}

func mvhd() []byte {
	var p []byte
	p = binary.BigEndian.AppendUint32(p, 0)          // creation time
	p = binary.BigEndian.AppendUint32(p, 0)          // modification time
	p = binary.BigEndian.AppendUint32(p, 1000)       // timescale
	p = binary.BigEndian.AppendUint32(p, 1000)       // duration: one second
	p = binary.BigEndian.AppendUint32(p, 0x00010000) // rate 1.0
	p = binary.BigEndian.AppendUint16(p, 0x0100)     // volume 1.0
	p = append(p, make([]byte, 10)...)               // reserved
	p = append(p, unityMatrix()...)
	p = append(p, make([]byte, 24)...)      // pre-defined
	p = binary.BigEndian.AppendUint32(p, 2) // next track id
	return fullBox("mvhd", 0, 0, p)
}

func tkhd(handler string) []byte {
	var p []byte
	p = binary.BigEndian.AppendUint32(p, 0)    // creation time
	p = binary.BigEndian.AppendUint32(p, 0)    // modification time
	p = binary.BigEndian.AppendUint32(p, 1)    // track id
	p = binary.BigEndian.AppendUint32(p, 0)    // reserved
	p = binary.BigEndian.AppendUint32(p, 1000) // duration
	p = append(p, make([]byte, 8)...)          // reserved
	p = binary.BigEndian.AppendUint16(p, 0)    // layer
	p = binary.BigEndian.AppendUint16(p, 0)    // alternate group
	volume, width, height := uint16(0), uint32(16<<16), uint32(16<<16)
	if handler == "soun" {
		volume, width, height = 0x0100, 0, 0
	}
	p = binary.BigEndian.AppendUint16(p, volume)
	p = binary.BigEndian.AppendUint16(p, 0) // reserved
	p = append(p, unityMatrix()...)
	p = binary.BigEndian.AppendUint32(p, width)
	p = binary.BigEndian.AppendUint32(p, height)
	return fullBox("tkhd", 0, 3, p) // enabled, in movie
}

func mdhd() []byte {
	var p []byte
	p = binary.BigEndian.AppendUint32(p, 0)      // creation time
	p = binary.BigEndian.AppendUint32(p, 0)      // modification time
	p = binary.BigEndian.AppendUint32(p, 1000)   // timescale
	p = binary.BigEndian.AppendUint32(p, 1000)   // duration
	p = binary.BigEndian.AppendUint16(p, 0x55C4) // language "und"
	p = binary.BigEndian.AppendUint16(p, 0)      // pre-defined
	return fullBox("mdhd", 0, 0, p)
}

func hdlr(handler string) []byte {
	p := make([]byte, 4) // pre-defined
	p = append(p, handler...)
	p = append(p, make([]byte, 12)...) // reserved
	p = append(p, "sample\x00"...)
	return fullBox("hdlr", 0, 0, p)
}

func minf(handler string) []byte {
	header := fullBox("vmhd", 0, 1, make([]byte, 8)) // graphics mode, opcolor
	if handler == "soun" {
		header = fullBox("smhd", 0, 0, make([]byte, 4)) // balance, reserved
	}
	dref := fullBox("dref", 0, 0, append(binary.BigEndian.AppendUint32(nil, 1), fullBox("url ", 0, 1, nil)...))
	empty := binary.BigEndian.AppendUint32(nil, 0) // entry count 0
	stbl := box("stbl",
		fullBox("stsd", 0, 0, empty),
		fullBox("stts", 0, 0, empty),
		fullBox("stsc", 0, 0, empty),
		fullBox("stsz", 0, 0, append(binary.BigEndian.AppendUint32(nil, 0), empty...)), // sample size, count
		fullBox("stco", 0, 0, empty),
	)
	return box("minf", header, box("dinf", dref), stbl)
}
