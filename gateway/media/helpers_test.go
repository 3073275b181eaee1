package media_test

import (
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
