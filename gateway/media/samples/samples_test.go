package samples_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"regexp"
	"strconv"
	"testing"

	"github.com/gabriel-vasile/mimetype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/webp"

	"github.com/wacc/engine/gateway/media/samples"
)

// TestDetectedAsIntended: the type detector names every sample as intended
// (mimetype's own name; gateway/media maps audio/x-m4a to audio/mp4 and
// keeps only the base of text/plain; charset=utf-8).
func TestDetectedAsIntended(t *testing.T) {
	detected := map[string]string{
		"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "webp-animated": "image/webp",
		"pdf": "application/pdf", "docx": samples.MimeDOCX, "xlsx": samples.MimeXLSX, "pptx": samples.MimePPTX,
		"mp4": "video/mp4", "m4a": "audio/x-m4a", "3gp": "video/3gpp", "ogg-opus": "audio/ogg",
		"amr": "audio/amr", "aac": "audio/aac", "mp3": "audio/mpeg", "text": "text/plain; charset=utf-8",
	}
	accepted := samples.Accepted()
	require.Len(t, accepted, len(detected))
	for name, s := range accepted {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, detected[name], mimetype.Detect(s.Data).String())
			assert.Equal(t, s.Data, samples.Accepted()[name].Data, "deterministic")
		})
	}
}

func TestHostileDetectedAsWhatTheyAre(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"html", samples.HTML(), "text/html; charset=utf-8"},
		{"svg", samples.SVGWithScript(), "image/svg+xml"},
		{"elf", samples.ELF(), "application/x-executable"},
		{"zip", samples.ZIP(), "application/zip"},
		{"polyglot starts as a jpeg", samples.JPEGZipPolyglot(), "image/jpeg"},
		{"ogg vorbis", samples.OggVorbis(), "audio/ogg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, mimetype.Detect(tc.data).String())
		})
	}
}

func TestImagesDecode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   []byte
		decode func([]byte) (int, error)
	}{
		{"png", samples.PNG(), decodeWith(png.Decode)},
		{"png padded", samples.PNGOfSize(300_000), decodeWith(png.Decode)},
		{"jpeg", samples.JPEG(), decodeWith(jpeg.Decode)},
		{"jpeg padded across segments", samples.JPEGOfSize(200_001), decodeWith(jpeg.Decode)},
		{"webp", samples.WebP(), decodeWith(webp.Decode)},
		{"webp padded", samples.WebPOfSize(102_400, false), decodeWith(webp.Decode)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := tc.decode(tc.data)
			require.NoError(t, err)
			assert.Equal(t, 16, w)
		})
	}
}

func decodeWith(decode func(io.Reader) (image.Image, error)) func([]byte) (int, error) {
	return func(b []byte) (int, error) {
		img, err := decode(bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		return img.Bounds().Dx(), nil
	}
}

func TestOfSizeIsExact(t *testing.T) {
	for _, n := range []int{1000, 5*1024*1024 + 1, 1 << 20} {
		assert.Len(t, samples.PNGOfSize(n), n, "png %d", n)
		assert.Len(t, samples.JPEGOfSize(n), n, "jpeg %d", n)
		assert.Len(t, samples.MP4OfSize(n), n, "mp4 %d", n)
	}
	for _, n := range []int{1000, 102_400, 102_402, 512_000} {
		assert.Len(t, samples.WebPOfSize(n, false), n, "webp %d", n)
		assert.Len(t, samples.WebPOfSize(n, true), n, "animated webp %d", n)
	}
	assert.Len(t, samples.WebPOfSize(1001, false), 1002, "odd sizes round up")
	assert.Equal(t, samples.PNG(), samples.PNGOfSize(10), "too small: unpadded")
}

// TestWebPStructure walks the RIFF chunks: sizes add up, a static file is
// one VP8L chunk (or VP8X + VP8L + XMP), an animated one has VP8X with the
// animation flag, ANIM and two ANMF frames, each holding a VP8L image the
// decoder accepts.
func TestWebPStructure(t *testing.T) {
	chunks := func(t *testing.T, b []byte) map[string][][]byte {
		t.Helper()
		require.Equal(t, "RIFF", string(b[:4]))
		require.Equal(t, "WEBP", string(b[8:12]))
		require.EqualValues(t, len(b)-8, binary.LittleEndian.Uint32(b[4:]))
		out := map[string][][]byte{}
		for p := 12; p < len(b); {
			size := int(binary.LittleEndian.Uint32(b[p+4:]))
			out[string(b[p:p+4])] = append(out[string(b[p:p+4])], b[p+8:p+8+size])
			p += 8 + size + size%2
		}
		return out
	}
	static := chunks(t, samples.WebP())
	assert.Len(t, static["VP8L"], 1)
	assert.Len(t, static, 1)

	anim := chunks(t, samples.WebPAnimated())
	require.Len(t, anim["VP8X"], 1)
	assert.Equal(t, byte(0x02), anim["VP8X"][0][0]&0x02, "animation flag")
	assert.Len(t, anim["ANIM"], 1)
	require.Len(t, anim["ANMF"], 2)
	for _, frame := range anim["ANMF"] {
		img := frame[16:] // offsets, size, duration, flags
		require.Equal(t, "VP8L", string(img[:4]))
		// Wrap the frame's image as a file of its own and decode it.
		file := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(img)))...)
		file = append(append(file, "WEBP"...), img...)
		_, err := webp.Decode(bytes.NewReader(file))
		require.NoError(t, err)
	}
	padded := chunks(t, samples.WebPOfSize(512_000, true))
	assert.Equal(t, byte(0x06), padded["VP8X"][0][0], "animation and XMP flags")
	assert.Len(t, padded["XMP "], 1)
}

func TestOfficeZips(t *testing.T) {
	for _, tc := range []struct {
		name, main string
		data       []byte
	}{
		{"docx", "word/document.xml", samples.DOCX()},
		{"xlsx", "xl/workbook.xml", samples.XLSX()},
		{"pptx", "ppt/presentation.xml", samples.PPTX()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zr, err := zip.NewReader(bytes.NewReader(tc.data), int64(len(tc.data)))
			require.NoError(t, err)
			names := map[string]bool{}
			for _, f := range zr.File {
				names[f.Name] = true
			}
			assert.Equal(t, "[Content_Types].xml", zr.File[0].Name)
			assert.True(t, names["_rels/.rels"])
			assert.True(t, names[tc.main])
		})
	}
}

// TestPDFCrossReferences: every xref entry points at its object, and
// startxref at the table.
func TestPDFCrossReferences(t *testing.T) {
	pdf := samples.PDF()
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(pdf)
	require.NotNil(t, m)
	xref, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(pdf[xref:], []byte("xref\n0 6\n")))
	entries := regexp.MustCompile(`(\d{10}) 00000 n \n`).FindAllSubmatch(pdf[xref:], -1)
	require.Len(t, entries, 5)
	for i, e := range entries {
		off, err := strconv.Atoi(string(e[1]))
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(pdf[off:], []byte(strconv.Itoa(i+1)+" 0 obj\n")), "object %d", i+1)
	}
}

func TestOggPages(t *testing.T) {
	assert.Equal(t, uint32(0x89A1897F), samples.OggCRC([]byte("123456789")), "CRC-32 poly 04C11DB7, init 0, no xor-out")
	for _, tc := range []struct {
		name  string
		data  []byte
		first string
		pages int
	}{
		{"opus", samples.OggOpus(), "OpusHead", 3},
		{"vorbis", samples.OggVorbis(), "\x01vorbis", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, pages := tc.data, 0
			for len(b) > 0 {
				require.Equal(t, "OggS", string(b[:4]))
				nseg := int(b[26])
				size := 27 + nseg
				for _, l := range b[27 : 27+nseg] {
					size += int(l)
				}
				assert.Equal(t, binary.LittleEndian.Uint32(b[22:]), samples.OggCRC(b[:size]), "page %d crc", pages)
				assert.EqualValues(t, pages, binary.LittleEndian.Uint32(b[18:]), "sequence")
				if pages == 0 {
					assert.Equal(t, byte(0x02), b[5], "first page begins the stream")
					assert.True(t, bytes.HasPrefix(b[27+nseg:], []byte(tc.first)))
				}
				b, pages = b[size:], pages+1
			}
			assert.Equal(t, tc.pages, pages)
		})
	}
}

func TestISOBoxes(t *testing.T) {
	for _, tc := range []struct {
		name, brand string
		data        []byte
	}{
		{"mp4", "isom", samples.MP4()},
		{"m4a", "M4A ", samples.M4A()},
		{"3gp", "3gp4", samples.ThreeGP()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var top []string
			for b := tc.data; len(b) > 0; {
				size := int(binary.BigEndian.Uint32(b))
				require.GreaterOrEqual(t, size, 8)
				require.LessOrEqual(t, size, len(b))
				top = append(top, string(b[4:8]))
				b = b[size:]
			}
			assert.Equal(t, []string{"ftyp", "moov", "mdat"}, top)
			assert.Equal(t, tc.brand, string(tc.data[8:12]))
		})
	}
}

func TestForWhatsAppType(t *testing.T) {
	for _, tc := range []struct {
		waType string
		voice  bool
		want   string
	}{
		{"image", false, "image/jpeg"},
		{"audio", true, "audio/ogg"},
		{"audio", false, "audio/mpeg"},
		{"video", false, "video/mp4"},
		{"document", false, "application/pdf"},
		{"sticker", false, "image/webp"},
	} {
		s, err := samples.ForWhatsAppType(tc.waType, tc.voice)
		require.NoError(t, err)
		assert.Equal(t, tc.want, s.MimeType, tc.waType)
	}
	_, err := samples.ForWhatsAppType("location", false)
	assert.Error(t, err)
}
