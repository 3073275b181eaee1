package samples

import "encoding/binary"

// HTML returns a small HTML page with a script: what an upload named
// photo.png must not smuggle in.
func HTML() []byte {
	return []byte("<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(document.cookie)</script></body></html>\n")
}

// SVGWithScript returns an SVG image that runs a script when opened.
func SVGWithScript() []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><script>alert(document.domain)</script><rect width="16" height="16" fill="red"/></svg>
`)
}

// ELF returns the header of a 64-bit x86-64 Linux executable followed by a
// few bytes of code (an exit(0) system call).
func ELF() []byte {
	h := []byte{0x7F, 'E', 'L', 'F', 2, 1, 1, 0}  // 64-bit, little endian, version 1, System V
	h = append(h, make([]byte, 8)...)             // padding
	h = binary.LittleEndian.AppendUint16(h, 2)    // executable
	h = binary.LittleEndian.AppendUint16(h, 0x3E) // x86-64
	h = binary.LittleEndian.AppendUint32(h, 1)    // version
	h = binary.LittleEndian.AppendUint64(h, 0x400078)
	h = binary.LittleEndian.AppendUint64(h, 64) // program headers
	h = binary.LittleEndian.AppendUint64(h, 0)  // section headers
	h = binary.LittleEndian.AppendUint32(h, 0)  // flags
	h = binary.LittleEndian.AppendUint16(h, 64) // header size
	h = binary.LittleEndian.AppendUint16(h, 56) // program header size
	h = binary.LittleEndian.AppendUint16(h, 1)  // one program header
	h = binary.LittleEndian.AppendUint16(h, 64) // section header size
	h = binary.LittleEndian.AppendUint16(h, 0)
	h = binary.LittleEndian.AppendUint16(h, 0)
	// mov edi, 0; mov eax, 60; syscall
	return append(h, 0xBF, 0, 0, 0, 0, 0xB8, 0x3C, 0, 0, 0, 0x0F, 0x05)
}

// ZIP returns a plain ZIP archive (a text file and a script) without the
// parts of an Office document: what an upload named letter.docx must not be.
func ZIP() []byte {
	return zipOf([]zipPart{
		{"readme.txt", "", "just an archive\n"},
		{"run.sh", "", "#!/bin/sh\necho hi\n"},
	})
}

// JPEGZipPolyglot returns JPEG() with a ZIP archive appended: an image to a
// viewer, an archive to an unzipper (its end-of-central-directory record is
// at the end of the file, where ZIP readers look).
func JPEGZipPolyglot() []byte {
	return append(JPEG(), ZIP()...)
}
