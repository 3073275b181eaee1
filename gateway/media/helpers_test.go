package media_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"

	"github.com/wacc/engine/gateway/media/samples"
)

// pngWithText returns png with a tEXt chunk holding text right after IHDR.
func pngWithText(png []byte, text string) []byte {
	const afterIHDR = 8 + 8 + 13 + 4
	data := append([]byte("Comment\x00"), text...)
	var c []byte
	c = binary.BigEndian.AppendUint32(c, uint32(len(data)))
	c = append(c, "tEXt"...)
	c = append(c, data...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	out := append([]byte(nil), png[:afterIHDR]...)
	out = append(out, c...)
	return append(out, png[afterIHDR:]...)
}

// pdfWith returns samples.PDF() with extra entries in its catalog (the
// cross-reference offsets no longer fit, which the intake does not check).
func pdfWith(extra string) []byte {
	return bytes.Replace(samples.PDF(), []byte("/Pages 2 0 R >>"), []byte("/Pages 2 0 R "+extra+" >>"), 1)
}

func openDir(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names, nil
}

// pngSized returns png with its IHDR claiming w×h pixels (CRC fixed): a
// pixel flood when large.
func pngSized(png []byte, w, h uint32) []byte {
	out := append([]byte(nil), png...)
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

// jpegSized returns jpeg with its first frame header claiming w×h pixels.
func jpegSized(jpeg []byte, w, h uint16) []byte {
	out := append([]byte(nil), jpeg...)
	for i := 2; i+9 <= len(out); {
		m := out[i+1]
		if m == 0xC0 || m == 0xC2 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + int(binary.BigEndian.Uint16(out[i+2:]))
	}
	panic("no frame header")
}

// zipBombDOCX returns a DOCX with an extra entry of n zero bytes, deflated
// about a thousandfold.
func zipBombDOCX(n int) []byte {
	src := samples.DOCX()
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		panic(err)
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			panic(err)
		}
	}
	w, _ := zw.Create("word/media/image1.bin")
	_, _ = w.Write(make([]byte, n))
	_ = zw.Close()
	return b.Bytes()
}
