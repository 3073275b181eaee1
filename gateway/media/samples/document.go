package samples

import (
	"archive/zip"
	"bytes"
	"fmt"
)

// The Office Open XML types, as WhatsApp (and IANA) name them.
const (
	MimeDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	MimeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	MimePPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
)

// Text returns a few lines of UTF-8 plain text.
func Text() []byte {
	return []byte("Order 4711\nReceipt total: 42.00 EUR\nThank you — merci — धन्यवाद\n")
}

// PDF returns a one-page PDF 1.4 that says "Invoice 4711", with a correct
// cross-reference table and trailer.
func PDF() []byte {
	content := "BT /F1 18 Tf 20 100 Td (Invoice 4711) Tj ET"
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// DOCX returns a one-paragraph Word document.
func DOCX() []byte {
	return officeZip("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
		`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Invoice 4711</w:t></w:r></w:p></w:body></w:document>`,
		nil)
}

// XLSX returns a workbook of one sheet holding one number.
func XLSX() []byte {
	return officeZip("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
		`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`,
		[]zipPart{
			{"xl/_rels/workbook.xml.rels", "", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
			{"xl/worksheets/sheet1.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1"><v>42</v></c></row></sheetData></worksheet>`},
		})
}

// PPTX returns a presentation package with its main part and no slides:
// header-correct (an Office ZIP with [Content_Types].xml, _rels/.rels and
// ppt/presentation.xml), though PowerPoint wants masters and a theme to
// open it.
func PPTX() []byte {
	return officeZip("ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
		`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>`,
		nil)
}

// zipPart is one entry of a ZIP; contentType, when set, is declared for it
// in [Content_Types].xml.
type zipPart struct{ name, contentType, body string }

// officeZip assembles an Office Open XML package: [Content_Types].xml first
// (as Office writes it, and as type detectors expect), the package
// relationships, the main part and any extra parts.
func officeZip(mainPart, mainType, mainBody string, extra []zipPart) []byte {
	types := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/` + mainPart + `" ContentType="` + mainType + `"/>`
	for _, p := range extra {
		if p.contentType != "" {
			types += `<Override PartName="/` + p.name + `" ContentType="` + p.contentType + `"/>`
		}
	}
	types += `</Types>`
	rels := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="` + mainPart + `"/></Relationships>`
	parts := append([]zipPart{{"[Content_Types].xml", "", types}, {"_rels/.rels", "", rels}, {mainPart, "", mainBody}}, extra...)
	return zipOf(parts)
}

func zipOf(parts []zipPart) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, p := range parts {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Deflate})
		if err != nil {
			panic("samples: zip " + p.name + ": " + err.Error()) // cannot happen writing to memory
		}
		if _, err := w.Write([]byte(p.body)); err != nil {
			panic("samples: zip " + p.name + ": " + err.Error())
		}
	}
	if err := zw.Close(); err != nil {
		panic("samples: close zip: " + err.Error())
	}
	return b.Bytes()
}
